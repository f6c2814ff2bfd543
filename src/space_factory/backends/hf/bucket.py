"""The hf backend's bucket: a private Hugging Face Storage Bucket holding the run records (DESIGN §2).

Reads are cheap (issue 4: a steady-state `get_run_status` poll costs at most 2 Hub requests):
- `request.json` is cached once it names its job: it never changes after that;
- `*.jsonl` files are append-only, so their bytes are cached and only the new tail is fetched, with a
  `Range: bytes=N-` read (an unchanged file answers 416 and costs one request with no body).

Writes go through `batch_bucket_files` (xet). Buckets have no append and no lock: `append` is a
read-modify-write, and `lock` is a no-op (the worker, the only steady writer, writes through the
job's mounted bucket instead, see `worker/main.py`).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext

from huggingface_hub import HfApi, HfFileSystem
from huggingface_hub.errors import BucketNotFoundError, EntryNotFoundError

from space_factory.backends.hf.errors import hub_errors
from space_factory.domain.layout import safe_child

__all__ = ["HfBucket"]

logger = logging.getLogger(__name__)

_READ_ALL = 1 << 40


def _immutable(key: str, data: bytes) -> bool:
    # request.json is rewritten once, at launch, to add the job id; after that it never changes.
    return key.endswith("/request.json") and b'"job_id": "' in data


class HfBucket:
    """A `Bucket` over an HF Storage Bucket, with the caller's token passed on every call.

    Args:
        api: the Hub client (its endpoint is used; its token is not).
        bucket_id: `namespace/name`.
        token: the caller's token.
    """

    def __init__(self, api: HfApi, bucket_id: str, token: str) -> None:
        self.api = api
        self.bucket_id = bucket_id
        self._token = token
        self._fs = HfFileSystem(endpoint=api.endpoint, token=token)
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HfBucket({self.bucket_id!r})"

    def ensure(self) -> None:
        """Create the private bucket if it does not exist yet (first use)."""
        with hub_errors(f"create the private bucket {self.bucket_id}", scope="write"):
            self.api.create_bucket(self.bucket_id, private=True, exist_ok=True, token=self._token)

    def _path(self, key: str) -> str:
        return f"hf://buckets/{self.bucket_id}/{safe_child('.', key)}"

    def _fetch(self, key: str, start: int, length: int | None) -> bytes | None:
        """Bytes from `start` (one GET, `Range` when start > 0); None for a missing object."""
        with hub_errors(f"read {key} from the bucket {self.bucket_id}", scope="read"):
            try:
                with self._fs.open(self._path(key), "rb", block_size=0) as f:
                    f.loc = start  # the stream file sends `Range: bytes=<loc>-`; 416 reads as empty
                    return bytes(f.read(-1 if length is None else length))
            except (FileNotFoundError, EntryNotFoundError, BucketNotFoundError):
                return None

    def read(self, key: str) -> bytes | None:
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and not key.endswith(".jsonl"):
            return cached
        if cached is not None:
            tail = self._fetch(key, len(cached), None)
            data = cached + (tail or b"")
        else:
            data = self._fetch(key, 0, None)
        if data is not None and (key.endswith(".jsonl") or _immutable(key, data)):
            with self._lock:
                self._cache[key] = data
        return data

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and start + length <= len(cached):
            return cached[start:start + length]
        return self._fetch(key, start, length) or b""

    def size(self, key: str) -> int | None:
        with hub_errors(f"look up {key} in the bucket {self.bucket_id}", scope="read"):
            entries = list(self.api.get_bucket_paths_info(self.bucket_id, [safe_child(".", key)], token=self._token))
        return entries[0].size if entries else None

    def write(self, key: str, data: bytes) -> None:
        with hub_errors(f"write {key} to the bucket {self.bucket_id}", scope="write"):
            self.api.batch_bucket_files(self.bucket_id, add=[(data, safe_child(".", key))], token=self._token)
        with self._lock:
            if key.endswith(".jsonl") or _immutable(key, data):
                self._cache[key] = data
            else:
                self._cache.pop(key, None)

    def append(self, key: str, data: bytes) -> None:
        self.write(key, (self.read(key) or b"") + data)

    def list(self, prefix: str) -> list[str]:
        folder = safe_child(".", prefix).rstrip("/")
        with hub_errors(f"list {prefix} in the bucket {self.bucket_id}", scope="read"):
            try:
                entries = list(self.api.list_bucket_tree(self.bucket_id, folder, recursive=False, token=self._token))
            except (EntryNotFoundError, BucketNotFoundError):
                return []
        names = {entry.path.rstrip("/").rsplit("/", 1)[-1] for entry in entries}
        return sorted(n for n in names if n and not n.startswith("."))

    def lock(self, key: str) -> AbstractContextManager[None]:
        return nullcontext()
