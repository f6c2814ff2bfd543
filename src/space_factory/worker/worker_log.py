"""The worker's own log, `logs/worker.log` in the run record, readable while the job runs.

On a local directory it is a plain file handler (appends are safe there). On a bucket without atomic appends
(the job's hf-mount: a file is visible only once closed, and cannot be reopened to append) the log is kept in
memory and the whole object is rewritten — at most every `interval` seconds, at once for a warning or an
error, and when the handler closes. Each version starts with the previous one, so a reader's byte cursor
(`fetch_trace_redacted`) stays valid.
"""

from __future__ import annotations

import logging
import threading

from space_factory.backends.base import Bucket
from space_factory.backends.local.bucket import DirectoryBucket

__all__ = ["LOG_INTERVAL_SECONDS", "MAX_LOG_BYTES", "WholeObjectLogHandler", "worker_log_handler"]

LOG_INTERVAL_SECONDS = 10.0
# Past this the log stops growing (each version is uploaded whole): the record says so in its last line.
MAX_LOG_BYTES = 4 * 1024 * 1024


class WholeObjectLogHandler(logging.Handler):
    """A log handler that rewrites one bucket object with everything logged so far.

    Args:
        bucket: where the log lives.
        key: the log's key.
        interval: the most often the object is rewritten for info lines, in seconds.
        limit: the most bytes the log may hold.
    """

    def __init__(self, bucket: Bucket, key: str, *, interval: float = LOG_INTERVAL_SECONDS,
                 limit: int = MAX_LOG_BYTES) -> None:
        super().__init__()
        self.bucket, self.key, self.interval, self.limit = bucket, key, interval, limit
        self._buffer = bytearray()
        self._uploaded = 0
        self._full = False
        self._lock_buffer = threading.Lock()
        self._writing = threading.local()  # a write that logs must not write again
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._tick, daemon=True, name="worker-log")
        self._timer.start()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._writing, "active", False):
            return
        try:
            line = (self.format(record) + "\n").encode("utf-8", errors="replace")
        except Exception:  # logging must never raise into the worker
            self.handleError(record)
            return
        with self._lock_buffer:
            if self._full:
                return
            if len(self._buffer) + len(line) > self.limit:
                self._full = True
                line = f"[the worker log stopped here: more than {self.limit} bytes]\n".encode()
            self._buffer += line
        if record.levelno >= logging.WARNING or self._full:
            self.flush()

    def _tick(self) -> None:
        while not self._closed.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Rewrite the object if anything was logged since the last write."""
        with self._lock_buffer:
            if len(self._buffer) == self._uploaded:
                return
            data = bytes(self._buffer)
        self._writing.active = True
        try:
            self.bucket.write(self.key, data)
        except OSError:
            return  # the mount refused this version: the next one carries the same lines again
        finally:
            self._writing.active = False
        with self._lock_buffer:
            self._uploaded = max(self._uploaded, len(data))

    def close(self) -> None:
        self._closed.set()
        self.flush()
        super().close()


def worker_log_handler(bucket: Bucket, key: str) -> logging.Handler:
    """The handler for the worker's log at `key`: a file handler on a local directory, else whole-object rewrites."""
    if isinstance(bucket, DirectoryBucket):
        path = bucket.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.FileHandler(path, encoding="utf-8")
    return WholeObjectLogHandler(bucket, key)
