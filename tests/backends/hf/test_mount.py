"""The worker's record writes on a job's hf-mount (issue 13 point 1): whole objects only, one owner per log.

These tests drive `MountedBucket` (the worker's side) and `RunRecord`'s owner/guest logs over plain directories;
the strict hf-mount emulation (closed-file visibility, EPERM on a non-truncating reopen, delayed flush) is
exercised end to end in tests/e2e/test_hf_strict.py.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from space_factory.backends.hf.mount import MountedBucket
from space_factory.domain import layout
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import HardwareRequestRecord, RunState
from space_factory.record import RunRecord, inbox_of
from space_factory.worker.worker_log import WholeObjectLogHandler
from tests.hub_emulator.mount import JobMount, MountSwitch

RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"


def opened_modes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the mode of every `Path.open` from now on."""
    modes: list[str] = []
    original = Path.open

    def spy(self: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        modes.append(mode)
        return original(self, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", spy)
    return modes


def new_record(root: Path, *, guest: bool = False) -> RunRecord:
    record = RunRecord(MountedBucket(root), RUN_ID, guest=guest)
    return record


def test_every_write_replaces_a_whole_object_with_a_truncating_open(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """hf-mount's streaming mode refuses a writable reopen without O_TRUNC: the worker never makes one."""
    record = new_record(tmp_path)
    record.write_state(RunState(run_id=RUN_ID, model="m/x", owner="alice", backend="hf"))
    modes = opened_modes(monkeypatch)
    for n in range(3):
        record.append_event(Phase.STARTING, f"event {n}")
        record.update_state(status=RunStatus.RUNNING, phase=Phase.ANALYZING)
        record.append_jsonl(layout.HARDWARE_REQUESTS, HardwareRequestRecord(flavor="t4-small", outcome="requested",
                                                                            detail="ok"))
    assert {m for m in modes if set(m) & set("wa+x")} == {"wb"}
    assert not list(tmp_path.rglob(".*")), "no temporary file left to be renamed into place"
    assert [e.seq for e in record.events()] == [1, 2, 3]


def test_a_guest_posts_to_the_inbox_and_the_owner_numbers_it_in_order(tmp_path: Path) -> None:
    """The server (guest) and the worker (owner) never write the same object; seq stays 1, 2, 3, …"""
    worker = new_record(tmp_path)
    server = new_record(tmp_path, guest=True)
    worker.append_event(Phase.QUEUED, "queued")
    assert server.append_event(Phase.QUEUED, "job started") is None  # posted: the owner numbers it
    assert [e.message for e in worker.events()] == ["queued"]
    posted = tmp_path / "runs" / RUN_ID / inbox_of(layout.EVENTS)
    assert len(list(posted.iterdir())) == 1
    worker.append_event(Phase.STARTING, "worker started")
    worker.append_event(Phase.ANALYZING, "analyzing")
    events = worker.events()
    assert [(e.seq, e.message) for e in events] == [(1, "queued"), (2, "job started"), (3, "worker started"),
                                                    (4, "analyzing")]
    # A reader in another process (a fresh record) sees the same numbers, and folding twice adds nothing.
    assert [(e.seq, e.message) for e in new_record(tmp_path).events()] == [(e.seq, e.message) for e in events]


def test_a_reader_of_a_canceled_run_sees_what_the_stopped_worker_never_folded(tmp_path: Path) -> None:
    worker = new_record(tmp_path)
    for message in ("queued", "building"):
        worker.append_event(Phase.BUILDING, message)
    new_record(tmp_path, guest=True).append_event(Phase.BUILDING, "run canceled: canceled by request",
                                                  level="warning")
    reader = new_record(tmp_path)
    assert [e.seq for e in reader.events()] == [1, 2]
    shown = reader.events(with_inbox=True)
    assert [(e.seq, e.message) for e in shown] == [(1, "queued"), (2, "building"),
                                                   (3, "run canceled: canceled by request")]
    assert [e.seq for e in reader.events(2, with_inbox=True)] == [3]
    # An owner folding it later numbers it as the reader did.
    reader.append_event(Phase.BUILDING, "reconciled")
    assert [(e.seq, e.message) for e in reader.events()][2:] == [(3, "run canceled: canceled by request"),
                                                                 (4, "reconciled")]


def test_the_owner_rewrites_its_log_as_it_was_plus_new_lines_so_cursors_stay_valid(tmp_path: Path) -> None:
    worker = new_record(tmp_path)
    worker.append_event(Phase.QUEUED, "one")
    path = tmp_path / "runs" / RUN_ID / layout.EVENTS
    first = path.read_bytes()
    worker.append_event(Phase.QUEUED, "two")
    assert path.read_bytes().startswith(first)
    path.write_bytes(path.read_bytes()[:-5])  # a torn last line (a writer died mid-line)
    worker_after_crash = new_record(tmp_path)
    worker_after_crash.append_event(Phase.QUEUED, "three")
    assert [e.message for e in worker_after_crash.events()] == ["one", "three"]
    assert [e.seq for e in worker_after_crash.events()] == [1, 2]


def test_hardware_requests_posted_by_the_server_are_folded_by_the_worker(tmp_path: Path) -> None:
    worker = new_record(tmp_path)
    entry = HardwareRequestRecord(flavor="t4-small", outcome="requested", detail="tool", source="tool")
    new_record(tmp_path, guest=True).append_jsonl(layout.HARDWARE_REQUESTS, entry)
    worker.append_jsonl(layout.HARDWARE_REQUESTS, HardwareRequestRecord(flavor="t4-small", outcome="already_set",
                                                                        detail="worker"))
    lines = (worker.read_text(layout.HARDWARE_REQUESTS) or "").splitlines()
    assert ['"detail":"tool"' in lines[0], '"detail":"worker"' in lines[1]] == [True, True]
    worker.append_jsonl(layout.HARDWARE_REQUESTS, entry)  # an equal line from the owner is its own line
    assert len((worker.read_text(layout.HARDWARE_REQUESTS) or "").splitlines()) == 3


def test_a_read_answers_this_processs_own_write_until_the_mount_shows_it(tmp_path: Path) -> None:
    """Advanced-writes mounts flush seconds after the close: the worker still reads back what it wrote, and a
    later write by someone else (the server canceling) wins once the mount shows it."""
    bucket = MountedBucket(tmp_path)
    path = bucket.path("runs/x/state.json")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"old")
    os.utime(path, (time.time() - 60, time.time() - 60))
    bucket.write("runs/x/state.json", b"mine")
    path.write_bytes(b"old")  # the mount does not show our write yet (pending flush)
    os.utime(path, (time.time() - 60, time.time() - 60))
    assert bucket.read("runs/x/state.json") == b"mine"
    assert bucket.size("runs/x/state.json") == 4 and bucket.read_range("runs/x/state.json", 1, 2) == b"in"
    time.sleep(0.01)
    path.write_bytes(b"the server's")  # a later write by another writer
    assert bucket.read("runs/x/state.json") == b"the server's"
    assert bucket.list("runs/x") == ["state.json"]
    pending = MountedBucket(tmp_path / "empty")
    pending.write("a/b.json", b"1")
    (tmp_path / "empty" / "a" / "b.json").unlink()  # written, not shown yet
    assert pending.list("a") == ["b.json"] and pending.read("a/b.json") == b"1"


def test_the_worker_log_is_rewritten_whole_while_the_worker_runs(tmp_path: Path) -> None:
    bucket = MountedBucket(tmp_path)
    key = f"runs/{RUN_ID}/{layout.WORKER_LOG}"
    handler = WholeObjectLogHandler(bucket, key, interval=0.2, limit=2000)
    log = logging.getLogger("test-worker-log")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("first line")
        assert bucket.read(key) is None  # an info line waits for the interval
        deadline = time.monotonic() + 5
        while bucket.read(key) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first = bucket.read(key) or b""
        assert first == b"first line\n"
        log.warning("a warning goes at once")
        assert (bucket.read(key) or b"").startswith(first) and b"a warning" in (bucket.read(key) or b"")
        for _ in range(100):
            log.info("x" * 50)
    finally:
        log.removeHandler(handler)
        handler.close()
    final = bucket.read(key) or b""
    assert len(final) <= 2000 + 200 and final.rstrip().endswith(b"more than 2000 bytes]")


# -- against the emulated hf-mount (tests/hub_emulator/mount.py, mount_shim.py) -------------------------------

WORKER_WRITES = """
import sys
from pathlib import Path
from space_factory.backends.hf.mount import MountedBucket
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.domain.phases import Phase
from space_factory.record import RunRecord
root = Path(sys.argv[1])
record = RunRecord(MountedBucket(root), sys.argv[2])
for n in range(3):
    record.append_event(Phase.STARTING, f"event {n}")
print("mounted ok", [e.seq for e in record.events()])
old = DirectoryBucket(root)
for name, write in (("append", lambda: old.append("runs/x/events.jsonl", b"more\\n")),
                    ("rename", lambda: old.write("runs/x/new.json", b"{}")),
                    ("lock", lambda: old.lock("runs/x/state.json").__enter__())):
    try:
        write()
        print(name, "worked")
    except OSError as exc:
        print(name, "refused", exc.errno)
"""


def run_in_job(tmp_path: Path, mode: str, code: str, *args: str) -> tuple[JobMount, str]:
    """Run `code` as an emulated job would, with its bucket (`tmp_path/bucket`) mounted in `mode`."""
    logged: list[object] = []
    bucket_dir = tmp_path / "bucket"
    (bucket_dir / "runs" / "x").mkdir(parents=True, exist_ok=True)
    (bucket_dir / "runs" / "x" / "events.jsonl").write_bytes(b"one\n")
    mount = JobMount(MountSwitch(mode=mode, delay=1.0), tmp_path / "job", bucket_dir, "alice/runs", "alice",
                     logged.append)
    mount.folder.mkdir(exist_ok=True)
    env = {**os.environ, **mount.env()}
    env["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + os.pathsep.join(sys.path)
    done = subprocess.run([sys.executable, "-c", code, str(bucket_dir), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    mount.logged = logged  # type: ignore[attr-defined]
    return mount, done.stdout


def test_the_emulated_streaming_mount_refuses_appends_locks_and_renames_and_the_worker_still_writes(
        tmp_path: Path) -> None:
    mount, out = run_in_job(tmp_path, "streaming", WORKER_WRITES, RUN_ID)
    assert "mounted ok [1, 2, 3]" in out
    assert "append refused 1" in out and "rename refused 1" in out and f"lock refused {errno.ENOLCK}" in out
    events = tmp_path / "bucket" / "runs" / RUN_ID / layout.EVENTS
    assert [json.loads(line)["seq"] for line in events.read_text().splitlines()] == [1, 2, 3]  # visible at close
    mount.step()
    commits = [r for r in mount.logged if r.method == "POST"]  # type: ignore[attr-defined]
    assert len(commits) >= 3  # each closed file is one commit to the Hub


VISIBILITY = """
import sys, time
from pathlib import Path
target = Path(sys.argv[1]) / "runs" / "x" / "state.json"
f = target.open("wb")
f.write(b"written")
f.flush()
print("before close:", target.exists())
f.close()
print("after close:", target.read_bytes() if target.exists() else None)
"""


def test_a_streaming_write_is_visible_only_once_closed(tmp_path: Path) -> None:
    _, out = run_in_job(tmp_path, "streaming", VISIBILITY)
    assert "before close: False" in out and "after close: b'written'" in out


def test_an_advanced_mount_publishes_seconds_after_the_close_and_the_last_writer_wins(tmp_path: Path) -> None:
    code = VISIBILITY + ("with target.open('ab') as f:\n    f.write(b' twice')\n"
                         "print('own view:', target.open('rb').read())\n")
    mount, out = run_in_job(tmp_path, "advanced", code)
    assert "after close: None" in out  # not in the bucket yet
    assert "own view: b'written twice'" in out  # the job reads its own unflushed file
    target = tmp_path / "bucket" / "runs" / "x" / "state.json"
    assert not target.exists()  # nothing published yet
    started = time.monotonic()
    mount.drain()
    assert target.read_bytes() == b"written twice" and time.monotonic() - started >= 0.5
