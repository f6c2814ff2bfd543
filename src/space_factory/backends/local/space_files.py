"""The on-disk layout of a local Space, shared by the host (in the factory) and its supervisor process.

    <home>/spaces/<owner>/<name>/
        space.json        id, private, hardware, created_at, run_id
        runtime.json      stage, url, port, message — written by the supervisor
        supervisor.json   pid of the supervisor (its process group holds pip, and the app when started cold)
        preloader.json    pid, socket, port and key of the preloaded interpreter the app is forked from
                          (`preloader.py`; its own session, kept across uploads that keep the venv)
        preloader.log     its output (how many modules it preloaded)
        app_modules.txt   the modules the last app imported (what the next preloader imports)
        preload_skip.txt  modules whose import started a thread in a preloader: never preloaded again
        repo/             the uploaded files
        build.log         venv + pip output
        run.log           the app's output
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def space_dir(spaces_dir: Path, space_id: str) -> Path:
    owner, name = space_id.split("/", 1)
    return spaces_dir / owner / name


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def set_runtime(folder: Path, stage: str, **fields: Any) -> None:
    current = read_json(folder / "runtime.json")
    current.update(fields)
    current["stage"] = stage
    current["updated_at"] = datetime.now(UTC).isoformat()
    write_json_atomic(folder / "runtime.json", current)
