"""The hf backend against the Hub emulator's fault switches (issue 4: faults; DESIGN §5, §6, §9).

Each test drives the real service over the real huggingface_hub client; the emulator answers the
faults and runs jobs and Spaces locally.
"""

from __future__ import annotations

import pytest

from space_factory.backends.hf.spaces import HARDWARE_ATTEMPTS
from space_factory.domain.errors import FactoryError, RunNotFound
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.phases import RunStatus
from space_factory.domain.schemas import RunState
from space_factory.domain.stages import JobStage
from space_factory.service import Factory
from tests.hub_emulator.faults import BAD_REQUIREMENT
from tests.hub_emulator.fixtures import ALICE, BOB, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.support import runs
from tests.support.waiting import wait_until
from tests.tools.helpers import write_run

pytestmark = pytest.mark.e2e
MISSING = "factory-test/not-on-the-hub"
RUN_TIMEOUT = 300.0


def wait_terminal(factory: Factory, run_id: str) -> RunState:
    """`tests.support.runs.wait_terminal` with the time a build on the emulator may take."""
    return runs.wait_terminal(factory, run_id, RUN_TIMEOUT)


def test_a_500_on_job_creation_is_retried_and_starts_exactly_one_job(hub: HubEmulator) -> None:
    """Issue 4: a 500 then success on job creation; the retry first looks the job up by its run label."""
    factory = hf_factory(ALICE.token)
    hub.fail("POST", r"^/api/jobs/alice$", 500, times=1)
    state = factory.launch(MISSING)
    assert state.status is not RunStatus.FAILED and state.job.id
    posts = [r for r in hub.hub_requests() if r.method == "POST" and r.path == "/api/jobs/alice"]
    assert [r.status for r in posts] == [500, 200]
    jobs = [j for j in hub.jobs.values() if j.spec["labels"].get("space-factory-run") == state.run_id]
    assert len(jobs) == 1
    final = wait_terminal(factory, state.run_id)
    assert final.status is RunStatus.FAILED and "model not found" in (final.error or "")


def test_rate_limited_status_reads_answer_the_last_state_marked_stale(hub: HubEmulator) -> None:
    """Issue 4: 429 on status reads → the client backs off, then a `stale` view instead of an error."""
    factory = hf_factory(ALICE.token)
    run_id = factory.launch(MISSING).run_id
    first = factory.run_status(run_id)
    assert first.stale is False
    hub.fail("GET", r"/resolve/runs/.*/state\.json$", 429, times=100)
    view = factory.run_status(run_id)
    assert view.stale is True and view.state.run_id == run_id and view.events == []
    tries = [r for r in hub.hub_requests() if r.path.endswith("/state.json") and r.status == 429]
    assert len(tries) > 1  # the client's own backoff retried before we answered stale
    hub.clear()
    assert wait_terminal(factory, run_id).status is RunStatus.FAILED


def test_a_401_on_a_hardware_change_is_manual_action_after_exactly_one_attempt(hub: HubEmulator) -> None:
    """DESIGN §6: 401/403 → manual_action_required, no retry; 402 → billing_required; 429 → rate_limited."""
    host = hf_factory(ALICE.token).backend.spaces
    space_id = "alice/hardware-outcomes"
    host.create(space_id, hardware="cpu-basic")
    hub.fail("POST", r"/hardware$", 401, times=10)
    outcome, detail = host.request_hardware(space_id, "t4-small")
    assert outcome == HardwareOutcome.MANUAL_ACTION_REQUIRED.value and "settings" in detail
    assert len([r for r in hub.hub_requests() if r.path.endswith("/hardware")]) == 1
    hub.clear()
    hub.fail("POST", r"/hardware$", 402, times=10)
    assert host.request_hardware(space_id, "t4-small")[0] == HardwareOutcome.BILLING_REQUIRED.value
    hub.clear()
    hub.fail("POST", r"/hardware$", 429, times=10)
    assert host.request_hardware(space_id, "t4-small")[0] == HardwareOutcome.RATE_LIMITED.value
    assert len([r for r in hub.hub_requests() if r.path.endswith("/hardware")]) == HARDWARE_ATTEMPTS
    hub.clear()
    assert host.request_hardware(space_id, "t4-small")[0] == HardwareOutcome.REQUESTED.value


def test_request_hardware_on_a_run_records_manual_action_after_one_attempt(hub: HubEmulator) -> None:
    """DESIGN §6 through the service (the request_hardware tool's path): the outcome is recorded, not raised."""
    factory = hf_factory(ALICE.token)
    space_id = "alice/hardware-of-a-run"
    factory.backend.spaces.create(space_id, hardware="cpu-basic")
    run_id = write_run(factory, space_id=space_id)
    hub.fail("POST", r"/hardware$", 403, times=10)
    view = factory.request_hardware(run_id, "t4-small", confirm_cost=True)
    assert view.outcome is HardwareOutcome.MANUAL_ACTION_REQUIRED
    assert len([r for r in hub.hub_requests() if r.path.endswith("/hardware")]) == 1
    recorded = factory.backend.bucket.read(f"runs/{run_id}/hardware_requests.jsonl") or b""
    assert b"manual_action_required" in recorded


