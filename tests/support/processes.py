"""The processes tests start, found through /proc, and ended so that none outlives its test or the suite.

Liveness and process fields come from the local backend's own reader (`process._proc_stat`), so the tests
read /proc exactly as the code under test does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

from space_factory.backends.local.process import ProcessRef, _proc_stat, end_group, is_alive
from space_factory.backends.local.spaces import LocalSpaceHost
from space_factory.config import Settings

# Fields of /proc/PID/stat after the command name (`process._proc_stat`): state, parent pid, process group.
_STATE, _PPID, _PGRP = 0, 1, 2


def _live_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _proc_stat(int(entry.name))
        if fields and fields[_STATE] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    return [pid for pid in _live_pids() if (fields := _proc_stat(pid)) and fields[_PGRP] == str(pgid)]


def children(pid: int) -> list[int]:
    """Live (non-zombie) children of a process."""
    return [child for child in _live_pids() if (fields := _proc_stat(child)) and fields[_PPID] == str(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) pids whose command line contains `text`."""
    return [pid for pid in _live_pids() if text in _cmdline(pid) and is_alive(ProcessRef(pid, None))]


def _works_under(pid: int, root: str) -> bool:
    """The process runs in a directory under `root` or names one on its command line."""
    with contextlib.suppress(OSError):
        cwd = os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)")
        if cwd == root or cwd.startswith(root + "/"):
            return True
    command = _cmdline(pid) + " "
    return f"{root}/" in command or f"{root} " in command


def end_processes_under(root: Path) -> list[int]:
    """End every process group with a member that works under `root` (a test's or the session's own temporary
    directory, so only what the tests started); return the pids found.

    A local Space's app runs in its supervisor's group with no path of ours on its command line, and an
    emulated job in its own group: ending whole groups ends them too, even once their leader is gone.
    """
    prefix = str(root.resolve())
    found = [pid for pid in _live_pids() if pid != os.getpid() and _works_under(pid, prefix)]
    own_group = os.getpgrp()
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            pgid = os.getpgid(pid)
            if pgid == own_group:  # started without a session of its own: end it alone, never pytest's group
                os.kill(pid, signal.SIGKILL)
            else:
                end_group(pgid, grace=2.0)
    return found


def end_factory_processes(home: Path) -> None:
    """Stop every local Space and end every local job a factory home holds (the local backend's own stop)."""
    settings = Settings(home=home)
    spaces = LocalSpaceHost(settings.spaces_dir, settings.venvs_dir, env={})  # stopping needs no environment
    for space in spaces.list_spaces():
        spaces.stop(str(space["id"]))
    if settings.jobs_dir.is_dir():
        for pid_file in settings.jobs_dir.glob("*/pid.json"):
            end_group(int(json.loads(pid_file.read_text())["pid"]), grace=0.5)
