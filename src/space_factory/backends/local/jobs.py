"""The local backend's jobs: a detached process running `space-factory worker` (DESIGN §2).

A job lives in `<home>/jobs/<job_id>/`: `pid.json` (the job process), `exit.json` (written by the job
process when the worker ends: exit code or signal), `canceled` (a marker cancel leaves) and `job.log`
(anything the worker printed outside its own log, e.g. a crash before logging was set up).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from space_factory.backends.base import JobStatus
from space_factory.backends.local.process import ProcessRef, end_group, is_alive, spawn_detached
from space_factory.domain.stages import JobStage


def job_id_for(run_id: str) -> str:
    return f"local-{run_id}"


def describe_exit(code: int) -> str:
    """`exit code 3` or `killed by signal 9 (SIGKILL)`."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {-code} ({name})"
    return f"exit code {code}"


class LocalJobRunner:
    """Runs each run's worker as a detached local process.

    Args:
        jobs_dir: where job folders are kept.
        bucket_dir: the bucket root the worker writes the run record into.
        env: the job's environment, without secrets (the same the local Spaces are given).
        worker_env: added for the job only: settings the worker must see and the coding agent's key
            (`job_settings`). It reaches the worker through its environment alone: never its command line,
            `command.json` or a Space.
    """

    def __init__(self, jobs_dir: Path, bucket_dir: Path, env: dict[str, str],
                 worker_env: Mapping[str, str] | None = None) -> None:
        self.jobs_dir = jobs_dir
        self.bucket_dir = bucket_dir
        self.env = env
        self._worker_env = dict(worker_env or {})

    def __repr__(self) -> str:  # the worker env may hold the agent's key
        return f"LocalJobRunner({str(self.jobs_dir)!r})"

    def _dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def launch(self, run_id: str) -> JobStatus:
        job_id = job_id_for(run_id)
        folder = self._dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        worker = [sys.executable, "-m", "space_factory", "worker", run_id, "--bucket-dir", str(self.bucket_dir)]
        (folder / "command.json").write_text(json.dumps(worker))
        cmd = [sys.executable, "-m", "space_factory.backends.local.job_process", str(folder)]
        spawn_detached(cmd, log_path=folder / "job.log", pid_path=folder / "pid.json",
                       env={**self.env, **self._worker_env})
        return self.status(job_id)

    def _ref(self, job_id: str) -> ProcessRef | None:
        try:
            return ProcessRef.from_json(json.loads((self._dir(job_id) / "pid.json").read_text()))
        except (OSError, ValueError):
            return None

    def status(self, job_id: str) -> JobStatus:
        folder = self._dir(job_id)
        canceled = (folder / "canceled").exists()
        try:
            exit_info = json.loads((folder / "exit.json").read_text())
        except (OSError, ValueError):
            exit_info = None
        if exit_info is not None:
            code = int(exit_info.get("code", 1))
            if canceled:
                return JobStatus(job_id, JobStage.CANCELED, "canceled by request", code)
            if code == 0:
                return JobStatus(job_id, JobStage.COMPLETED, None, 0)
            last = self._last_log_line(job_id)
            message = f"the worker process ended: {describe_exit(code)}" + (f" ({last})" if last else "")
            return JobStatus(job_id, JobStage.ERROR, message, code)
        ref = self._ref(job_id)
        if ref is None:
            return JobStatus(job_id, JobStage.ERROR, "the job has no process record")
        if is_alive(ref):
            return JobStatus(job_id, JobStage.RUNNING)
        if canceled:
            return JobStatus(job_id, JobStage.CANCELED, "canceled by request")
        return JobStatus(job_id, JobStage.ERROR, "the job process disappeared without recording an exit (killed?)")

    def _last_log_line(self, job_id: str) -> str | None:
        """The last line the job printed outside the worker's own log (e.g. a crash before logging started)."""
        try:
            with (self._dir(job_id) / "job.log").open("rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 4096))
                lines = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()]
        except OSError:
            return None
        if not lines:
            return None
        # The line may name files under the factory's home; keep paths out of messages (STYLE R6).
        return lines[-1].replace(str(self.jobs_dir.parent), "$SPACE_FACTORY_HOME")[:300]

    def cancel(self, job_id: str) -> JobStatus:
        folder = self._dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "canceled").touch()
        ref = self._ref(job_id)
        if ref is not None:
            # The whole group, even when the job process itself is gone: a worker it left behind still runs.
            end_group(ref.pid)
        return self.status(job_id)
