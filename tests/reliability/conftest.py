"""The fault tests. `site/` holds the worker-side hook (a sitecustomize), not tests: pytest must not import it.

At the end of a session that ran any of them, the tally (faults survived, records lost) is printed for the
closing note of issue 8.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.checks import TALLY
from tests.support.processes import end_factory_processes

collect_ignore = ["site"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.faults_survived or TALLY.records_lost:
        terminalreporter.write_line(f"reliability: faults survived {TALLY.faults_survived}, records lost "
                                    f"{TALLY.records_lost}, record files checked {TALLY.records_checked}")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local factory home per module, so a Space venv is made once; every test ends what it started."""
    path = tmp_path_factory.mktemp("faults")
    yield path
    end_factory_processes(path)
