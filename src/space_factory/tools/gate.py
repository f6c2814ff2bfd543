"""`get_gate`: the full-inference verdict of a run, or a plain "not finished yet" answer (DESIGN §6).

A run still going is not an error: the contract names it, so it is a result with `ready=false`, the
phase and when to poll (STYLE R7). A run that failed before any gate is the same kind of result,
with the factory's error.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from space_factory.domain.phases import RunStatus
from space_factory.domain.schemas import Gate, RunId
from space_factory.service import Factory, GateAnswer
from space_factory.tools.annotations import READ_ONLY
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.views import DASHBOARD_META, GateView

__all__ = ["gate_view", "register"]


def gate_view(factory: Factory, run_id: str) -> GateView:
    """What `get_gate` answers (the run dashboard's gate endpoint answers the same): the gate, or where the run is."""
    answer = factory.gate_or_progress(run_id)
    state, gate = answer.state, answer.gate
    common = {"run_id": run_id, "status": state.status, "phase": state.phase, "agent": state.agent,
              "attempts": answer.attempts, "revision": state.revision, "parent_run_id": state.parent_run_id}
    if state.status is RunStatus.FAILED:
        return GateView(**common, ready=False, message=(
            f"The run failed before a gate could be written: {state.error}. Read fetch_trace_redacted(run_id, "
            "'worker') for the cause, fix what it says, then launch_build again."))
    if gate is None:
        return GateView(**common, ready=False, next_poll_seconds=answer.next_poll_seconds, message=(
            f"Not finished yet: the run is {state.status.value}, phase {state.phase.value}. Poll get_run_status "
            "until terminal is true, then call get_gate again."))
    return GateView(**common, ready=True, gate_status=gate.status, gate=gate, message=_with_agent(gate, answer))


def _with_agent(gate: Gate, answer: GateAnswer) -> str:
    """The gate's summary, plus what the coding agent did when one ran: its attempts and declared blockers."""
    declared = sum(1 for b in gate.blockers if b.source == "agent")
    by_agent = sum(1 for a in answer.attempts if a.mode != "template")
    notes = []
    if by_agent:
        notes.append(f"{len(answer.attempts)} attempt(s) were gated, {by_agent} by the coding agent: see attempts, "
                     "and its traces with fetch_trace_redacted(run_id, 'agent').")
    if declared:
        notes.append(f"The coding agent declared {declared} blocker(s): see gate.blockers (source 'agent').")
    return " ".join([gate.summary, *notes])


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Get a run's full-inference gate", annotations=READ_ONLY, meta=DASHBOARD_META)
    @clean_doc
    async def get_gate(run_id: RunId, factory: FactoryDep) -> GateView:
        """The verdict of a finished run: gate status, checks, evidence, blockers, and how_to_call the new Space.

        full_inference_passed means /health answered and the API returned valid output for the task; anything
        else says what is missing (see checks and blockers). For a run still going this returns ready=false
        with its phase: poll get_run_status, then ask again. Use how_to_call to call the Space yourself.
        When the coding agent ran, attempts lists each attempt and the gate it led to, and blockers with
        source 'agent' are the ones it declared.
        """
        return await call_service(gate_view, factory, run_id)
