"""Drive the real `space-factory` command in a subprocess, as a user or a script would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from space_factory.backends.local.process import ProcessRef, is_alive


def cli(*args: str, timeout: float = 600) -> tuple[int, Any, str]:
    """Run `python -m space_factory ARGS --json`; return (exit code, parsed stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "space_factory", *args, "--json"], capture_output=True, text=True,
                          timeout=timeout, check=False)
    try:
        payload = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError as exc:  # --json promises JSON only on stdout
        raise AssertionError(f"stdout is not JSON: {done.stdout[:2000]!r}") from exc
    return done.returncode, payload, done.stderr


def wait_for(predicate: Any, *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_dir(factory_home: Path, run_id: str, owner: str = "tester") -> Path:
    return factory_home / "buckets" / owner / "space-factory-runs" / "runs" / run_id


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) pids whose command line contains `text`."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and is_alive(ProcessRef(int(entry.name), None)):
            pids.append(int(entry.name))
    return pids
