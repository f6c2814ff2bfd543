"""The Hub's request budget: every request the hf backend makes is counted per token, and a read the Hub
refused for now (429, 5xx) is retried a bounded number of times, honouring `Retry-After`.

What the Hub and the client do (hf-apis.md §5.4; huggingface_hub 2.4 `utils/_http.py`):
- the Hub rate-limits per token (a free account: 1,000 API requests per 5 minutes) and answers 429 with
  `Retry-After` and/or `RateLimit: "api";r=0;t=<seconds>`;
- `http_backoff` retries 429/5xx (6 attempts), but only for the calls that use it (paginated lists,
  paths-info, bucket batch, preupload, xet tokens); `get_space_runtime`, `space_info`, `inspect_job`, `whoami`,
  `model_info` and plain file GETs go through `get_session()` once: a 429 there is an error at once.

`install()` routes huggingface_hub's one shared client (`set_client_factory`) through `BudgetTransport`, which
counts each request under a digest of its bearer token (never the token) in `LEDGER`, and retries GET/HEAD
answers of 429/500/502/503/504 up to `READ_ATTEMPTS` times — except inside `http_backoff`, which already
retries them. Writes are never retried here: a POST the Hub may have applied must not be sent twice.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import constants
from huggingface_hub.utils import _http as hub_http
from huggingface_hub.utils._http import parse_ratelimit_headers, set_client_factory

__all__ = ["LEDGER", "READ_ATTEMPTS", "BudgetTransport", "RequestLedger", "Usage", "install", "route_of",
           "token_key"]

READ_ATTEMPTS = 4
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
READ_METHODS = frozenset({"GET", "HEAD"})
FIRST_RETRY_SECONDS = 1.0
# A Retry-After longer than this is not waited for in a request: the caller's loop waits (or reports stale).
MAX_RETRY_WAIT_SECONDS = 60.0
_SEGMENTED = ("models", "datasets", "spaces", "buckets")  # /api/<noun>/<ns>/<name>/<verb>…


def token_key(authorization: str | None) -> str:
    """The ledger's name for a token: a short digest of the `authorization` header, or `anonymous`."""
    if not authorization:
        return "anonymous"
    return hashlib.sha256(authorization.removeprefix("Bearer ").strip().encode()).hexdigest()[:12]


