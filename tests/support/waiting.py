"""Bounded waits on a condition: the one way a test waits for something that happens in another process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

_FIRST_CHECK_DELAY = 0.01
_MAX_CHECK_DELAY = 0.5


def wait_until(predicate: Callable[[], T | None], timeout: float, what: str | Callable[[], str]) -> T:
    """Return the first truthy value of `predicate()`, checked until `timeout` seconds have passed.

    The checks back off from 10 ms to 0.5 s, so a quick condition is seen at once and a slow one (a build,
    a Hub poll that costs requests) is not hammered.

    Args:
        predicate: the condition; its truthy value is returned.
        timeout: seconds before the test fails.
        what: what is awaited, for the failure message; a callable is asked only on failure (the last state).

    Raises:
        pytest.fail.Exception: the condition did not hold within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_CHECK_DELAY
    while not (value := predicate()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, _MAX_CHECK_DELAY)
    return value
