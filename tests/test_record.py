"""RunRecord over DirectoryBucket: one run's state and events (DESIGN §4-§5; docs/architecture.md, record.py)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.domain import layout
from space_factory.domain.errors import InvalidInput, InvalidRunId
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import Gate, RunState
from space_factory.record import RunRecord

RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"
WRITERS = 4
EVENTS_EACH = 40


def _record(root: Path) -> RunRecord:
    record = RunRecord(DirectoryBucket(root), RUN_ID)
    record.write_state(RunState(run_id=RUN_ID, model="sshleifer/tiny-gpt2", owner="tester"))
    return record


def _append_many(root: str, writer: int) -> None:
    record = RunRecord(DirectoryBucket(Path(root)), RUN_ID)
    for i in range(EVENTS_EACH):
        record.append_event(Phase.BUILDING, f"writer {writer} event {i}", data={"writer": writer, "i": i})


def _events_file(root: Path) -> Path:
    return root / "runs" / RUN_ID / "events.jsonl"


def test_a_new_record_does_not_exist_until_its_state_is_written(tmp_path: Path) -> None:
    """A run exists once state.json does (DESIGN §4)."""
    record = RunRecord(DirectoryBucket(tmp_path), RUN_ID)
    assert not record.exists() and record.state() is None and record.events() == []
    record.write_state(RunState(run_id=RUN_ID, model="m/m", owner="tester"))
    assert record.exists()
    assert record.state() == RunState.model_validate_json((tmp_path / "runs" / RUN_ID / "state.json").read_bytes())


def test_a_record_refuses_an_invalid_run_id_and_escaping_relative_paths(tmp_path: Path) -> None:
    """Paths are built from a validated run id and can't climb out (DESIGN §9)."""
    with pytest.raises(InvalidRunId):
        RunRecord(DirectoryBucket(tmp_path), "../etc")
    record = _record(tmp_path)
    for bad in ("../other/state.json", "/etc/passwd", "logs//x", "logs\\x"):
        with pytest.raises(InvalidInput):
            record.write_text(bad, "x")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [RUN_ID]


def test_state_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    """state.json is rewritten atomically (DESIGN §4)."""
    record = _record(tmp_path)
    for phase in (Phase.STARTING, Phase.ANALYZING, Phase.BUILDING):
        record.update_state(status=RunStatus.RUNNING, phase=phase)
    names = {p.name for p in (tmp_path / "runs" / RUN_ID).iterdir()}
    assert names == {"state.json", ".state.json.lock"}  # no temporary file left behind
    assert record.state().phase is Phase.BUILDING  # type: ignore[union-attr]


def test_update_state_merges_job_and_space_and_bumps_updated_at(tmp_path: Path) -> None:
    """job and space are merged field by field; updated_at moves (DESIGN §5 state.json)."""
    record = _record(tmp_path)
    before = record.state()
    assert before is not None
    record.update_state(job={"id": "local-x", "stage": "RUNNING"})
    state = record.update_state(space={"id": "tester/app"}, job={"stage": "COMPLETED"})
    assert (state.job.id, state.job.stage) == ("local-x", "COMPLETED")
    assert state.space.id == "tester/app"
    assert state.updated_at >= before.updated_at
    assert record.state() == state


def test_update_state_of_a_record_without_state_raises_file_not_found(tmp_path: Path) -> None:
    """There is nothing to update before launch wrote the state."""
    with pytest.raises(FileNotFoundError):
        RunRecord(DirectoryBucket(tmp_path), RUN_ID).update_state(phase=Phase.BUILDING)


@pytest.mark.parametrize("terminal", [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELED])
def test_a_terminal_status_is_sticky_unless_forced(tmp_path: Path, terminal: RunStatus) -> None:
    """Once finished, failed or canceled, a late writer cannot move the run back (docs/architecture.md)."""
    record = _record(tmp_path)
    record.update_state(status=terminal, phase=Phase.DONE, error="why")
    late = record.update_state(status=RunStatus.RUNNING, phase=Phase.BUILDING, error=None)
    assert (late.status, late.phase, late.error) == (terminal, Phase.DONE, "why")
    assert record.state() == late and record.is_terminal()
    forced = record.update_state(force=True, job={"stage": "CANCELED"})
    assert forced.status is terminal and forced.job.stage == "CANCELED"


