"""Make this interpreter reachable by the coding agent's unprivileged user, for the length of a test.

In a `python:3.12` job the interpreter is `/usr/local/bin/python3`, which every user can run; on a test machine
it often lives under a 0700 home (pyenv in `/root`), so a sandboxed Pi could not run the `hf` CLI. This adds
o+x (pass through, never list) to the interpreter's parent directories that lack it, and takes it back after.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def interpreter_reachable() -> Iterator[list[Path]]:
    """Within the block, other users can traverse to (and so run) `sys.executable`'s real file.

    Yields the directories it changed (restored on exit).
    """
    changed: list[tuple[Path, int]] = []
    real = Path(os.path.realpath(sys.executable))
    for folder in real.parents:
        try:
            info = folder.stat()
        except OSError:
            continue
        if info.st_uid == os.getuid() and not info.st_mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
            changed.append((folder, stat.S_IMODE(info.st_mode)))
    try:
        yield [folder for folder, _ in changed]
    finally:
        for folder, mode in reversed(changed):
            with suppress(OSError):
                folder.chmod(mode)
