"""What the build benchmarks share: an offline factory home with the tiny test models, and the CLI as JSON.

Imported by the bench scripts (run as `python bench/<script>.py`, so this folder is on `sys.path`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def offline_env(base: Path, *, models: bool = True) -> dict[str, str]:
    """The environment of a bench's factory under `base` (offline HF cache, its own home, owner `bench`).

    With `models`, the tiny test models are written into the cache first (tests/support/tiny_models.py).
    """
    env = {**os.environ, "HF_HOME": str(base / "hf"), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "SPACE_FACTORY_HOME": str(base / "home"),
           "SPACE_FACTORY_OWNER": "bench", "PYTHONPATH": str(ROOT)}
    if models:
        subprocess.run([sys.executable, "-m", "tests.support.tiny_models", env["HF_HOME"]], env=env, check=True,
                       capture_output=True, cwd=ROOT)
    return env


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """`space-factory ARGS --json`, parsed.

    Raises:
        RuntimeError: the command printed no JSON; the message holds its stderr's tail.
    """
    done = subprocess.run([sys.executable, "-m", "space_factory", *args, "--json"], env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"space-factory {args[0]}: {done.stderr[-2000:]}") from exc