def test_events_are_numbered_from_one_and_read_back_in_order(tmp_path: Path) -> None:
    """events.jsonl: {seq, ts, phase, level, message, data}; seq starts at 1 and only grows (DESIGN §5)."""
    record = _record(tmp_path)
    first = record.append_event(Phase.QUEUED, "queued")
    second = record.append_event(Phase.BUILDING, "building", level="warning", data={"x": 1})
    assert (first.seq, second.seq) == (1, 2)
    lines = [json.loads(line) for line in _events_file(tmp_path).read_text().splitlines()]
    assert [set(line) for line in lines] == [{"seq", "ts", "phase", "level", "message", "data"}] * 2
    assert lines[1] | {"ts": None} == {"seq": 2, "ts": None, "phase": "building", "level": "warning",
                                       "message": "building", "data": {"x": 1}}
    assert record.events() == [first, second]


def test_events_since_seq_and_limit_page_through_the_log(tmp_path: Path) -> None:
    """A reader asks for "events after seq N" (DESIGN §5), at most `limit` of them."""
    record = _record(tmp_path)
    for i in range(10):
        record.append_event(Phase.BUILDING, f"e{i}")
    assert [e.seq for e in record.events(since_seq=7)] == [8, 9, 10]
    assert [e.seq for e in record.events(since_seq=2, limit=3)] == [3, 4, 5]
    assert [e.seq for e in record.events(limit=1)] == [1]
    assert record.events(since_seq=10) == []
    assert record.events(limit=0) == []
    assert [e.seq for e in record.events(since_seq=-5, limit=2)] == [1, 2]


def test_concurrent_appenders_get_unique_contiguous_seqs(tmp_path: Path) -> None:
    """seq is 1, 2, 3, … across every writer of the run, in file order (docs/architecture.md)."""
    _record(tmp_path)
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_append_many, args=(str(tmp_path), w)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    events = RunRecord(DirectoryBucket(tmp_path), RUN_ID).events()
    assert [e.seq for e in events] == list(range(1, WRITERS * EVENTS_EACH + 1))
    for writer in range(WRITERS):  # each writer's own events stay in its order
        assert [e.data["i"] for e in events if e.data["writer"] == writer] == list(range(EVENTS_EACH))


def test_a_torn_last_line_is_skipped_by_readers(tmp_path: Path) -> None:
    """A reader may catch a writer mid-append: the torn line is skipped, not an error (record.events)."""
    record = _record(tmp_path)
    record.append_event(Phase.QUEUED, "one")
    record.append_event(Phase.QUEUED, "two")
    with _events_file(tmp_path).open("ab") as f:
        f.write(b'{"seq": 3, "ts": "2026-11-28T17:12:33Z", "pha')
    assert [e.message for e in record.events()] == ["one", "two"]
    assert record.events(since_seq=2) == []


def test_an_append_after_a_torn_last_line_continues_the_numbering_and_is_readable(tmp_path: Path) -> None:
    """A writer that died mid-line must not swallow the next event, and seq keeps growing (DESIGN §5)."""
    record = _record(tmp_path)
    record.append_event(Phase.QUEUED, "one")
    with _events_file(tmp_path).open("ab") as f:
        f.write(b'{"seq": 2, "ts": "2026-11-')
    after = record.append_event(Phase.STARTING, "after the crash")
    assert after.seq == 2
    assert [(e.seq, e.message) for e in record.events()] == [(1, "one"), (2, "after the crash")]
    assert record.append_event(Phase.STARTING, "next").seq == 3


def test_mark_running_moves_the_phase_and_records_an_event(tmp_path: Path) -> None:
    """The worker's common step: status running, the phase, and an event with data (DESIGN §5)."""
    record = _record(tmp_path)
    record.mark_running(Phase.ANALYZING, "reading the card", model="m/m")
    state = record.state()
    assert state is not None and (state.status, state.phase) == (RunStatus.RUNNING, Phase.ANALYZING)
    [event] = record.events()
    assert (event.phase, event.message, event.data) == (Phase.ANALYZING, "reading the card", {"model": "m/m"})


def test_models_and_json_round_trip_and_bad_files_read_as_none(tmp_path: Path) -> None:
    """read_model / read_json answer None for missing or malformed files instead of raising."""
    record = _record(tmp_path)
    assert record.read_model(layout.GATE, Gate) is None
    record.write_text(layout.GATE, "{not json")
    assert record.read_model(layout.GATE, Gate) is None and record.read_json(layout.GATE) is None
    record.write_text(layout.GATE, "[1, 2]")
    assert record.read_json(layout.GATE) is None
    record.write_json(layout.HEALTH, {"ok": True, "n": 1})
    assert record.read_json(layout.HEALTH) == {"ok": True, "n": 1}
    record.write_text(layout.WORKER_LOG, "héllo\n")
    assert record.read_text(layout.WORKER_LOG) == "héllo\n"
    (tmp_path / "runs" / RUN_ID / "logs" / "worker.log").write_bytes(b"\xff\xfe bad utf-8")
    assert record.read_text(layout.WORKER_LOG) == "\ufffd\ufffd bad utf-8"
