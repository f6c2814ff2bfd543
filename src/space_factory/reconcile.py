"""Ending a run that did not finish on its own: a job that died without a final state, and a cancel.

Both end the run for good (terminal statuses are sticky, `record.py`) and stop the Space a build run
created, so nothing the run started goes on serving unwatched. `Factory.state` reconciles; `Factory.cancel_run`
cancels.
"""

from __future__ import annotations

import logging

from space_factory.backends.base import Backend, JobStatus
from space_factory.domain import layout
from space_factory.domain.errors import FactoryError
from space_factory.domain.gate import GateEvidence, build_gate
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.phases import TERMINAL_STATUSES, RunStatus
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import Gate, RunState
from space_factory.domain.stages import JobStage
from space_factory.record import RunRecord

logger = logging.getLogger(__name__)


def write_canceled(record: RunRecord, why: str) -> RunState:
    """Mark the run `canceled`, with a canceled gate unless one was written; return the new state."""
    state = record.update_state(status=RunStatus.CANCELED, gate_status=GateStatus.CANCELED, error=None)
    if record.read_bytes(layout.GATE) is None:
        gate = build_gate(GateEvidence(canceled=True, space_id=state.space.id, space_url=state.space.url))
        record.write_model(layout.GATE, gate)
    record.append_event(state.phase, f"run canceled: {why}", level="warning")
    return state


def stop_run_space(backend: Backend, record: RunRecord, state: RunState, why: str) -> RunState:
    """Stop the Space a build run created, for a run that ended without finishing; return the new state.

    Only a build run's Space is the run's to stop: a validation run checks someone's app and never touches it.
    """
    space_id = state.space.id
    if state.mode != "build" or not space_id:
        return state
    try:
        stopped = backend.spaces.stop(space_id)
        runtime = backend.spaces.runtime(space_id)
    except (OSError, FactoryError):
        logger.warning("could not stop the Space %s of run %s", space_id, record.run_id)
        record.append_event(state.phase, f"could not stop the Space {space_id}; stop it from its settings page",
                            level="warning")
        return state
    if stopped:
        record.append_event(state.phase, f"stopped the Space {space_id}: {why}", level="warning",
                            data={"space_stage": runtime.stage})
    return record.update_state(force=True, space={"stage": runtime.stage, "url": runtime.url})


def ended_job(backend: Backend, redactor: Redactor, record: RunRecord, state: RunState, job: JobStatus) -> RunState:
    """End a run whose job is terminal and settled but whose state is not: `canceled` or `failed`."""
    fresh = record.state()  # the worker may have finished between our two reads
    if fresh is not None and fresh.status in TERMINAL_STATUSES:
        return fresh
    if job.stage == JobStage.CANCELED:
        return stop_run_space(backend, record, write_canceled(record, "the job was canceled"),
                              "its run's job was canceled")
    reason = job.message or f"the job ended ({job.stage}) without finishing the run"
    message = redactor.redact_text(f"job {job.id} ended without a final state: {reason}")
    try:
        # The job process may be gone while its worker still runs: end the whole job so nothing lingers.
        backend.jobs.cancel(job.id)
    except (OSError, FactoryError):
        logger.warning("could not end job %s after it failed", job.id)
    record.append_event(state.phase, message, level="error", data={"job_stage": job.stage})
    failed = record.update_state(status=RunStatus.FAILED, error=message, job={"stage": job.stage})
    # A Space the dead worker started goes on building and would serve, unwatched, for ever: stop it.
    return stop_run_space(backend, record, failed, "its run failed before a gate was written")


def cancel(backend: Backend, record: RunRecord, state: RunState) -> RunState:
    """Cancel a run still going: its state, then its job, then the Space it was building; return the end state.

    `record` is a guest (`RunRecord.as_guest`): the worker owns the run's logs until its job is stopped.
    """
    # Canceled first, so a worker that looks at its state stops writing; then stop the job and the Space.
    state = write_canceled(record, "canceled by request")
    if state.job.id:
        backend.jobs.cancel(state.job.id)
    # In every phase: a Space cut off mid-build would be left half made, one cut off mid-check would serve
    # unverified. Not once the worker has written its own gate: that Space is what the run delivered.
    delivered = record.read_model(layout.GATE, Gate)
    if delivered is None or delivered.status is GateStatus.CANCELED:
        state = stop_run_space(backend, record, state, "its run was canceled")
    # A bucket without locks (hf) lets a worker that was still running overwrite the state between our
    # writes: with the job stopped, settle it once more — unless the worker had already written its gate.
    gate = record.read_model(layout.GATE, Gate)
    if gate is not None and gate.status is not GateStatus.CANCELED:
        return record.update_state(force=True, job={"stage": JobStage.CANCELED})
    if gate is None:
        record.write_model(layout.GATE, build_gate(GateEvidence(canceled=True, space_id=state.space.id,
                                                                space_url=state.space.url)))
    return record.update_state(force=True, status=RunStatus.CANCELED, gate_status=GateStatus.CANCELED, error=None,
                               job={"stage": JobStage.CANCELED})
