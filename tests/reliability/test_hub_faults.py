"""Faults of the Hub, on the loopback emulator (issue 8, faults): 5xx and 429 storms, a job timeout, a failed bucket
write. Each ends in the right terminal state (or a clear error and nothing half made), a run's Space is not left
up by a run that failed, and every record file in the user's bucket is valid JSON.

The emulator's public switches only: `hub.fail(method, path_regex, status, times)` and `hub.job_faults`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from space_factory.domain.errors import FactoryError
from space_factory.domain.layout import RUNS_PREFIX
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.schemas import BuildOptions
from space_factory.domain.stages import ACTIVE_SPACE_STAGES
from space_factory.service import Factory
from tests.hub_emulator.fixtures import ALICE, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.reliability.checks import TALLY, readable_runs, record_files_valid
from tests.support.runs import wait_terminal
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e
BUILD_TIMEOUT = 600
BATCH = r"^/api/buckets/alice/space-factory-runs/batch$"
WRITE_ATTEMPTS = 6  # huggingface_hub retries a 5xx five times
SERVER_READS = r"^/(api/)?buckets/alice/|^/api/jobs/alice/"  # what a status poll reads; the worker writes a mount


def alice(**settings: object) -> Factory:
    return hf_factory(ALICE.token, job_settle_seconds=1, **settings)


def bucket_dir(hub: HubEmulator) -> Path:
    return hub.root / "buckets" / "alice" / "space-factory-runs"


def settled(hub: HubEmulator, factory: Factory) -> None:
    """Every record file is whole and every run reads back; counts one fault survived."""
    TALLY.records_checked += record_files_valid(bucket_dir(hub))
    assert readable_runs(factory, factory.backend.bucket.list(RUNS_PREFIX)) == 0
    TALLY.faults_survived += 1


def space_down(factory: Factory, space_id: str | None) -> bool:
    return not space_id or factory.backend.spaces.runtime(space_id).stage not in ACTIVE_SPACE_STAGES


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_storm_on_job_creation_fails_the_run_with_a_clear_error(hub: HubEmulator, status: int) -> None:
    factory = alice()
    hub.fail("POST", r"^/api/jobs/alice$", status, times=50)
    state = factory.launch("nobody/not-in-the-cache")
    assert state.status is RunStatus.FAILED and "could not start the job" in (state.error or ""), state
    assert "internal error" not in (state.error or "") and ALICE.token not in (state.error or "")
    assert factory.state(state.run_id).status is RunStatus.FAILED and not state.space.id
    settled(hub, factory)


def test_storms_on_status_reads_during_a_build_never_break_the_run(hub: HubEmulator,
                                                                    tiny_models: dict[str, str]) -> None:
    """503 and 429 on every bucket and job read a poll makes: each poll answers (maybe stale) or is a clear
    FactoryError; the build itself goes on, and once the storm passes the run finishes with its gate."""
    factory = alice()
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    wait_until(lambda: factory.state(run_id).phase not in (Phase.QUEUED,), BUILD_TIMEOUT, "the worker to start")
    answered = refused = 0
    for status in (503, 429):
        hub.fail("GET", SERVER_READS, status, times=30)
        for _ in range(6):
            try:
                factory.run_status(run_id)
                answered += 1
            except FactoryError as exc:  # anything else (a crash) fails the test
                assert ALICE.token not in str(exc)
                refused += 1
        hub.clear()
    assert answered + refused == 12
    state = wait_terminal(factory, run_id, BUILD_TIMEOUT)
    assert state.status is RunStatus.FINISHED, (state, factory.trace(run_id).text[-2000:])
    assert factory.gate(run_id).status.value == "full_inference_passed"
    settled(hub, factory)


def test_a_job_timeout_during_the_build_fails_the_run_and_stops_its_space(hub: HubEmulator,
                                                                          tiny_models: dict[str, str]) -> None:
    """The emulator ends the job with "Job timeout" while its Space builds: the run fails, the Space is paused."""
    factory = alice()
    hub.job_faults["to build and start"] = "Job timeout"  # the event of the building phase
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    state = wait_terminal(factory, run_id, BUILD_TIMEOUT)
    assert state.status is RunStatus.FAILED and "Job timeout" in (state.error or ""), state
    assert state.space.id, state
    wait_until(lambda: space_down(factory, state.space.id), 60, "the Space to be stopped")
    events = [e.message for e in factory.run_status(run_id).events]
    assert any(m.startswith(f"stopped the Space {state.space.id}") for m in events), events[-5:]
    settled(hub, factory)


def test_a_real_job_timeout_fails_the_run(hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    """`job_timeout` reaches the Hub as the job's timeoutSeconds; the emulator enforces it."""
    factory = alice(job_timeout="3s")
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    state = wait_terminal(factory, run_id, BUILD_TIMEOUT)
    assert state.status is RunStatus.FAILED and "timeout" in (state.error or "").lower(), state
    wait_until(lambda: space_down(factory, factory.state(run_id).space.id), 60, "no Space left up")
    settled(hub, factory)


def test_a_bucket_write_that_fails_once_is_retried(hub: HubEmulator) -> None:
    factory = alice()
    hub.fail("POST", BATCH, 500, times=1)
    state = factory.launch("nobody/not-in-the-cache")
    assert factory.state(state.run_id).run_id == state.run_id
    assert wait_terminal(factory, state.run_id, BUILD_TIMEOUT).status in TERMINAL_STATUSES
    settled(hub, factory)


def test_a_failed_bucket_write_is_a_clear_error_and_nothing_is_half_made(hub: HubEmulator) -> None:
    """The first write of a launch (the idempotency claim) fails for good (every retry of huggingface_hub too):
    a clear error, no run, and the key is still free for the next launch."""
    factory = alice()
    before = set(factory.backend.bucket.list(RUNS_PREFIX))
    hub.fail("POST", BATCH, 500, times=WRITE_ATTEMPTS)
    with pytest.raises(FactoryError) as caught:
        factory.launch("nobody/not-in-the-cache", options=BuildOptions(idempotency_key="write-fault"))
    assert "HTTP 500" in str(caught.value) and ALICE.token not in str(caught.value)
    assert set(factory.backend.bucket.list(RUNS_PREFIX)) == before
    state = factory.launch("nobody/not-in-the-cache", options=BuildOptions(idempotency_key="write-fault"))
    assert state.run_id not in before
    final = wait_terminal(factory, state.run_id, BUILD_TIMEOUT)
    assert final.status in TERMINAL_STATUSES
    settled(hub, factory)


def test_a_failed_bucket_write_during_cancel_is_an_error_and_the_retry_cancels(
        hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    factory = alice()
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    hub.fail("POST", BATCH, 500, times=WRITE_ATTEMPTS)
    with pytest.raises(FactoryError):
        factory.cancel_run(run_id)
    outcome = factory.cancel_run(run_id)  # huggingface_hub's retries took ~23 s: the build may have finished
    state = wait_terminal(factory, run_id, 120)
    job = next(j for j in hub.jobs.values() if (j.spec.get("labels") or {}).get("space-factory-run") == run_id)
    wait_until(lambda: job.stage.value in ("CANCELED", "ERROR", "COMPLETED"), 60, "the job to end")
    if outcome.canceled:
        assert state.status is RunStatus.CANCELED and factory.gate(run_id).status.value == "canceled", state
        wait_until(lambda: space_down(factory, factory.state(run_id).space.id), 60, "no Space left up")
    else:  # it ended on its own first: its own gate stands, and a finished gate's Space is its deliverable
        assert state.status in TERMINAL_STATUSES and outcome.state.status is state.status, (state, outcome)
    settled(hub, factory)
