"""The local backend's Spaces: a directory plus a supervised Gradio process on 127.0.0.1 (DESIGN §2)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from space_factory.backends.base import HardwareResult, SpaceRuntime
from space_factory.backends.local.locks import file_lock
from space_factory.backends.local.process import ProcessRef, end_group, is_alive, process_start_time, spawn_detached
from space_factory.backends.local.space_files import read_json, set_runtime, space_dir, write_json_atomic
from space_factory.backends.local.supervisor import end_preloader
from space_factory.domain.errors import InvalidSpaceId, SpaceExists, SpaceMoved
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.ids import validate_space_id
from space_factory.domain.secret_env import without_secrets
from space_factory.domain.stages import ACTIVE_SPACE_STAGES, SpaceStage

LOCAL_HARDWARE = "cpu-basic"
_LOG_LIMIT = 1_000_000


class LocalSpaceHost:
    """Spaces kept under `<home>/spaces/`, each run by a detached supervisor (see `supervisor.py`).

    Args:
        spaces_dir: where Space folders live.
        venvs_dir: where the shared per-requirements venvs live.
        env: the environment the supervisor and, filtered, the app start with.
    """

    def __init__(self, spaces_dir: Path, venvs_dir: Path, env: dict[str, str]) -> None:
        self.spaces_dir = spaces_dir
        self.venvs_dir = venvs_dir
        self.env = env

    def _folder(self, space_id: str) -> Path:
        return space_dir(self.spaces_dir, validate_space_id(space_id))

    def create(self, space_id: str, *, hardware: str | None, private: bool = True) -> SpaceRuntime:
        folder = self._folder(space_id)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()  # atomic: two runs can never both create (and so overwrite) one Space
        except FileExistsError:
            raise SpaceExists(space_id) from None
        write_json_atomic(folder / "space.json", {
            "id": space_id, "private": private, "sdk": "gradio", "app_file": "app.py",
            "hardware_requested": hardware, "hardware_current": LOCAL_HARDWARE,
            "created_at": datetime.now(UTC).isoformat(),
        })
        set_runtime(folder, SpaceStage.NO_APP_FILE)
        return self.runtime(space_id)

    def upload(self, space_id: str, folder: Path, *, run_id: str) -> str | None:
        target = self._folder(space_id)
        if not target.exists():
            raise InvalidSpaceId(space_id, "this Space does not exist; create it first")
        with file_lock(target / "commit.lock"):
            self._replace(space_id, target, folder, run_id=run_id)
            return tree_digest(target / "repo")

    def commit(self, space_id: str, folder: Path, *, run_id: str, written: Sequence[str],
               removed: Sequence[str], message: str, parent_commit: str | None) -> str | None:
        # A local Space has no history: its files are replaced by the revised app and its app restarted. The
        # supervisor reuses the venv while requirements.txt is unchanged (its build log says which).
        target = self._folder(space_id)
        if not target.exists():
            raise InvalidSpaceId(space_id, "this Space does not exist; create it first")
        with file_lock(target / "commit.lock"):
            head = tree_digest(target / "repo")
            if parent_commit is not None and head != parent_commit:
                raise SpaceMoved(space_id, parent_commit, head)
            self._replace(space_id, target, folder, run_id=run_id)
            return tree_digest(target / "repo")

    def head(self, space_id: str) -> str | None:
        return tree_digest(self._folder(space_id) / "repo")

    def _replace(self, space_id: str, target: Path, folder: Path, *, run_id: str) -> None:
        # The supervisor and its app go; the preloaded interpreter stays, for the next supervisor to reuse when
        # the venv and environment are unchanged (it replaces it otherwise).
        self._stop_supervisor(target)
        repo = target / "repo"
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(folder, repo, symlinks=False)
        meta = read_json(target / "space.json")
        meta["run_id"] = run_id
        write_json_atomic(target / "space.json", meta)
        for log in ("build.log", "run.log"):
            (target / log).unlink(missing_ok=True)
        set_runtime(target, SpaceStage.BUILDING, message=None, url=None, port=None)
        cmd = [sys.executable, "-m", "space_factory.backends.local.supervisor", str(target), str(self.venvs_dir)]
        ref = spawn_detached(cmd, log_path=target / "supervisor.log", pid_path=target / "supervisor.json",
                             env=self.env)
        meta["supervisor"] = ref.to_json()
        write_json_atomic(target / "space.json", meta)

    def _supervisor(self, folder: Path) -> ProcessRef | None:
        data = read_json(folder / "supervisor.json")
        try:
            return ProcessRef.from_json(data) if data else None
        except (TypeError, ValueError):  # a damaged record: treat as no supervisor
            return None

    def runtime(self, space_id: str) -> SpaceRuntime:
        folder = self._folder(space_id)
        meta = read_json(folder / "space.json")
        if not meta:
            return SpaceRuntime(space_id, SpaceStage.NOT_FOUND, message="no such local Space")
        data = read_json(folder / "runtime.json")
        stage = _stage(data.get("stage"))
        message = data.get("message")
        if stage in ACTIVE_SPACE_STAGES:
            ref = self._supervisor(folder)
            if ref is None or not is_alive(ref):
                # The supervisor died without saying so (killed): the Space is down, like a crashed container.
                stage, message = SpaceStage.RUNTIME_ERROR, "the Space's supervisor process is gone"
                set_runtime(folder, stage, message=message)
        return SpaceRuntime(space_id=space_id, stage=stage, hardware=meta.get("hardware_current"),
                            requested_hardware=meta.get("hardware_requested"),
                            url=data.get("url") if stage == SpaceStage.RUNNING else None,
                            message=str(message) if message else None)

    def logs(self, space_id: str, kind: str) -> str:
        name = {"build": "build.log", "run": "run.log"}.get(kind)
        if name is None:
            raise ValueError(f"log kind must be 'build' or 'run', not {kind!r}")
        path = self._folder(space_id) / name
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - _LOG_LIMIT))
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def request_hardware(self, space_id: str, flavor: str) -> HardwareResult:
        if flavor == LOCAL_HARDWARE:
            return HardwareResult(HardwareOutcome.ALREADY_SET, "local Spaces run on this machine's CPU (cpu-basic)")
        detail = f"{flavor!r} is not available on the local backend: local Spaces run on this machine's CPU"
        return HardwareResult(HardwareOutcome.NOT_AVAILABLE, detail)

    def stop(self, space_id: str) -> bool:
        folder = self._folder(space_id)
        was_running = self._stop_supervisor(folder)
        preloaded = end_preloader(folder)
        if was_running or preloaded or read_json(folder / "runtime.json").get("stage") in ACTIVE_SPACE_STAGES:
            set_runtime(folder, SpaceStage.STOPPED, message="stopped by request", url=None)
        return was_running or preloaded

    def _stop_supervisor(self, folder: Path) -> bool:
        """End the supervisor's process group (pip, a cold-started app); True if it was running."""
        ref = self._supervisor(folder)
        # The whole group, even when the supervisor itself is gone: an app it left behind still serves (the
        # kernel never hands out a pid still in use as a group id). A pid that now names another process
        # means our group is long gone and the number was recycled: that group is not ours to end.
        recycled = ref is not None and ref.start_time is not None and \
            process_start_time(ref.pid) not in (None, ref.start_time)
        return bool(ref and not recycled and end_group(ref.pid))

    def grant_model_access(self, space_id: str, model: str) -> bool:
        # A local Space loads its model from this machine's HF cache, offline: it never needs a token.
        return False

    def auth_headers(self) -> dict[str, str]:
        return {}

    def list_spaces(self) -> list[dict[str, object]]:
        """Every local Space with its stage, URL and the run that built it."""
        out: list[dict[str, object]] = []
        if not self.spaces_dir.exists():
            return out
        for meta_path in sorted(self.spaces_dir.glob("*/*/space.json")):
            meta = json.loads(meta_path.read_text())
            runtime = self.runtime(str(meta["id"]))
            out.append({"id": meta["id"], "stage": runtime.stage, "url": runtime.url,
                        "run_id": meta.get("run_id"), "created_at": meta.get("created_at")})
        return out


def tree_digest(repo: Path) -> str | None:
    """A local Space's "commit": a digest of its files' paths and contents; None when it has no files yet.

    Example:
        >>> tree_digest(Path("/nonexistent")) is None
        True
    """
    if not repo.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in repo.rglob("*") if p.is_file()):
        digest.update(path.relative_to(repo).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:40]


def _stage(raw: object) -> SpaceStage:
    """The stage `runtime.json` holds; a missing or damaged one reads as a Space with no app yet."""
    try:
        return SpaceStage(str(raw)) if raw is not None else SpaceStage.NO_APP_FILE
    except ValueError:
        return SpaceStage.NO_APP_FILE


def factory_env() -> dict[str, str]:
    """The environment handed to local jobs and supervisors: this process's, minus the secret variables."""
    return without_secrets(os.environ)
