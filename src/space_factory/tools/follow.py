"""Following a run inside a tool call: `Factory.follow` reads the run, this module sends progress.

The service decides what to read and when to stop (terminal, or the deadline), the same schedule
as the CLI's `--wait`; each read runs in a worker thread and the waits between reads are awaited, so
a follow holds no thread while it sleeps.

Progress is advisory (issue 3): a failed send is logged and the call goes on. The progress value
is the run's phase step (`domain.phases.phase_step`) and only ever grows, as the MCP spec requires,
so a notification goes out when the run reaches a later phase, with the phase as the message. A repair
by the coding agent goes back through the phases: each agent attempt after the first counts one more
lap of them (progress `(attempt - 1) * total + step`, out of `attempt * total`), so it is still reported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anyio
from mcp.server.mcpserver import Context

from space_factory.domain.phases import Phase, phase_step
from space_factory.domain.views import RunStatusView
from space_factory.service import Factory
from space_factory.tools.common import call_service
from space_factory.tools.views import LaunchView, run_links

__all__ = ["follow_run", "launch_view"]

logger = logging.getLogger(__name__)
_MAX_MESSAGE = 200


async def _send_progress(ctx: Context[Any, Any], step: float, total: float, message: str) -> None:
    try:
        await ctx.report_progress(step, total, message[:_MAX_MESSAGE])
    except Exception:  # the client went away or refused: progress must never fail the call
        logger.debug("progress notification not sent", exc_info=True)


def _next_read(reads: Iterator[tuple[RunStatusView, float | None]]) -> tuple[RunStatusView, float | None]:
    """The next read of a `Factory.follow` (blocking: run it in a worker thread)."""
    return next(reads)


async def follow_run(factory: Factory, run_id: str, wait_seconds: float, ctx: Context[Any, Any]) -> RunStatusView:
    """Follow `run_id` until it is terminal or `wait_seconds` have passed, sending progress as its phase advances.

    Returns:
        The last status read. A run still going when the time is up is returned as it is; it does not raise.
    """
    reads = factory.follow(run_id, timeout=wait_seconds)
    sent = -1.0
    total = phase_step(Phase.DONE)[1]
    attempt = 1
    while True:
        # The follower yields a last view (wait None) before it ends, so `next` never meets StopIteration here.
        view, wait = await call_service(_next_read, reads)
        attempt = max([attempt, *(_attempt_of(event.data) for event in view.events)])
        lap = (attempt - 1) * total
        step = lap + (total if view.terminal else phase_step(view.state.phase)[0])
        if step > sent:
            sent = step
            latest = view.events[-1].message if view.events else view.state.status.value
            label = view.state.status.value if view.terminal else view.state.phase.value
            await _send_progress(ctx, step, lap + total, f"{label}: {latest}")
        if wait is None:
            return view
        await anyio.sleep(wait)


def _attempt_of(data: dict[str, Any]) -> int:
    """The agent attempt an event names (`data.attempt`), else 1."""
    value = data.get("attempt")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def launch_view(view: RunStatusView, waited: float) -> LaunchView:
    state, run_id = view.state, view.run_id
    if view.terminal:
        next_step = f"The run ended ({state.status.value}). Call get_gate(run_id={run_id!r}) for the verdict."
    else:
        next_step = (f"Call get_run_status(run_id={run_id!r}, since_seq=0) after {view.next_poll_seconds} s and keep "
                     "polling with the last_seq it returns until terminal is true, then call get_gate.")
    return LaunchView(run_id=run_id, status=state.status, phase=state.phase, terminal=view.terminal,
                      gate_status=state.gate_status, next_poll_seconds=view.next_poll_seconds,
                      waited_seconds=round(waited, 2), state=state, links=run_links(state), next_step=next_step)
