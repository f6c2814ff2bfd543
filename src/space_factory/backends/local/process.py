"""Detached processes for the local backend: start one that outlives its launcher, check it, end its group.

A job or a Space supervisor must survive the CLI or server that started it, and must not linger as a
zombie of that process, so it is started through `detach` (a double fork with `setsid`). Its pid and
start time are recorded, so a recycled pid is never mistaken for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRef:
    """A detached process: its pid (also its process group id) and its kernel start time."""

    pid: int
    start_time: str | None

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ProcessRef:
        pid = data.get("pid")
        start = data.get("start_time")
        return cls(pid=int(pid) if isinstance(pid, int | str) else -1, start_time=str(start) if start else None)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def is_alive(ref: ProcessRef) -> bool:
    """True while the recorded process runs (not a zombie, not a recycled pid)."""
    if ref.pid <= 0:
        return False
    fields = _proc_stat(ref.pid)
    if fields is None:
        try:
            os.kill(ref.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False
    return ref.start_time is None or fields[19] == ref.start_time


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A group whose members are all zombies is as good as gone.
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _proc_stat(int(entry.name))
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def end_group(pgid: int, *, grace: float = 5.0) -> bool:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds. True if it was running."""
    if pgid <= 1 or not group_alive(pgid):
        return False
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 5.0
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def spawn_detached(cmd: list[str], *, log_path: Path, pid_path: Path, env: dict[str, str],
                   cwd: Path | None = None) -> ProcessRef:
    """Start `cmd` in a new session, detached from this process; its output goes to `log_path`.

    Returns once the command has been exec'd (or failed to start), with its recorded pid.

    Raises:
        OSError: the command could not be started.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.unlink(missing_ok=True)
    helper = [sys.executable, "-m", "space_factory.backends.local.detach", str(pid_path), str(log_path), "--", *cmd]
    done = subprocess.run(helper, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if done.returncode != 0:
        raise OSError(f"could not start {cmd[0]!r}: {done.stderr.decode(errors='replace')[-500:]}")
    data = json.loads(pid_path.read_text())
    return ProcessRef.from_json(data)
