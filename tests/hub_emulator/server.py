"""A loopback Hugging Face Hub for tests: the routes hf-apis.md §7 lists, for the calls the hf backend makes.

The routers (`routes/`) answer per noun over the shared `state.HubState`; `faults.py` holds the switches a
test turns on. Every request is logged (`hub_requests()`) with its method, path, user, body and the status
it got, for assertions.
"""

from __future__ import annotations

import email.utils
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.hub_emulator.answers import HubError, answer_hub_error
from tests.hub_emulator.budget import RequestBudget
from tests.hub_emulator.faults import Fault
from tests.hub_emulator.jobs import EmulatedJob
from tests.hub_emulator.mount import MountSwitch
from tests.hub_emulator.ranges import ObjectAnswers
from tests.hub_emulator.routes import auth, buckets, jobs, models, space_settings, spaces
from tests.hub_emulator.rules import HubRules
from tests.hub_emulator.state import HubState, Logged, User
from tests.support.listening import ListeningServer
from tests.support.ports import free_port

# Mount order is match order: the models' catch-all `/{ns}/{name}/resolve/…` must come after the buckets'.
ROUTERS = (auth.router, buckets.router, jobs.router, spaces.router, space_settings.router, models.router)
_START_TIMEOUT = 20.0


async def _log_and_inject_faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Log every request; answer it with a switched-on fault, else pass it to the routers."""
    hub: HubState = request.app.state.hub
    body = await request.body()
    user = hub.user_of(request)
    entry = Logged(request.method, request.url.path, user.name if user else None, body,
                   headers={k.lower(): v for k, v in request.headers.items()})
    hub.log(entry)
    fault = hub.faults.take(request.method, request.url.path)
    # The per-token budget (budget.py): the xet side channel is the test double's, not a Hub request.
    over = None if user is None or request.url.path.startswith("/__fake_cas__") else hub.faults.budget.charge(user.name)
    if fault is not None:
        response: Response = JSONResponse({"error": f"emulated fault {fault.status}"}, status_code=fault.status,
                                          headers={"Retry-After": "0"} if fault.status == 429 else {})
    elif over is not None:
        response = JSONResponse({"error": "You have exceeded our rate limit (emulated budget)"}, status_code=429,
                                headers=hub.faults.budget.refusal_headers(over))
    else:
        response = await call_next(request)
    entry.status = response.status_code
    response.headers["Date"] = email.utils.formatdate(usegmt=True)  # exact, for SSE cut-offs (§1.4)
    return response


def _unknown(rest: str) -> Any:
    raise HubError(404, f"the Hub emulator does not implement /{rest}")


def build_app(hub: HubState) -> FastAPI:
    """The emulator's ASGI app over `hub`."""
    app = FastAPI()
    app.state.hub = hub
    app.middleware("http")(_log_and_inject_faults)
    app.exception_handler(HubError)(answer_hub_error)
    for router in ROUTERS:
        app.include_router(router)
    app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])(_unknown)
    return app


class HubEmulator:
    """Start with `start()`, stop with `stop()`; `url` is the HF_ENDPOINT to use.

    The attributes tests read and set (`jobs`, `spaces`, `root`, `job_faults`, `space_build_error`) are the
    shared state's and the fault switches'.
    """

    def __init__(self, root: Path, models_cache: Path, users: list[User]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = HubState(root, models_cache, users, self.url)
        self.app = build_app(self.state)
        self._server: ListeningServer | None = None
        self._thread: threading.Thread | None = None

    # -- the state and switches tests use -------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.state.root

    @property
    def jobs(self) -> dict[str, EmulatedJob]:
        return self.state.jobs

    @property
    def spaces(self) -> dict[str, dict[str, Any]]:
        return self.state.spaces

    @property
    def job_faults(self) -> dict[str, str]:
        return self.state.faults.job_faults

    @property
    def space_build_error(self) -> bool:
        return self.state.faults.space_build_error

    @space_build_error.setter
    def space_build_error(self, on: bool) -> None:
        self.state.faults.space_build_error = on

    @property
    def mount(self) -> MountSwitch:
        """How jobs' bucket volumes behave (`mount.py`); set its fields before launching."""
        return self.state.faults.mount

    @property
    def budget(self) -> RequestBudget:
        """The per-token request budget (`budget.py`)."""
        return self.state.faults.budget

    @property
    def objects(self) -> ObjectAnswers:
        """How bucket objects are answered (`ranges.py`)."""
        return self.state.faults.objects

    @property
    def rules(self) -> HubRules:
        """The Hub's strictness about cards, Spaces, models, plans and tokens (`rules.py`); on by default."""
        return self.state.faults.rules

    def fail(self, method: str, path_regex: str, status: int, times: int = 1) -> Fault:
        """Answer the next `times` requests matching `method` ("*" for any) and `path_regex` with `status`."""
        return self.state.faults.fail(method, path_regex, status, times)

    def clear(self) -> None:
        """Switch every fault off and forget the logged requests."""
        self.state.faults.clear()
        with self.state.lock:
            self.state.requests.clear()

    def hub_requests(self) -> list[Logged]:
        """The logged requests a Hub client made (the xet side channel excluded)."""
        with self.state.lock:
            return [r for r in self.state.requests if not r.path.startswith("/__fake_cas__")]

    def end_jobs_and_spaces(self) -> None:
        """End every job and stop every Space the emulator started (between tests; the server keeps running)."""
        self.state.end_jobs_and_spaces()

    # -- the server -----------------------------------------------------------------------------

    def start(self) -> HubEmulator:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", date_header=False)
        self._server = ListeningServer(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="hub-emulator")
        self._thread.start()
        if not self._server.listening.wait(_START_TIMEOUT):
            raise RuntimeError("the Hub emulator did not start")
        return self

    def stop(self) -> None:
        """End every job and Space, then the server."""
        self.end_jobs_and_spaces()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(_START_TIMEOUT)
