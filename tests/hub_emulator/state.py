"""What the emulated Hub holds, shared by its routers: users, buckets, jobs, Spaces, models and the request log.

- Users: whoami by token, one namespace each (`isPro` / `canPay` / `emailVerified` per user; `kind` "app" answers
  an app token's whoami, `scopes` an OAuth token's granted scopes).
- Buckets: plain directories under `root/buckets/` (so a job's bucket volume is that directory, read-write).
- Jobs: `jobs.JobRunner` runs them as local processes.
- Spaces: the local backend's `LocalSpaceHost` runs them; `spaces` holds the Hub's side of each (hardware,
  visibility).
- Models: read-only, from an HF cache directory (the tiny models the tests build).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from space_factory.backends.local.spaces import LocalSpaceHost, factory_env
from tests.hub_emulator.faults import FaultSwitches
from tests.hub_emulator.jobs import EmulatedJob, JobRunner
from tests.hub_emulator.mount import JobMount, MountRequest
from tests.hub_emulator.proxy import SpaceProxies


@dataclass
class User:
    name: str
    token: str
    is_pro: bool = True
    can_pay: bool = True
    email_verified: bool = True
    kind: str = "user"  # "app": whoami answers as for an app token acting for this user (no isPro / canPay)
    scopes: tuple[str, ...] | None = None  # an OAuth token's granted scopes; None for an access token


@dataclass
class Logged:
    """One request as the emulator received it, and the status it answered."""

    method: str
    path: str
    user: str | None
    body: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class HubState:
    """The emulated Hub's data.

    Args:
        root: where buckets, jobs, Spaces and Space repos live.
        models_cache: the HF cache the models are served from.
        users: who may call, by token.
        url: the emulator's own URL (a job's HF_ENDPOINT, the base of the URLs it answers).
    """

    def __init__(self, root: Path, models_cache: Path, users: list[User], url: str) -> None:
        self.root = root
        self.models_cache = models_cache
        self.users = {u.token: u for u in users}
        self.url = url
        self.faults = FaultSwitches()
        self.requests: list[Logged] = []
        self.jobs: dict[str, EmulatedJob] = {}
        self.spaces: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        space_env = factory_env()
        # No PIP_NO_INDEX for Spaces: a Space build reaches the package index, as the Hub's does, since its
        # gradio[mcp] needs mcp 1, which no local wheel provides (docs/architecture.md, "Every Space is an MCP server").
        space_env.update({"HF_HUB_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        space_env.pop("HF_ENDPOINT", None)
        self.space_host = LocalSpaceHost(root / "spaces", root / "venvs", space_env)
        self.proxies = SpaceProxies()
        self.runner = JobRunner(url, root / "jobs", self.volume_dir,
                                lambda job: self.faults.job_error(job, self.bucket_dir), self.job_mount)

    def user_of(self, request: Request) -> User | None:
        """The user whose token the request bears, if the emulator knows it."""
        auth = request.headers.get("authorization", "")
        return self.users.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None

    def log(self, entry: Logged) -> None:
        with self.lock:
            self.requests.append(entry)

    def job_mount(self, job: EmulatedJob, volume: dict[str, Any], local: Path) -> JobMount:
        """The emulated hf-mount of a job's bucket volume (`mount.py`), as the mount switch is now."""
        return JobMount(self.faults.mount, job.folder, local, str(volume["source"]), job.owner, self.log_mount)

    def log_mount(self, request: MountRequest) -> None:
        """A request a job's mount made to the Hub: logged, and charged to the job's user like any other."""
        over = self.faults.budget.charge(request.user)
        self.log(Logged(request.method, request.path, request.user, b"", status=429 if over is not None else 200,
                        headers={"user-agent": "hf-mount (emulated)"}))

    def bucket_dir(self, ns: str, name: str) -> Path:
        return self.root / "buckets" / ns / name

    def volume_dir(self, owner: str, volume: dict[str, Any]) -> Path:
        """The directory a job of `owner` gets for a volume spec.

        Raises:
            PermissionError: not a bucket, or not one of `owner`'s.
        """
        if volume.get("type") != "bucket":
            raise PermissionError(f"the emulator mounts only buckets, not {volume.get('type')}")
        ns, _, name = str(volume["source"]).partition("/")
        folder = self.bucket_dir(ns, name)
        if ns != owner or not folder.is_dir():
            raise PermissionError(f"bucket {volume['source']} is not accessible to {owner}")
        return folder / volume["path"] if volume.get("path") else folder

    def end_jobs_and_spaces(self) -> None:
        """End every job and stop every Space: nothing the emulator started keeps running."""
        self.runner.stop_all(list(self.jobs.values()))
        for space_id in list(self.spaces):
            self.space_host.stop(space_id)
        self.proxies.stop_all()


def hub_state(request: Request) -> HubState:
    """The dependency every route reads the emulated Hub's data through."""
    state: HubState = request.app.state.hub
    return state


Hub = Annotated[HubState, Depends(hub_state)]
