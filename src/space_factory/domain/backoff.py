"""How a polling loop spaces its reads: quickly at first, then further apart, up to a ceiling.

Every loop that asks the Hub again and again (a Space's build) reads on this schedule, so that a build of
minutes costs tens of requests, not hundreds (issue 13: 1,000 requests per 5 minutes for a free account).
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["backoff_delays"]


def backoff_delays(first: float, ceiling: float, factor: float = 1.5) -> Iterator[float]:
    """Seconds to wait before each next read: `first`, then `factor` times longer each time, at most `ceiling`.

    Example:
        >>> from itertools import islice
        >>> [round(d, 2) for d in islice(backoff_delays(0.5, 5.0), 8)]
        [0.5, 0.75, 1.12, 1.69, 2.53, 3.8, 5.0, 5.0]
    """
    delay = first
    while True:
        yield min(delay, ceiling)
        delay = min(delay * factor, ceiling)
