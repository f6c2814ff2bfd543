"""Inside an emulated job: its bucket volume behaves like hf-mount, not like a local directory.

What hf-mount does (huggingface/hf-mount: README "Consistency model"; `src/virtual_fs/mod.rs` `open`, `rename`;
`src/flush.rs`), and what this shim makes the job's Python see under the mount (`HUB_EMULATOR_MOUNT`):
- **streaming** (hf-mount's default): a file opened for writing is staged and reaches the bucket only when it
  is closed; a writable open of an existing file without truncation (`"a"`, `"r+"`) fails with EPERM.
- **advanced** (`--advanced-writes`, always on over NFS): any open works (a non-truncating one starts from the
  file's bytes); a closed file reaches the bucket `HUB_EMULATOR_MOUNT_DELAY` seconds later — the emulator
  publishes it from the journal, also after the job ended — and the last writer wins; the job reads (`open`)
  its own unflushed files meanwhile, though `stat` and listings show the bucket's files only.
- both: no lock across writers (`flock` → ENOLCK) and no rename. The last two are stricter than hf-mount
  (it keeps locks local to one machine and renames in two remote steps), so no code can lean on them.
  `os.open` for writing is refused too: only `open()` is staged.

Every close is journaled (`HUB_EMULATOR_MOUNT_JOURNAL`, one JSON line each) so the emulator can publish it and
count the mount's commit to the Hub as a request of the job's token.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import io
import json
import os
import shutil
import threading
import time
import uuid
from typing import Any

# Set by `install()` from the job's environment (importing this module changes nothing).
ROOT = MODE = STAGING = JOURNAL = ""
DELAY = 0.0

_open = io.open
_os_open, _replace, _rename, _flock, _lockf = os.open, os.replace, os.rename, fcntl.flock, fcntl.lockf
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_lock = threading.Lock()
_unflushed: dict[str, tuple[str, float]] = {}  # target → (its staged copy, when the emulator publishes it)


def _inside(path: Any) -> str | None:
    """The real path of `path` if it is under the mount, else None."""
    if isinstance(path, int):
        return None
    try:
        real = os.path.realpath(os.fspath(path))
    except TypeError:
        return None
    return real if real == ROOT or real.startswith(ROOT + os.sep) else None


def _refused(what: str, path: Any) -> PermissionError:
    return PermissionError(errno.EPERM, f"Operation not permitted (emulated hf-mount: {what})", os.fspath(path))


def _journal(entry: dict[str, Any]) -> None:
    with _lock, _open(JOURNAL, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


class _StagedFile:
    """The file object a write gets: the staged copy's, published when it is closed."""

    def __init__(self, inner: Any, on_close: Any) -> None:
        self._inner, self._on_close, self._published = inner, on_close, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __iter__(self) -> Any:
        return iter(self._inner)

    def __enter__(self) -> _StagedFile:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False

    def close(self) -> None:
        if self._published:
            return
        self._published = True
        self._inner.close()
        self._on_close()


def _staged_read(target: str) -> str | None:
    with _lock:
        staged = _unflushed.get(target)
        if staged is not None and time.time() > staged[1] + 1.0:  # published by now: the bucket has it
            del _unflushed[target]
            staged = None
    return staged[0] if staged else None


def mount_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    target = _inside(file)
    if target is None:
        return _open(file, mode, *args, **kwargs)
    if not set(mode) & set("wax+"):
        staged = _staged_read(target) if MODE == "advanced" else None
        return _open(staged or file, mode, *args, **kwargs)
    unflushed = _staged_read(target) if MODE == "advanced" else None
    exists = unflushed is not None or os.path.exists(target)
    truncating = "w" in mode
    if "x" in mode and exists:
        raise FileExistsError(errno.EEXIST, "File exists", os.fspath(file))
    if MODE == "streaming" and exists and not truncating and "x" not in mode:
        raise _refused("an existing file reopens for writing only with O_TRUNC", file)
    if not os.path.isdir(os.path.dirname(target)):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", os.fspath(file))
    staged = os.path.join(STAGING, uuid.uuid4().hex)
    if exists and not truncating:  # advanced mode downloads the file before a non-truncating edit
        shutil.copyfile(unflushed or target, staged)
    inner = _open(staged, mode.replace("x", "w"), *args, **kwargs)

    def publish() -> None:
        closed = time.time()
        if MODE == "streaming":  # committed by close(): the bucket shows it now
            _replace(staged, target)
            _journal({"target": target, "closed": closed, "published": True})
        else:
            with _lock:
                _unflushed[target] = (staged, closed + DELAY)
            _journal({"target": target, "staged": staged, "closed": closed, "due": closed + DELAY})

    return _StagedFile(inner, publish)


def mount_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
    if flags & _WRITE_FLAGS and _inside(path) is not None:
        raise _refused("files are written through open() only here", path)
    return _os_open(path, flags, *args, **kwargs)


def _no_rename(original: Any) -> Any:
    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if _inside(src) is not None or _inside(dst) is not None:
            raise _refused("no atomic rename", dst)
        original(src, dst, *args, **kwargs)

    return rename


def _on_mount(fd: Any) -> bool:
    number = fd if isinstance(fd, int) else fd.fileno()
    try:
        path = os.readlink(f"/proc/self/fd/{number}")
    except OSError:
        return False
    return _inside(path) is not None or path.startswith(os.path.realpath(STAGING) + os.sep)


def _no_locks(original: Any) -> Any:
    def lock(fd: Any, *args: Any, **kwargs: Any) -> Any:
        if _on_mount(fd):
            raise OSError(errno.ENOLCK, "No locks available (emulated hf-mount: no lock across writers)")
        return original(fd, *args, **kwargs)

    return lock


def install() -> None:
    """Patch this process's file API for paths under the mount named by `HUB_EMULATOR_MOUNT`."""
    global ROOT, MODE, STAGING, JOURNAL, DELAY
    ROOT = os.path.realpath(os.environ["HUB_EMULATOR_MOUNT"])
    MODE = os.environ.get("HUB_EMULATOR_MOUNT_MODE", "streaming")
    STAGING = os.environ["HUB_EMULATOR_MOUNT_STAGING"]
    JOURNAL = os.environ["HUB_EMULATOR_MOUNT_JOURNAL"]
    DELAY = float(os.environ.get("HUB_EMULATOR_MOUNT_DELAY", "3"))
    os.makedirs(STAGING, exist_ok=True)
    builtins.open = mount_open
    io.open = mount_open
    os.open = mount_os_open
    os.replace = _no_rename(_replace)
    os.rename = _no_rename(_rename)
    fcntl.flock = _no_locks(_flock)
    fcntl.lockf = _no_locks(_lockf)
