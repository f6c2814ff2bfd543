"""The hf backend's jobs: `run_job` running the worker with the run bucket mounted at /output (DESIGN §2).

The job gets the server's own package as a wheel kept in the bucket (`factory/wheels/…`), installs it
and runs `space-factory worker RUN_ID --bucket-dir /output`. The user's token reaches the job only as
the `HF_TOKEN` secret, and a configured coding-agent key only as the `SPACE_FACTORY_AGENT_API_KEY` secret:
never in the command, the env or the labels (DESIGN §9). The worker's plain settings go in the env.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from huggingface_hub import HfApi, JobInfo, Volume
from huggingface_hub.errors import HfHubHTTPError

from space_factory.backends.base import JobStatus
from space_factory.backends.hf.auth import is_oauth_token
from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.hf.errors import hub_errors, hub_stage, status_of
from space_factory.backends.hf.shipping import build_wheel
from space_factory.backends.job_settings import WORKER_SETTINGS, agent_secrets, settings_env
from space_factory.config import Settings
from space_factory.domain.stages import JobStage

__all__ = ["MOUNT", "RUN_LABEL", "HfJobRunner"]

T = TypeVar("T")
MOUNT = "/output"
RUN_LABEL = "space-factory-run"
CREATE_ATTEMPTS = 4
CREATE_BACKOFF_SECONDS = 1.0
# A job's stage is re-read at most this often; in between a status poll costs no Hub request (issue 4).
STATUS_TTL_SECONDS = 15.0


def to_job_status(info: JobInfo) -> JobStatus:
    stage = hub_stage(JobStage, info.status.stage, f"read the status of job {info.id}")
    return JobStatus(id=info.id, stage=stage, message=info.status.message or None, url=info.url)


class HfJobRunner:
    """Starts each run's worker as a Hugging Face Job.

    Args:
        api: the Hub client.
        token: the caller's token; sent per call and, to the job, as a secret (with the agent key, if set).
        namespace: the caller's namespace (jobs run there).
        bucket: the run bucket, mounted read-write at /output.
        settings: image, flavor, timeout and the worker's settings.
    """

    def __init__(self, api: HfApi, token: str, namespace: str, bucket: HfBucket, settings: Settings) -> None:
        self.api = api
        self._token = token
        self.namespace = namespace
        self.bucket = bucket
        self.settings = settings
        self._seen: dict[str, tuple[float, JobStatus]] = {}
        self._ended: dict[str, float] = {}  # job id → when it ended (the Hub's finishedAt, else when first seen so)
        self._wheel_key: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HfJobRunner({self.namespace!r})"

    def _ship(self) -> str:
        """The bucket key of this server's wheel, uploaded on first use."""
        with self._lock:
            if self._wheel_key is None:
                wheel = build_wheel(Path(self.settings.home) / "wheels")
                key = f"factory/wheels/{wheel.name}"
                if self.bucket.size(key) != wheel.stat().st_size:
                    self.bucket.write(key, wheel.read_bytes())
                self._wheel_key = key
            return self._wheel_key

    def _retry_5xx(self, call: Callable[[], T], run_id: str) -> T:
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return call()
            except HfHubHTTPError as exc:
                code = status_of(exc)
                if code is None or code < 500 or attempt == CREATE_ATTEMPTS - 1:
                    raise
                found = self._find(run_id)  # a 5xx may still have created the job: never start two
                if found is not None:
                    return found  # type: ignore[return-value]
                time.sleep(CREATE_BACKOFF_SECONDS * 2 ** attempt)
        raise AssertionError("unreachable")

    def _find(self, run_id: str) -> JobInfo | None:
        jobs = self.api.list_jobs(labels={RUN_LABEL: run_id}, namespace=self.namespace, token=self._token)
        return next(iter(jobs), None)

    def launch(self, run_id: str) -> JobStatus:
        wheel = f"{MOUNT}/{self._ship()}"
        script = (f"pip install --quiet --disable-pip-version-check {shlex.quote(wheel)} && "
                  f"exec space-factory worker {shlex.quote(run_id)} --bucket-dir {MOUNT}")
        env = settings_env(self.settings, WORKER_SETTINGS)
        secrets = {"HF_TOKEN": self._token, **agent_secrets(self.settings)}
        # An OAuth token holds only the scopes granted at sign-in; `jobs` is one a sign-in may leave out.
        needs = ("an OAuth token needs the 'jobs' scope: sign in again and grant it" if is_oauth_token(self._token)
                 else "needs the 'jobs' scope")
        with hub_errors(f"start a Hugging Face Job ({needs}; Jobs need a PRO or paying account)", scope="jobs"):
            info = self._retry_5xx(lambda: self.api.run_job(
                image=self.settings.job_image, command=["sh", "-c", script], env=env,
                secrets=secrets, flavor=self.settings.job_flavor,
                timeout=self.settings.job_timeout, labels={RUN_LABEL: run_id, "app": "space-factory"},
                volumes=[Volume(type="bucket", source=self.bucket.bucket_id, mount_path=MOUNT, read_only=False)],
                namespace=self.namespace, token=self._token), run_id)
        return self._remember(to_job_status(info), info)

    def _remember(self, status: JobStatus, info: JobInfo) -> JobStatus:
        with self._lock:
            self._seen[status.id] = (time.monotonic(), status)
            if status.terminal and status.id not in self._ended:
                finished = info.finished_at.timestamp() if info.finished_at else None
                self._ended[status.id] = min(finished or time.time(), time.time())
        return self._settled(status)

    def _settled(self, status: JobStatus) -> JobStatus:
        """`status`, marked `settling` while an ended job's mount may still be flushing what it wrote.

        hf-mount commits a streaming write at `close()`, but an advanced-writes mount flushes 2 s after the
        last close and at most 30 s later (its README, "Consistency model"); `job_settle_seconds` covers that.
        """
        if not status.terminal:
            return status
        with self._lock:
            ended = self._ended.get(status.id, time.time())
        return replace(status, settling=time.time() - ended < self.settings.job_settle_seconds)

    def status(self, job_id: str) -> JobStatus:
        with self._lock:
            seen = self._seen.get(job_id)
        if seen is not None and (seen[1].terminal or time.monotonic() - seen[0] < STATUS_TTL_SECONDS):
            return self._settled(seen[1])
        with hub_errors(f"read the status of job {job_id}", scope="jobs"):
            info = self.api.inspect_job(job_id=job_id, namespace=self.namespace, token=self._token)
        status = to_job_status(info)
        if status.stage == JobStage.ERROR and not status.message:
            # The Hub gave no reason: the job's last output line is the best one (redacted by the service).
            lines = [line for line in self.logs(job_id, tail=20).splitlines() if line.strip()]
            status = replace(status, message=lines[-1][:300] if lines else None)
        return self._remember(status, info)

    def cancel(self, job_id: str) -> JobStatus:
        with hub_errors(f"cancel job {job_id}", scope="jobs"):
            self.api.cancel_job(job_id=job_id, namespace=self.namespace, token=self._token)
            info = self.api.inspect_job(job_id=job_id, namespace=self.namespace, token=self._token)
        return self._remember(to_job_status(info), info)

    def logs(self, job_id: str, tail: int = 200) -> str:
        """The job's own output (untrusted: redact before storing or showing)."""
        with hub_errors(f"read the logs of job {job_id}", scope="jobs"):
            return "\n".join(self.api.fetch_job_logs(job_id=job_id, namespace=self.namespace, tail=tail,
                                                     token=self._token))
