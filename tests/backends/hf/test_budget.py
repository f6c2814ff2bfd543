"""The Hub's request budget (issue 13 point 2): refused reads retried within bounds, every request counted per
token, and the loops that poll the Hub spaced out.

The transport tests drive huggingface_hub's real shared client over an in-test `httpx2.MockTransport`; the loop
tests run the worker's build wait and health check on a simulated clock.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import huggingface_hub.constants
import pytest
from huggingface_hub import HfApi
from huggingface_hub.utils import http_backoff

from space_factory.backends.base import Backend, SpaceRuntime
from space_factory.backends.hf import budget
from space_factory.backends.hf.spaces import HfSpaceHost
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.config import Settings
from space_factory.domain.errors import RateLimited
from space_factory.domain.phases import Phase
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import RunRequest, RunState
from space_factory.domain.stages import SpaceStage
from space_factory.domain.targets import parse_app_url
from space_factory.record import RunRecord
from space_factory.worker import checkup, pipeline
from space_factory.worker.origin import pin_app
from tests.support.ports import free_port
from tests.support.tokens import fake_token

ENDPOINT = "https://hub.test"
RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"
RUNTIME = {"stage": "BUILDING", "hardware": {"current": None, "requested": "cpu-basic"}}


class Answers:
    """A scripted Hub: each request gets the next answer of its path's script (the last one repeats)."""

    def __init__(self, script: list[httpx2.Response]) -> None:
        self.script = script
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.script[min(len(self.requests), len(self.script)) - 1]


@pytest.fixture
def hub_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Point huggingface_hub at the scripted Hub (set `answers.script` via `install_answers`); yields the sleeps."""
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    sleeps: list[float] = []
    monkeypatch.setattr(budget.BudgetTransport, "__init__", _recording_init(sleeps))
    budget.LEDGER.reset()
    try:
        yield sleeps
    finally:
        monkeypatch.undo()
        budget.install()


def _recording_init(sleeps: list[float]) -> Any:
    original = budget.BudgetTransport.__init__

    def init(self: budget.BudgetTransport, inner: httpx2.BaseTransport, ledger: budget.RequestLedger = budget.LEDGER,
             sleep: Any = None) -> None:
        original(self, inner, ledger, sleeps.append)

    return init


def serve(*answers: httpx2.Response) -> Answers:
    scripted = Answers(list(answers))
    budget.install(httpx2.MockTransport(scripted))
    return scripted


def limited(retry_after: str = "2") -> httpx2.Response:
    return httpx2.Response(429, json={"error": "rate limited"}, headers={"Retry-After": retry_after})


def test_a_rate_limited_read_is_retried_after_the_hubs_retry_after(hub_client: list[float]) -> None:
    answers = serve(limited("2"), limited("3"), httpx2.Response(200, json=RUNTIME))
    runtime = HfSpaceHost(HfApi(endpoint=ENDPOINT), fake_token()).runtime("alice/demo")
    assert runtime.stage == SpaceStage.BUILDING
    assert len(answers.requests) == 3 and hub_client == [2.0, 3.0]
    usage = budget.LEDGER.usage()
    assert usage.total == 3 and usage.rate_limited == 2 and usage.retried == 2
    assert usage.by_route == {"GET /api/spaces/runtime": 3}


def test_a_read_still_refused_after_the_bounded_retries_is_rate_limited(hub_client: list[float]) -> None:
    answers = serve(limited("0"))
    with pytest.raises(RateLimited):
        HfSpaceHost(HfApi(endpoint=ENDPOINT), fake_token()).runtime("alice/demo")
    assert len(answers.requests) == budget.READ_ATTEMPTS


def test_server_errors_on_reads_back_off_and_writes_are_never_resent(hub_client: list[float]) -> None:
    answers = serve(httpx2.Response(503), httpx2.Response(502), httpx2.Response(200, json=RUNTIME))
    HfSpaceHost(HfApi(endpoint=ENDPOINT), fake_token()).runtime("alice/demo")
    assert hub_client == [1.0, 2.0]  # no Retry-After: 1 s, then 2 s
    answers = serve(httpx2.Response(503))
    with pytest.raises(Exception):  # noqa: B017 - whichever error the client raises for a failed POST
        HfApi(endpoint=ENDPOINT).pause_space("alice/demo", token=fake_token())
    assert len(answers.requests) == 1


def test_a_wait_longer_than_the_ceiling_is_left_to_the_caller(hub_client: list[float]) -> None:
    answers = serve(limited(str(int(budget.MAX_RETRY_WAIT_SECONDS) + 60)))
    with pytest.raises(RateLimited):
        HfSpaceHost(HfApi(endpoint=ENDPOINT), fake_token()).runtime("alice/demo")
    assert len(answers.requests) == 1 and hub_client == []


def test_calls_huggingface_hub_retries_itself_are_not_retried_twice(hub_client: list[float],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    answers = serve(limited("0"))
    monkeypatch.setattr(time, "sleep", lambda _s: None)  # http_backoff's own waits
    response = None
    with pytest.raises(Exception):  # noqa: B017 - http_backoff raises the 429 once it gives up
        response = http_backoff("GET", f"{ENDPOINT}/api/buckets/alice/b/tree", max_retries=2)
    assert response is None and len(answers.requests) == 3  # its 3 attempts, none multiplied by ours


def test_requests_are_counted_per_token_and_no_token_is_kept(hub_client: list[float]) -> None:
    serve(httpx2.Response(200, json={"name": "alice"}))
    first, second = fake_token(), fake_token()
    api = HfApi(endpoint=ENDPOINT)
    for token in (first, first, second):
        api.whoami(token=token)
    assert budget.LEDGER.usage(first).total == 2 and budget.LEDGER.usage(second).total == 1
    assert budget.LEDGER.usage().total == 3
    assert first not in repr(budget.LEDGER.__dict__) and second not in repr(budget.LEDGER.__dict__)
    assert "3 Hub requests" in budget.LEDGER.usage().summary()


def test_retry_waits_follow_the_hubs_headers() -> None:
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 18 <= budget.retry_wait(httpx2.Headers({"Retry-After": later}), 1) <= 21
    ratelimit = httpx2.Headers({"RateLimit": '"api";r=0;t=42', "RateLimit-Policy": '"fixed window";"api";q=1000;w=300'})
    assert budget.retry_wait(ratelimit, 1) == 42.0
    assert budget.retry_wait(httpx2.Headers({}), 3) == 4.0
    assert budget.route_of("GET", "/api/jobs/alice/abc123") == "GET /api/jobs/{id}"
    assert budget.route_of("GET", "/buckets/alice/b/resolve/runs/x/state.json") == "GET /buckets/resolve"
    assert budget.route_of("POST", "/api/buckets/alice/b/batch") == "POST /api/buckets/batch"


# -- the loops ---------------------------------------------------------------------------------------------


class Clock:
    """A simulated clock for `time.monotonic` / `time.sleep` in the module under test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class BuildingSpaces:
    """A Space host whose Space builds for `build_seconds` of the simulated clock, counting runtime reads."""

    def __init__(self, clock: Clock, build_seconds: float, limited_at: set[int] | None = None) -> None:
        self.clock, self.ready_at, self.reads = clock, clock.now + build_seconds, 0
        self.limited_at = limited_at or set()

    def runtime(self, space_id: str) -> SpaceRuntime:
        self.reads += 1
        if self.reads in self.limited_at:
            raise RateLimited("read the runtime")
        if self.clock.now < self.ready_at:
            return SpaceRuntime(space_id, SpaceStage.BUILDING)
        return SpaceRuntime(space_id, SpaceStage.RUNNING, url="http://127.0.0.1:1/")


