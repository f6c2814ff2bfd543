"""Drive the real `space-factory` command in a subprocess, as a user or a script would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
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


def models_on_demand(builder_module: str, hf_home: Path, root: Path) -> Callable[[str], str]:
    """name → repo id: builds a tiny model with `python -m builder_module HF_HOME NAME` into the session's HF cache
    the first time a test asks for it. A subprocess, because the HF environment is frozen at import (tiny-models
    P1); only the models the selected tests use are built, so the shared `tiny_models` fixture stays fast."""
    built: dict[str, str] = {}

    def repo(name: str) -> str:
        if name not in built:
            done = subprocess.run([sys.executable, "-m", builder_module, str(hf_home), name], cwd=root,
                                  capture_output=True, text=True, timeout=600, check=False)
            assert done.returncode == 0, done.stderr[-3000:]
            built.update(json.loads(done.stdout.strip().splitlines()[-1]))
        return built[name]

    return repo
