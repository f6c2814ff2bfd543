"""The run bucket as an HF Job sees it: a read-write hf-mount at `/output` (DESIGN §2), the worker's side.

hf-mount is not a POSIX directory (huggingface/hf-mount README, "Consistency model"; `virtual_fs/mod.rs`):
- its default **streaming** writes are append-only and uploaded by `close()`; a writable reopen of an existing
  file without `O_TRUNC` fails with EPERM; nothing is visible to others before the close;
- its **advanced** writes (`--advanced-writes`, always on over NFS) stage the file and flush it asynchronously,
  2 s after the last close and at most 30 s later; the last writer wins;
- there is no locking across machines, and reads of what others wrote may be 10 s (FUSE) to 30 s (NFS) stale.

So every write here replaces a whole object in one `open("wb")` → `write` → `close` (a truncating open, the
one reopen both modes accept): no append, no lock, no temporary file renamed into place. `append` is a
read-modify-write, and `RunRecord` uses it only for logs this worker owns (`atomic_append` is False).

The worker reads back what it wrote (the state, the gate, its own event log) before the mount may show it
(advanced mode: not before the flush): a read of a key this process wrote answers its own bytes unless the
file the mount shows is newer than that write (another writer — the server canceling the run — came later).
"""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from space_factory.domain.layout import safe_child

__all__ = ["MountedBucket"]

# Objects up to this size are remembered after a write, to answer reads before the mount shows them.
_REMEMBER_BYTES = 4 * 1024 * 1024


class MountedBucket:
    """A `Bucket` over a job's hf-mount of the run bucket: whole-object writes only.

    Example:
        >>> import tempfile
        >>> b = MountedBucket(Path(tempfile.mkdtemp()))
        >>> b.write("runs/x/state.json", b"{}"); b.read("runs/x/state.json")
        b'{}'
    """

    atomic_append = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: dict[str, tuple[bytes, float]] = {}  # key → (bytes, wall-clock time of the write)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MountedBucket({str(self.root)!r})"

    def path(self, key: str) -> Path:
        return self.root / safe_child(".", key)

    def read(self, key: str) -> bytes | None:
        with self._lock:
            mine = self._written.get(key)
        path = self.path(key)
        try:
            modified = path.stat().st_mtime
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return mine[0] if mine else None
        if mine is None or data == mine[0] or modified > mine[1]:
            return data
        return mine[0]  # our write is not visible yet (a pending flush)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        data = self.read(key)
        return b"" if data is None else data[start:start + length]

    def size(self, key: str) -> int | None:
        data = self.read(key)
        return None if data is None else len(data)

    def write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        written_at = time.time()
        with target.open("wb") as f:  # O_TRUNC: the one writable reopen hf-mount's streaming mode allows
            f.write(data)
        with self._lock:
            if len(data) <= _REMEMBER_BYTES:
                self._written[key] = (data, written_at)
            else:
                self._written.pop(key, None)

    def append(self, key: str, data: bytes) -> None:
        # Not atomic: only for an object this process alone writes.
        self.write(key, (self.read(key) or b"") + data)

    def create(self, key: str, data: bytes) -> bytes | None:
        # Not a claim across writers (the mount has no exclusive create); the worker claims nothing.
        existing = self.read(key)
        if existing is not None:
            return existing
        self.write(key, data)
        return None

    def lock(self, key: str) -> AbstractContextManager[None]:
        return nullcontext()  # hf-mount has no locks across machines; owners and inboxes replace them

    def list(self, prefix: str) -> list[str]:
        folder = safe_child(".", prefix).rstrip("/")
        try:
            names = {p.name for p in self.path(folder).iterdir()}
        except (FileNotFoundError, NotADirectoryError):
            names = set()
        with self._lock:  # what we wrote there, shown or not yet
            names |= {k[len(folder) + 1:].split("/", 1)[0] for k in self._written if k.startswith(folder + "/")}
        return sorted(n for n in names if n and not n.startswith("."))