def build_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spaces: BuildingSpaces, clock: Clock) -> SpaceRuntime:
    monkeypatch.setattr(pipeline, "time", SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep))
    record = RunRecord(DirectoryBucket(tmp_path), RUN_ID)
    record.write_state(RunState(run_id=RUN_ID, model="m/x", owner="alice", backend="hf"))
    request = RunRequest(run_id=RUN_ID, model="m/x", owner="alice", backend="hf")
    backend = Backend(name="hf", owner="alice", bucket=record.bucket, jobs=None, spaces=spaces,  # type: ignore[arg-type]
                      models=None)  # type: ignore[arg-type]
    settings = Settings(space_startup_timeout=900)
    work = pipeline.Pipeline(record, request, backend, settings, Redactor())
    return work.wait_for_build(SpaceRuntime("alice/demo", SpaceStage.BUILDING))


@pytest.mark.parametrize("minutes", [1, 5, 10])
def test_a_build_wait_costs_about_a_dozen_runtime_reads_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  minutes: int) -> None:
    """Before issue 13: one read every 0.5 s (120 a minute, 600 for a 5-minute build). Now: 12 a minute at most."""
    clock = Clock()
    spaces = BuildingSpaces(clock, minutes * 60)
    assert build_wait(tmp_path, monkeypatch, spaces, clock).stage == SpaceStage.RUNNING
    before = int(minutes * 60 / 0.5)
    per_minute = spaces.reads / minutes
    print(f"\n[budget] a {minutes}-minute build wait: {spaces.reads} runtime reads ({per_minute:.1f}/min); "
          f"before issue 13: {before} ({before / minutes:.0f}/min)")
    assert spaces.reads <= 60 / pipeline.BUILD_POLL_CEILING_SECONDS * minutes + 8


def test_a_rate_limited_read_during_the_build_wait_waits_then_goes_on(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    spaces = BuildingSpaces(clock, 120, limited_at={3, 4})
    started = clock.now
    assert build_wait(tmp_path, monkeypatch, spaces, clock).stage == SpaceStage.RUNNING
    assert clock.now - started >= 120
    events = RunRecord(DirectoryBucket(tmp_path), RUN_ID).events()
    assert sum("rate-limiting" in e.message for e in events) == 2 and events[-1].phase is Phase.BUILDING


def test_the_health_check_asks_the_space_host_at_most_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """`/health` is the app's (polled every 0.5 s); whether the Space crashed is a Hub read (every 5 s)."""
    clock = Clock()
    monkeypatch.setattr(checkup, "time", SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep))
    asked: list[float] = []

    def crash_reason() -> str | None:
        asked.append(clock.now)
        return None

    app = pin_app(parse_app_url(f"http://127.0.0.1:{free_port()}/"), loopback_only=True)
    result = checkup.check_health(app, timeout=60, crash_reason=crash_reason)
    assert not result.ok and result.attempts >= 100
    assert len(asked) <= 60 / checkup.CRASH_CHECK_SECONDS + 1
