"""The local backend's bucket: a directory (DESIGN §2)."""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from space_factory.backends.local.locks import file_lock
from space_factory.domain.layout import safe_child


class DirectoryBucket:
    """A `Bucket` kept in a directory; writes are atomic renames, appends are locked.

    Example:
        >>> import tempfile
        >>> b = DirectoryBucket(Path(tempfile.mkdtemp()))
        >>> b.write("runs/x/state.json", b"{}"); b.read("runs/x/state.json")
        b'{}'
    """

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
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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
        try:
            return sorted(p.name for p in self.path(prefix).iterdir() if not p.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
