"""Tools over the caller's runs: `get_run_status`, `list_runs`, `cancel_run`."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field, StringConstraints

from space_factory.domain.schemas import RunId
from space_factory.domain.views import RunList, RunStatusView
from space_factory.service import MAX_RUNS_CURSOR, Factory
from space_factory.tools.annotations import DESTRUCTIVE, READ_ONLY
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.params import Limit, SinceSeq
from space_factory.tools.views import CancelView

__all__ = ["register"]

# Only a bound and the alphabet here: what a cursor means is the service's to check (`RunsCursor.decode`).
RunsCursorParam = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=MAX_RUNS_CURSOR, pattern=r"^[A-Za-z0-9_-]+$")] | None,
    Field(description="Where to continue: next_cursor of the previous answer, unchanged; omit it for the newest runs.")]


def _cancel(factory: Factory, run_id: str) -> CancelView:
    outcome = factory.cancel_run(run_id)
    state = outcome.state
    next_step = ("The run is canceled; get_gate shows the canceled gate." if outcome.canceled else
                 f"The run had already ended ({state.status.value}); nothing was stopped. "
                 "Call get_gate for its verdict.")
    return CancelView(run_id=run_id, canceled=outcome.canceled, status=state.status, state=state,
                      next_step=next_step)


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Get a run's status and events", annotations=READ_ONLY)
    @clean_doc
    async def get_run_status(run_id: RunId, factory: FactoryDep, since_seq: SinceSeq = 0) -> RunStatusView:
        """A run's state (status, phase, Space, job, error) and its events after since_seq.

        Poll again after next_poll_seconds, passing last_seq as since_seq to get only new events. When
        terminal is true, stop polling and call get_gate(run_id). A run whose job died is reported failed,
        with the reason in state.error; fetch_trace_redacted(run_id, 'worker') shows its log.
        """
        return await call_service(factory.run_status, run_id, since_seq)

    @app.tool(title="List my runs", annotations=READ_ONLY)
    @clean_doc
    async def list_runs(factory: FactoryDep, limit: Limit = 20, cursor: RunsCursorParam = None) -> RunList:
        """The caller's runs, newest first, each with its status, phase, Space and gate status.

        Use it to find a run_id again; then get_run_status or get_gate. When next_cursor is not null there
        are older runs: pass it as cursor to get the next page.
        """
        return await call_service(factory.runs_page, limit=limit, cursor=cursor)

    @app.tool(title="Cancel a run", annotations=DESTRUCTIVE)
    @clean_doc
    async def cancel_run(run_id: RunId, factory: FactoryDep) -> CancelView:
        """Stop a run's job, and the Space if it was still being built; the run ends canceled with a canceled gate.

        A run that already ended is left as it is (canceled=false). A Space that was already built keeps running.
        """
        return await call_service(_cancel, factory, run_id)
