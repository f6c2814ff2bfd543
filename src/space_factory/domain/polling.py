"""When to read a run again: the hint every status answer carries, and the schedule of following a run.

`Factory.run_status` answers `next_poll_seconds` for agents that poll; `Factory.follow` (the CLI's
`--wait`, the tools' `wait_seconds`) reads on its own every `FOLLOW_POLL_SECONDS` until it may stop.
"""

from __future__ import annotations

from space_factory.domain.phases import TERMINAL_STATUSES, Phase
from space_factory.domain.schemas import RunState

__all__ = ["FOLLOW_POLL_SECONDS", "STALE_POLL_SECONDS", "follow_wait", "next_poll_seconds"]

FOLLOW_POLL_SECONDS = 0.5
STALE_POLL_SECONDS = 30.0  # after a rate-limited read: give the Hub time before the next one
_DEFAULT_POLL_SECONDS = 2.0
# Phases that move fast are worth a quicker look; a build takes minutes.
_POLL_SECONDS: dict[Phase, float] = {Phase.QUEUED: 1.0, Phase.STARTING: 1.0, Phase.BUILDING: 3.0,
                                     Phase.VALIDATING_API: 2.0}


def next_poll_seconds(state: RunState) -> float | None:
    """Seconds a poller should wait before reading the run again; None once the run has ended."""
    return None if state.status in TERMINAL_STATUSES else _POLL_SECONDS.get(state.phase, _DEFAULT_POLL_SECONDS)


def follow_wait(terminal: bool, remaining: float | None) -> float | None:
    """Seconds a follower waits before its next read, or None: stop (the run ended, or its time is up).

    Args:
        terminal: the last read found the run finished, failed or canceled.
        remaining: seconds left before the follower's deadline; None when it follows to the end.

    Example:
        >>> follow_wait(False, None), follow_wait(False, 0.2), follow_wait(False, 0.0), follow_wait(True, 9.0)
        (0.5, 0.2, None, None)
    """
    if terminal or (remaining is not None and remaining <= 0):
        return None
    return FOLLOW_POLL_SECONDS if remaining is None else min(FOLLOW_POLL_SECONDS, remaining)