def route_of(method: str, path: str) -> str:
    """A request's route without its ids, e.g. `GET /api/spaces/runtime`, `GET /buckets/resolve`."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        noun = parts[1]
        if noun in _SEGMENTED:
            verb = parts[4:5]
        elif noun in ("jobs", "scheduled-jobs"):
            verb = ["{id}", *parts[4:5]] if len(parts) > 3 else []
        else:
            verb = []
        return f"{method} /api/{noun}" + "".join(f"/{v}" for v in verb)
    if "resolve" in parts:
        return f"{method} /{'buckets' if parts[0] == 'buckets' else 'repos'}/resolve"
    return f"{method} /{parts[0] if parts else ''}"


@dataclass
class Usage:
    """The Hub requests one token (or all of them) made, since the first one."""

    total: int = 0
    rate_limited: int = 0
    retried: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    first_at: float | None = None
    last_at: float | None = None

    @property
    def per_minute(self) -> float:
        """The average rate over the time between the first and the last request (at least one minute)."""
        if self.first_at is None or self.last_at is None:
            return 0.0
        return self.total / max(1.0, (self.last_at - self.first_at) / 60.0)

    def summary(self) -> str:
        routes = ", ".join(f"{route} {n}" for route, n in self.by_route.most_common())
        return (f"{self.total} Hub requests ({self.per_minute:.1f}/min; {self.rate_limited} answered 429, "
                f"{self.retried} retried): {routes or 'none'}")


class RequestLedger:
    """Hub requests counted per token digest; thread-safe."""

    def __init__(self) -> None:
        self._usage: dict[str, Usage] = {}
        self._lock = threading.Lock()

    def record(self, key: str, route: str, status: int, *, retry: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            usage = self._usage.setdefault(key, Usage())
            usage.total += 1
            usage.rate_limited += status == 429
            usage.retried += retry
            usage.by_route[route] += 1
            usage.first_at = now if usage.first_at is None else usage.first_at
            usage.last_at = now

    def usage(self, token: str | None = None) -> Usage:
        """One token's usage, or every token's added up when `token` is None (a copy)."""
        with self._lock:
            picked = [self._usage.get(token_key(f"Bearer {token}"), Usage())] if token else list(self._usage.values())
            out = Usage()
            for u in picked:
                out.total += u.total
                out.rate_limited += u.rate_limited
                out.retried += u.retried
                out.by_route.update(u.by_route)
                firsts = [t for t in (out.first_at, u.first_at) if t is not None]
                lasts = [t for t in (out.last_at, u.last_at) if t is not None]
                out.first_at, out.last_at = min(firsts, default=None), max(lasts, default=None)
            return out

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()


LEDGER = RequestLedger()


def retry_wait(headers: httpx2.Headers, attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, …): what the Hub asked for (`Retry-After` in
    seconds or as an HTTP date, or the `RateLimit` reset), else 1, 2, 4 … seconds."""
    hinted: list[float] = []
    info = parse_ratelimit_headers(headers)
    if info is not None and info.remaining == 0:
        hinted.append(float(info.reset_in_seconds))
    value = (headers.get("retry-after") or "").strip()
    if value.isdigit():
        hinted.append(float(value))
    elif value:
        with contextlib.suppress(TypeError, ValueError):  # not a date either: fall back to our own schedule
            hinted.append(email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return max(0.0, max(hinted)) if hinted else FIRST_RETRY_SECONDS * 2 ** (attempt - 1)


def _inside_hub_backoff() -> bool:
    """Whether this request is sent by huggingface_hub's `http_backoff`, which retries 429/5xx itself."""
    code = getattr(getattr(hub_http, "_http_backoff_base", None), "__code__", None)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _hub_host() -> str | None:
    return urlsplit(constants.ENDPOINT).hostname


class BudgetTransport(httpx2.BaseTransport):
    """Counts every Hub request in `ledger` and retries refused reads (see the module docstring).

    Args:
        inner: the transport that sends the requests.
        ledger: where requests are counted.
        sleep: how to wait between retries (tests pass a recorder).
    """

    def __init__(self, inner: httpx2.BaseTransport, ledger: RequestLedger = LEDGER,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.inner = inner
        self.ledger = ledger
        self.sleep = sleep

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        on_hub = request.url.host == _hub_host()
        key = token_key(request.headers.get("authorization"))
        route = route_of(request.method, request.url.path) if on_hub else f"{request.method} (another host)"
        retrying = on_hub and request.method in READ_METHODS and not _inside_hub_backoff()
        attempt = 1
        while True:
            try:
                response = self.inner.handle_request(request)
            except httpx2.HTTPError:
                if on_hub:
                    self.ledger.record(key, route, 0, retry=attempt > 1)
                raise
            if on_hub:
                self.ledger.record(key, route, response.status_code, retry=attempt > 1)
            if not retrying or response.status_code not in RETRY_STATUSES or attempt >= READ_ATTEMPTS:
                return response
            wait = retry_wait(response.headers, attempt)
            if wait > MAX_RETRY_WAIT_SECONDS:
                return response
            response.close()
            self.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self.inner.close()


_installed_default = False
_install_lock = threading.Lock()


def install(inner: httpx2.BaseTransport | None = None) -> None:
    """Route huggingface_hub's shared client through a `BudgetTransport` over `inner` (default: real HTTP).

    Idempotent for the default transport, since replacing the client closes the one in use; a test passes its
    own transport, and calls `install()` again afterwards to put the real one back.
    """
    global _installed_default
    with _install_lock:
        if inner is None and _installed_default:
            return
        _installed_default = inner is None
        transport = BudgetTransport(inner or httpx2.HTTPTransport())

        def client() -> httpx2.Client:
            # The same client huggingface_hub builds by default (`default_client_factory`), over our transport.
            return httpx2.Client(event_hooks={"request": [hub_http.hf_request_event_hook]}, follow_redirects=True,
                                 timeout=None, transport=transport)

        set_client_factory(client)
