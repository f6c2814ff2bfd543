"""The hf backend's bucket: a private Hugging Face Storage Bucket holding the run records (DESIGN §2).

Reads are cheap (issue 4: a steady-state `get_run_status` poll costs at most 2 Hub requests):
- `request.json` is cached once it names its job: it never changes after that, nor does a posted inbox
  object (`*.inbox/…`, `record.py`);
- `*.jsonl` logs only grow (their one owner rewrites them as they were plus new lines, `record.py`), so their
  bytes are cached and only the new tail is fetched, with a `Range: bytes=N-` read.

Range reads are sent by hand (`GET /buckets/{id}/resolve/{path}`, hf-apis.md §2.2) so that every answer the
Hub may give reads right (issue 13): 206 with its `Content-Range` (the start it names is checked), 200 with the
whole object (the range was ignored: sliced here), 416 at the end (nothing new; a `bytes */N` shorter than the
cache means the object shrank, so it is read again whole), and 404 — with or without `X-Error-Code` — for a
missing object, which reads as None rather than an error.

Writes go through `batch_bucket_files` (xet). Buckets have no append and no lock: `append` is a
read-modify-write, `lock` is a no-op and `atomic_append` is False (the worker writes through the job's
mounted bucket, `mount.py`, and owns the shared logs while it runs; the server posts to their inboxes).

Nor is there a conditional write, so `create` (an idempotency key's claim) is a claim protocol: each
claimant writes its own object `<key>.claims/<time ns>-<random>`, waits `claim_settle_seconds`, lists the
claims, and the earliest name wins; the winner writes `<key>`, a loser answers the winner's bytes. Its limits
are in docs/architecture.md ("Safe to share").
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from urllib.parse import quote

from huggingface_hub import HfApi, get_session, hf_raise_for_status
from huggingface_hub.errors import BucketNotFoundError, EntryNotFoundError, HfHubHTTPError
from huggingface_hub.utils._headers import build_hf_headers

from space_factory.backends.hf.errors import hub_errors, status_of
from space_factory.domain.layout import safe_child

__all__ = ["HfBucket", "sliced"]

logger = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED = re.compile(r"bytes\s+\*/(\d+)")
# How long a claimant waits between writing its claim and listing the others': longer than a claim write can
# take to become visible in a listing, so every claimant lists the same set.
CLAIM_SETTLE_SECONDS = 2.0


def _immutable(key: str, data: bytes) -> bool:
    # request.json is rewritten once, at launch, to add the job id; after that it never changes. An inbox
    # object is written once, by its poster.
    return (key.endswith("/request.json") and b'"job_id": "' in data) or ".inbox/" in key


def sliced(status: int, headers: dict[str, str], body: bytes, start: int) -> bytes | None:
    """The bytes from offset `start` in an answer to `Range: bytes=<start>-…`, whatever its shape; None when the
    answer cannot be placed (a 206 without a readable `Content-Range`, or one that starts after `start`).

    Example:
        >>> sliced(206, {"content-range": "bytes 4-5/6"}, b"ef", 4), sliced(200, {}, b"abcdef", 4)
        (b'ef', b'ef')
    """
    if status == 200:
        return body[start:]  # the range was ignored: this is the whole object
    match = _CONTENT_RANGE.fullmatch((headers.get("content-range") or "").strip())
    if match is None or int(match.group(1)) > start:
        return None
    return body[start - int(match.group(1)):]


class _Shrunk(Exception):
    """An object read before is now shorter than the bytes cached of it."""


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
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.claim_settle_seconds = CLAIM_SETTLE_SECONDS

    atomic_append = False

    def __repr__(self) -> str:
        return f"HfBucket({self.bucket_id!r})"

    def ensure(self) -> None:
        """Create the private bucket if it does not exist yet (first use)."""
        with hub_errors(f"create the private bucket {self.bucket_id}", scope="write"):
            self.api.create_bucket(self.bucket_id, private=True, exist_ok=True, token=self._token)

    def _url(self, key: str) -> str:
        return f"{self.api.endpoint}/buckets/{self.bucket_id}/resolve/{quote(safe_child('.', key))}"

    def _fetch(self, key: str, start: int, length: int | None, *, known: int | None = None) -> bytes | None:
        """Bytes from `start`, at most `length`: one GET, with a `Range` unless the whole object is asked for.

        None for a missing object. `known` is how many bytes of it the caller holds: raises `_Shrunk` when the
        Hub says the object is now shorter than that.
        """
        if length == 0:
            return b""
        headers = build_hf_headers(token=self._token)
        if start or length is not None:
            headers["Range"] = f"bytes={start}-{'' if length is None else start + length - 1}"
        with hub_errors(f"read {key} from the bucket {self.bucket_id}", scope="read"):
            response = get_session().get(self._url(key), headers=headers)
            if response.status_code == 404:
                return None  # missing, whether or not the Hub says `X-Error-Code: EntryNotFound`
            if response.status_code == 416:
                size = _UNSATISFIED.fullmatch((response.headers.get("content-range") or "").strip())
                if known is not None and size is not None and int(size.group(1)) < known:
                    raise _Shrunk(key)
                return b""  # nothing at or after `start`
            hf_raise_for_status(response)
        body = sliced(response.status_code, dict(response.headers), response.content, start)
        if body is None:
            logger.warning("the Hub answered a range of %s with bytes it did not place; reading it whole", key)
            whole = self._fetch(key, 0, None)
            body = None if whole is None else whole[start:]
        return body if body is None or length is None else body[:length]

    def read(self, key: str) -> bytes | None:
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and not key.endswith(".jsonl"):
            return cached
        data: bytes | None
        if cached is not None:
            try:
                tail = self._fetch(key, len(cached), None, known=len(cached))
                data = None if tail is None else cached + tail
            except _Shrunk:  # rewritten shorter (by a writer that did not keep the prefix): read it again whole
                data = self._fetch(key, 0, None)
        else:
            data = self._fetch(key, 0, None)
        if data is None:
            with self._lock:
                self._cache.pop(key, None)
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

    def create(self, key: str, data: bytes) -> bytes | None:
        """Claim `key` (see the module docstring): None when this claimant won, else the winner's bytes."""
        settled = self.read(key)
        if settled is not None:
            return settled
        claims = f"{key}.claims"
        mine = f"{time.time_ns():020d}-{secrets.token_hex(8)}"
        self.write(f"{claims}/{mine}", data)
        time.sleep(self.claim_settle_seconds)
        # Our own claim counts even if the listing lags behind it: every claimant then ranks the same names.
        winner = min({*self.list(claims), mine})
        settled = self.read(key)  # a claimant whose claim we could not see may already have settled the key
        if settled is not None:
            return settled
        if winner == mine:
            self.write(key, data)
            return None
        return self.read(f"{claims}/{winner}") or self.read(key) or b""

    def list(self, prefix: str) -> list[str]:
        folder = safe_child(".", prefix).rstrip("/")
        with hub_errors(f"list {prefix} in the bucket {self.bucket_id}", scope="read"):
            try:
                entries = list(self.api.list_bucket_tree(self.bucket_id, folder, recursive=False, token=self._token))
            except (EntryNotFoundError, BucketNotFoundError):
                return []
            except HfHubHTTPError as exc:
                if status_of(exc) == 404:  # a missing folder, with or without an `X-Error-Code`
                    return []
                raise
        # The Hub matches the path lexically ("runs/dat" also lists "runs/data/…"): only the folder's own children.
        base = folder + "/"
        names = {entry.path[len(base):].split("/", 1)[0] for entry in entries if entry.path.startswith(base)}
        return sorted(n for n in names if n and not n.startswith("."))

    def lock(self, key: str) -> AbstractContextManager[None]:
        return nullcontext()
