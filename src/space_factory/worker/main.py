"""The worker's entry point: what a job runs (`space-factory worker RUN_ID --bucket-dir DIR`)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from space_factory.backends.local import local_backend
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.ids import validate_run_id
from space_factory.domain.phases import RunStatus
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import RunRequest
from space_factory.record import RunRecord
from space_factory.worker.pipeline import Pipeline

SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN", "OPENAI_API_KEY")


class RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.redact_text(super().format(record))


class Canceled(BaseException):
    """Raised in the worker when its job is stopped (SIGTERM): unwind without writing more."""


def run_worker(run_id: str, bucket_dir: Path, settings: Settings | None = None) -> int:
    """Run the pipeline for `run_id` whose record is under `bucket_dir`; the exit code is 0 unless the run failed."""
    settings = settings or Settings()
    validate_run_id(run_id)
    record = RunRecord(DirectoryBucket(bucket_dir), run_id)
    request = record.read_model(layout.REQUEST, RunRequest)
    if request is None:
        sys.stderr.write(f"run {run_id}: no request.json under {bucket_dir}\n")
        return 2
    redactor = Redactor([os.environ[k] for k in SECRET_ENV if os.environ.get(k)])
    log_path = DirectoryBucket(bucket_dir).path(record.key(layout.WORKER_LOG))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter(redactor))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpx2", "httpcore", "huggingface_hub", "gradio_client", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise Canceled()

    signal.signal(signal.SIGTERM, on_term)
    if request.backend == "hf":
        # Inside an HF Job: the bucket is mounted at --bucket-dir; the token is the job secret HF_TOKEN.
        from space_factory.backends.hf import hf_worker_backend

        backend = hf_worker_backend(settings, owner=request.owner)
    else:
        backend = local_backend(settings, owner=request.owner)
    backend.bucket = record.bucket
    try:
        status = Pipeline(record, request, backend, settings, redactor).run()
    except Canceled:
        logging.getLogger(__name__).warning("worker stopped by SIGTERM (canceled)")
        return 143
    return 1 if status is RunStatus.FAILED else 0
