"""SIGKILL of the local worker in every phase it passes through (issue 8, faults): the run ends `failed` with the
signal named, the Space it started (if any) is stopped, no process is left, every record file is valid JSON.

The worker is killed exactly in the phase: a test-only sitecustomize (tests/reliability/site) makes the real worker
stop itself (SIGSTOP) right after it recorded the phase, and the test then sends SIGKILL. `requesting_hardware` is
not among the phases: a local build on CPU never asks for hardware.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.stages import ACTIVE_SPACE_STAGES
from tests.reliability.checks import assert_settled, freeze_at, job_pid, kill, wait_frozen_worker
from tests.support.processes import end_factory_processes
from tests.support.runs import wait_terminal

pytestmark = pytest.mark.e2e
WORKER_PHASES = [Phase.STARTING, Phase.ANALYZING, Phase.RECOMMENDING, Phase.GENERATING, Phase.CREATING_SPACE,
                 Phase.UPLOADING, Phase.BUILDING, Phase.VALIDATING_HEALTH, Phase.VALIDATING_API, Phase.GATING,
                 Phase.REPORTING]
FREEZE_TIMEOUT = 240  # the first Space of the module makes its venv


@pytest.mark.parametrize("phase", WORKER_PHASES, ids=[p.value for p in WORKER_PHASES])
def test_sigkill_of_the_worker_in_each_phase_fails_the_run_and_stops_its_space(
        tiny_models: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch,
        phase: Phase) -> None:
    factory = freeze_at(monkeypatch, home, phase)
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    try:
        pid = wait_frozen_worker(factory, run_id, FREEZE_TIMEOUT)
        assert factory.state(run_id).phase is phase
        kill(pid)
        state = wait_terminal(factory, run_id, 60)
        assert state.status is RunStatus.FAILED and "SIGKILL" in (state.error or ""), state
        if state.space.id:
            assert state.space.stage not in ACTIVE_SPACE_STAGES, state.space  # stopped, not left to come up
        assert factory.gate_or_progress(run_id).gate is None
        assert_settled(factory, state)
    finally:
        end_factory_processes(home)


def test_sigkill_of_the_job_process_while_its_worker_builds_fails_the_run_and_ends_the_worker(
        tiny_models: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job process (the worker's parent, which records its exit) dies instead: the run must still settle."""
    factory = freeze_at(monkeypatch, home, Phase.BUILDING)
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    try:
        worker = wait_frozen_worker(factory, run_id, FREEZE_TIMEOUT)
        job = job_pid(factory, run_id)
        assert job is not None
        kill(job)
        kill(worker, signal.SIGCONT)  # the orphaned worker would go on building: the reconcile must end it
        state = wait_terminal(factory, run_id, 60)
        assert state.status is RunStatus.FAILED, state
        assert_settled(factory, state)
    finally:
        end_factory_processes(home)
