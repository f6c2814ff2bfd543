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
from space_factory.domain.redaction import Redactor, install_redacting_filter
from space_factory.domain.schemas import RunRequest
from space_factory.domain.secret_env import secret_values
from space_factory.record import RunRecord
from space_factory.worker.pipeline import Pipeline
from space_factory.worker.worker_log import worker_log_handler

logger = logging.getLogger(__name__)


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
    if request.backend == "hf":
        # The bucket is the job's hf-mount: whole-object writes only, and this worker owns the run's logs.
        from space_factory.backends.hf.mount import MountedBucket

        record = RunRecord(MountedBucket(bucket_dir), run_id)
    redactor = Redactor(secret_values(os.environ))
    handler = worker_log_handler(record.bucket, record.key(layout.WORKER_LOG))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    install_redacting_filter(handler, redactor)
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
        logger.warning("worker stopped by SIGTERM (canceled)")
        return 143
    finally:
        if request.backend == "hf":
            from space_factory.backends.hf.budget import LEDGER

            logger.info("this worker's %s", LEDGER.usage().summary())
        root.removeHandler(handler)
        handler.close()  # the last lines reach the record (a whole-object log is rewritten on close)
    return 1 if status is RunStatus.FAILED else 0
