"""DirectoryBucket: the local backend's bucket, a directory with atomic writes and locked appends
(DESIGN §2 bucket row; backends/base.py `Bucket` protocol; docs/architecture.md, the local backend)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from space_factory.backends.base import Bucket
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.domain.errors import InvalidInput

ESCAPES = ["../outside", "/etc/passwd", "runs/../../outside", "a//b", "runs\\..\\x", "", "runs/x/"]


def _flip(root: str, rounds: int) -> None:
    bucket = DirectoryBucket(Path(root))
    for i in range(rounds):
        bucket.write("runs/x/state.json", (b"A" if i % 2 else b"B") * 200_000)


def test_directory_bucket_satisfies_the_bucket_protocol(tmp_path: Path) -> None:
    """The pipeline talks to the Bucket protocol only (DESIGN §2)."""
    bucket: Bucket = DirectoryBucket(tmp_path)
    assert bucket.read("runs/none") is None


def test_write_then_read_round_trips_and_creates_parent_folders(tmp_path: Path) -> None:
    """write replaces the object; read gives its bytes, None when missing (Bucket protocol)."""
    bucket = DirectoryBucket(tmp_path)
    assert bucket.read("runs/x/state.json") is None
    bucket.write("runs/x/state.json", b"one")
    bucket.write("runs/x/state.json", b"two")
    assert bucket.read("runs/x/state.json") == b"two"
    assert (tmp_path / "runs" / "x" / "state.json").read_bytes() == b"two"


def test_writes_leave_no_temporary_files_behind(tmp_path: Path) -> None:
    """Writes are mkstemp + fsync + os.replace (docs/architecture.md): nothing else remains."""
    bucket = DirectoryBucket(tmp_path)
    for i in range(5):
        bucket.write("runs/x/state.json", str(i).encode())
    assert sorted(p.name for p in (tmp_path / "runs" / "x").iterdir()) == ["state.json"]


def test_a_reader_never_sees_a_half_written_object(tmp_path: Path) -> None:
    """Readers see the old or the new bytes, never a mix (Bucket.write contract)."""
    bucket = DirectoryBucket(tmp_path)
    bucket.write("runs/x/state.json", b"B" * 200_000)
    writer = multiprocessing.get_context("fork").Process(target=_flip, args=(str(tmp_path), 60))
    writer.start()
    while writer.is_alive():
        assert bucket.read("runs/x/state.json") in (b"A" * 200_000, b"B" * 200_000)
    writer.join(30)
    assert writer.exitcode == 0


def test_appends_accumulate_and_create_the_object(tmp_path: Path) -> None:
    """append adds bytes at the end, creating the object first (Bucket protocol)."""
    bucket = DirectoryBucket(tmp_path)
    bucket.append("runs/x/events.jsonl", b"1\n")
    bucket.append("runs/x/events.jsonl", b"2\n")
    assert bucket.read("runs/x/events.jsonl") == b"1\n2\n"


def test_read_range_returns_a_slice_and_nothing_past_the_end_or_for_a_missing_key(tmp_path: Path) -> None:
    """read_range: up to `length` bytes from `start`; empty past the end or for a missing key."""
    bucket = DirectoryBucket(tmp_path)
    bucket.write("k/log", b"0123456789")
    assert bucket.read_range("k/log", 2, 3) == b"234"
    assert bucket.read_range("k/log", 8, 100) == b"89"
    assert bucket.read_range("k/log", 10, 5) == b""
    assert bucket.read_range("k/log", 99, 5) == b""
    assert bucket.read_range("k/missing", 0, 5) == b""
    assert bucket.read_range("k", 0, 5) == b""  # a folder is not an object


def test_size_is_the_byte_count_of_an_object_and_none_for_missing_keys_and_folders(tmp_path: Path) -> None:
    """size answers for objects only; a prefix (folder) is no object, as read already says."""
    bucket = DirectoryBucket(tmp_path)
    bucket.write("runs/x/state.json", "é".encode())
    assert bucket.size("runs/x/state.json") == 2
    assert bucket.size("runs/x/missing.json") is None
    assert bucket.size("runs/x/state.json/below") is None
    assert bucket.size("runs/x") is None and bucket.read("runs/x") is None


def test_list_gives_sorted_immediate_children_without_hidden_names(tmp_path: Path) -> None:
    """list: the immediate child names under a prefix; lock and temp files (dot names) are not objects."""
    bucket = DirectoryBucket(tmp_path)
    for key in ("runs/b/state.json", "runs/a/state.json", "runs/a/logs/worker.log"):
        bucket.write(key, b"x")
    with bucket.lock("runs/c"):
        pass  # leaves runs/.c.lock
    assert (tmp_path / "runs" / ".c.lock").exists()
    assert bucket.list("runs") == ["a", "b"]
    assert bucket.list("runs/a") == ["logs", "state.json"]
    assert bucket.list("runs/missing") == []
    assert bucket.list("runs/a/state.json") == []


@pytest.mark.parametrize("key", ESCAPES)
def test_every_operation_refuses_a_key_that_escapes_or_is_not_plain(tmp_path: Path, key: str) -> None:
    """A key can never leave the root: absolute, '..', empty segments and backslashes are refused (DESIGN §9)."""
    bucket = DirectoryBucket(tmp_path / "root")
    operations = [lambda: bucket.read(key), lambda: bucket.write(key, b"x"), lambda: bucket.append(key, b"x"),
                  lambda: bucket.size(key), lambda: bucket.read_range(key, 0, 1), lambda: bucket.list(key),
                  lambda: bucket.lock(key)]
    for operation in operations:
        with pytest.raises(InvalidInput):
            operation()
    assert not (tmp_path / "outside").exists()


def test_the_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    """lock() guards read-modify-writes across processes (Bucket.lock contract; fcntl in docs/architecture.md)."""
    bucket = DirectoryBucket(tmp_path)
    ctx = multiprocessing.get_context("fork")
    holding, release = ctx.Event(), ctx.Event()
    acquired = ctx.Event()

    def hold() -> None:
        with bucket.lock("runs/x/state.json"):
            holding.set()
            release.wait(30)

    def take() -> None:
        with bucket.lock("runs/x/state.json"):
            acquired.set()

    holder = ctx.Process(target=hold)
    holder.start()
    assert holding.wait(30)
    taker = ctx.Process(target=take)
    taker.start()
    assert not acquired.wait(0.5)  # still held: the second process waits
    release.set()
    assert acquired.wait(30)
    holder.join(30)
    taker.join(30)
    assert holder.exitcode == 0 and taker.exitcode == 0
