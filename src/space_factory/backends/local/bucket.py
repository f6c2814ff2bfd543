"""The local backend's bucket: a directory (DESIGN §2)."""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path

from space_factory.backends.local.locks import file_lock
from space_factory.domain.layout import safe_child

# How long a losing claimant waits for an `O_EXCL` claim's bytes (the winner writes them right after creating it).
_CLAIM_WRITE_GRACE_SECONDS = 2.0


def _write_synced(fd: int, data: bytes) -> None:
    """Write `data` to the open file `fd`, flush it to the disk, and close it."""
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class DirectoryBucket:
    """A `Bucket` kept in a directory; writes are atomic renames, appends are locked, claims are hard links.

    Example:
        >>> import tempfile
        >>> b = DirectoryBucket(Path(tempfile.mkdtemp()))
        >>> b.write("runs/x/state.json", b"{}"); b.read("runs/x/state.json")
        b'{}'
    """

    # O_APPEND under an flock on a local file system: every writer of a shared log simply appends.
    atomic_append = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        # safe_child refuses absolute keys and '..', so a key can never leave the root.
        return self.root / safe_child(".", key)

    def read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self.path(key).open("rb") as f:
                f.seek(start)
                return f.read(length)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return b""

    def size(self, key: str) -> int | None:
        try:
            info = self.path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        # A directory is a prefix, not an object: None, as `read` answers for it.
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            _write_synced(fd, data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create(self, key: str, data: bytes) -> bytes | None:
        """Create `key` only if absent. The bytes are written to a temporary file first and hard-linked into
        place (`link` fails with EEXIST when the name exists), so the claim is atomic AND a reader never sees
        it half written; where hard links are refused, `O_CREAT | O_EXCL` does the claim instead."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            _write_synced(fd, data)
            try:
                os.link(tmp, target)
                return None
            except FileExistsError:
                return self._claimed_bytes(target)
            except OSError:  # a file system without hard links
                return self._create_exclusive(target, data)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _create_exclusive(self, target: Path, data: bytes) -> bytes | None:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return self._claimed_bytes(target)
        _write_synced(fd, data)
        return None

    @staticmethod
    def _claimed_bytes(target: Path) -> bytes:
        # Linked claims are whole from the start; an O_EXCL claim may be empty for the moment its winner writes.
        deadline = time.monotonic() + _CLAIM_WRITE_GRACE_SECONDS
        while True:
            data = target.read_bytes()
            if data or time.monotonic() > deadline:
                return data
            time.sleep(0.01)

    def append(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(data)
            f.flush()

    def lock(self, key: str) -> AbstractContextManager[None]:
        target = self.path(key)
        return file_lock(target.with_name(f".{target.name}.lock"))

    def list(self, prefix: str) -> list[str]:
        # One scandir and bare names: no Path object per entry (a listing is on every list_runs page).
        try:
            with os.scandir(self.path(prefix)) as entries:
                return sorted(entry.name for entry in entries if not entry.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
