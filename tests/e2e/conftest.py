"""The end-to-end tests build through the CLI into the session's shared factory home (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FACTORY_HOME
from tests.support.processes import end_factory_processes


@pytest.fixture(autouse=True)
def _end_the_builds_of_each_test() -> Iterator[None]:
    """The Spaces and jobs a test started in the shared home end with the test, not at the end of the session."""
    yield
    end_factory_processes(FACTORY_HOME)
