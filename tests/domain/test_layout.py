"""Where each part of a run record lives, and that no supplied path escapes it (DESIGN §4; §9 paths)."""

from __future__ import annotations

import pytest

from space_factory.domain import layout
from space_factory.domain.errors import InvalidInput, InvalidRunId
from space_factory.domain.layout import run_dir, run_path, safe_child

RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"


@pytest.mark.parametrize(("relative", "expected"), [
    ("state.json", "runs/x/state.json"), ("tests/health.json", "runs/x/tests/health.json"),
    ("traces/redacted/pi.jsonl", "runs/x/traces/redacted/pi.jsonl"), ("a/./b", "runs/x/a/b"),
    ("..hidden", "runs/x/..hidden"), ("name..jsonl", "runs/x/name..jsonl"),
])
def test_safe_child_joins_plain_relative_paths(relative: str, expected: str) -> None:
    """Plain relative names stay under their base (DESIGN §9: paths cannot escape the run directory)."""
    assert safe_child("runs/x", relative) == expected


@pytest.mark.parametrize("relative", ["", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "a//b", "a/",
                                      "a\\..\\x", "..\\x", "traces\\raw\\t.jsonl", "//x"])
def test_safe_child_refuses_absolute_climbing_empty_and_backslash_paths(relative: str) -> None:
    """Absolute paths, '..', empty segments and backslashes are refused (DESIGN §9)."""
    with pytest.raises(InvalidInput):
        safe_child("runs/x", relative)


def test_run_path_places_each_record_file_under_its_run() -> None:
    """runs/<run_id>/… (DESIGN §4)."""
    assert run_dir(RUN_ID) == f"runs/{RUN_ID}"
    assert run_path(RUN_ID, layout.STATE) == f"runs/{RUN_ID}/state.json"
    assert run_path(RUN_ID, layout.WORKER_LOG) == f"runs/{RUN_ID}/logs/worker.log"
    assert run_path(RUN_ID, layout.GATE) == f"runs/{RUN_ID}/inference_gate.json"


@pytest.mark.parametrize("run_id", ["../x", "..", "A" * 20, "abc", f"{RUN_ID}/../other"])
def test_run_path_refuses_run_ids_that_are_not_run_ids(run_id: str) -> None:
    """Paths are built only from a validated run id (DESIGN §4)."""
    with pytest.raises(InvalidRunId) as caught:
        run_path(run_id, layout.STATE)
    assert caught.value.run_id == run_id


def test_run_path_refuses_a_relative_part_that_climbs_out() -> None:
    """A file name inside the run can't climb to a sibling run (DESIGN §9)."""
    with pytest.raises(InvalidInput):
        run_path(RUN_ID, "../20261128-171233-other-run-000000/state.json")


def test_every_fixed_record_name_is_a_safe_relative_path() -> None:
    """The fixed names of DESIGN §4 all pass safe_child, and the served trace kinds exclude raw traces."""
    names = [layout.REQUEST, layout.STATE, layout.EVENTS, layout.ANALYSIS, layout.RECOMMENDATION,
             layout.TARGET_SPACE, layout.GENERATED, layout.HEALTH, layout.API_SCHEMA, layout.TEST_RESULT,
             layout.GATE, layout.BLOCKERS, layout.HARDWARE_REQUESTS, layout.WORKER_LOG, layout.SPACE_BUILD_LOG,
             layout.SPACE_RUN_LOG, layout.PI_OUTPUT, layout.RAW_TRACES, layout.REDACTED_TRACES, layout.REPORT]
    for name in names:
        assert run_path(RUN_ID, name) == f"runs/{RUN_ID}/{name}"
    assert not any(rel.startswith(layout.RAW_TRACES) for rel in layout.TRACE_KINDS.values())
    assert set(layout.TRACE_KINDS) == {"worker", "space_build", "space_run", "pi_output"}
