"""Waiting for a run to end, the way a client does: through the service's status reads."""

from __future__ import annotations

from space_factory.domain.schemas import RunState
from space_factory.domain.views import RunStatusView
from space_factory.service import Factory
from tests.support.waiting import wait_until


def wait_terminal(factory: Factory, run_id: str, timeout: float = 60.0) -> RunState:
    """The run's state once `run_status` calls it terminal (it reconciles with the job, and a rate-limited
    read answers the last state instead of failing); the test fails after `timeout` seconds."""
    last: list[RunStatusView] = []

    def ended() -> RunState | None:
        last[:] = [factory.run_status(run_id)]
        return last[0].state if last[0].terminal else None

    return wait_until(ended, timeout, lambda: f"run {run_id} to end (still {last[0].state.status}, "
                                              f"{last[0].state.phase})")