def test_canceling_a_run_cancels_its_job_and_pauses_its_space(hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    """DESIGN §7 cancel_run on the hf backend: the job is canceled on the Hub and the run ends canceled."""
    factory = hf_factory(ALICE.token)
    run_id = factory.launch(tiny_models["tiny-gpt2"]).run_id
    wait_until(lambda: factory.run_status(run_id).state.phase.value not in ("queued", "starting"), RUN_TIMEOUT,
               "the worker to start the build")
    state = factory.cancel(run_id)
    assert state.status is RunStatus.CANCELED and factory.gate(run_id).status is GateStatus.CANCELED
    job = hub.jobs[state.job.id or ""]
    wait_until(lambda: job.stage is JobStage.CANCELED, 30, lambda: f"the job to be canceled (still {job.stage})")
    assert any(r.path.endswith("/cancel") for r in hub.hub_requests())


def test_a_job_that_errors_mid_run_fails_the_run_with_the_jobs_reason(hub: HubEmulator,
                                                                     tiny_models: dict[str, str]) -> None:
    """DESIGN §5: a job that died without a terminal state → the run reads failed with the job's message."""
    factory = hf_factory(ALICE.token)
    hub.job_faults['"phase":"generating"'] = "Job failed: out of memory (emulated)"
    state = wait_terminal(factory, factory.launch(tiny_models["tiny-gpt2"]).run_id)
    assert state.status is RunStatus.FAILED
    assert "out of memory (emulated)" in (state.error or "") and state.job.stage == "ERROR"


def test_a_job_that_errors_without_a_reason_fails_the_run_with_its_last_log_line(
        hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    """DESIGN §5: with no message from the Hub, the job's own last output line (fetch_job_logs) is the reason."""
    factory = hf_factory(ALICE.token)
    hub.job_faults['"phase":"generating"'] = ""
    state = wait_terminal(factory, factory.launch(tiny_models["tiny-gpt2"]).run_id)
    assert state.status is RunStatus.FAILED and state.job.stage == "ERROR"
    assert any(r.path.endswith("/logs") for r in hub.hub_requests())
    job = hub.jobs[state.job.id or ""]
    last = [line for line in (job.folder / "job.log").read_text().splitlines() if line.strip()][-1]
    assert last[:300] in (state.error or "")  # the job's own last line, not a generic "ended" text


def test_a_job_that_runs_out_of_time_fails_the_run_with_the_timeout(hub: HubEmulator,
                                                                     tiny_models: dict[str, str]) -> None:
    """Issue 4: jobs get an explicit timeout; a job that hits it makes the run failed, with the Hub's reason."""
    factory = hf_factory(ALICE.token, job_timeout="2s")
    state = wait_terminal(factory, factory.launch(tiny_models["tiny-gpt2"]).run_id)
    assert state.status is RunStatus.FAILED and "Job timeout" in (state.error or "")
    job = next(j for j in hub.jobs.values() if j.spec["labels"].get("space-factory-run") == state.run_id)
    assert job.spec["timeoutSeconds"] == 2


def test_a_space_build_error_gates_build_failed_with_the_build_log(hub: HubEmulator,
                                                                   tiny_models: dict[str, str]) -> None:
    """DESIGN §6: a Space that never builds → build_failed, with its build log in the record."""
    factory = hf_factory(ALICE.token)
    hub.space_build_error = True
    state = wait_terminal(factory, factory.launch(tiny_models["tiny-bert-cls"]).run_id)
    assert state.status is RunStatus.FINISHED and state.gate_status is GateStatus.BUILD_FAILED
    build_log = factory.trace(state.run_id, "space_build").text
    assert BAD_REQUIREMENT in build_log
    assert factory.gate(state.run_id).status is GateStatus.BUILD_FAILED


def test_a_second_user_sees_neither_the_first_users_runs_nor_their_bucket(hub: HubEmulator) -> None:
    """DESIGN §9: runs are per owner; another user's bucket is not even readable."""
    alice = hf_factory(ALICE.token)
    run_id = alice.launch(MISSING).run_id
    bob = hf_factory(BOB.token)
    assert bob.backend.owner == "bob" and all(s.run_id != run_id for s in bob.list_runs())
    with pytest.raises(RunNotFound):
        bob.state(run_id)
    with pytest.raises(FactoryError):
        hf_factory(BOB.token, bucket="alice/space-factory-runs")
    leaked = [r for r in hub.hub_requests() if r.user == "bob" and "/alice/" in r.path and r.status < 400]
    assert leaked == []
    wait_terminal(alice, run_id)
