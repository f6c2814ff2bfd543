"""Drive the real `space-factory` command in a subprocess, as a user or a script would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, Any, str]:
    """Run `python -m space_factory ARGS --json` (in this process's environment unless `env` is given); return
    (exit code, parsed stdout or None when it is empty, stderr)."""
    done = subprocess.run([sys.executable, "-m", "space_factory", *args, "--json"], capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)
    try:
        payload = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError as exc:  # --json promises JSON only on stdout
        raise AssertionError(f"stdout is not JSON: {done.stdout[:2000]!r}") from exc
    return done.returncode, payload, done.stderr


def run_dir(factory_home: Path, run_id: str, owner: str = "tester") -> Path:
    return factory_home / "buckets" / owner / "space-factory-runs" / "runs" / run_id
