"""The loopback proxy that holds the agent's secrets, so that Pi never does (DESIGN §9, issue 9 item 3).

Pi is configured with `DUMMY_KEY` and this proxy's URLs. The proxy serves, on 127.0.0.1 only:

- `/v1`: an OpenAI-compatible endpoint. `POST /v1/chat/completions` and `GET /v1/models` are forwarded to
  the upstream base URL (`SPACE_FACTORY_AGENT_BASE_URL`) with the client's `Authorization` dropped and
  `Bearer <real key>` put in its place; the answer (an SSE stream, or an error with its status) is streamed
  back chunk by chunk. Every other path is 404.
- `/hub` (only when a Space id is given, for `pi-deploy`): a Hub endpoint (`HF_ENDPOINT` for Pi's `hf`)
  that forwards to the real Hub, adding the token, only what uploading to and reading the run's own Space
  needs (`HUB_CALLS`, found by running `hf upload <space> . --repo-type space` against the Hub emulator);
  anything else is 403 with a JSON error naming the Space.

The upstream hosts are fixed at construction. The request target is matched as sent, never normalised: a
path with an empty, `.` or `..` segment (raw or percent-encoded), an encoded `/` or `\\`, or an absolute URI
is refused, and the Host header is never forwarded, so no request reaches another host or another repo.
Redirects are passed back, not followed. Neither bodies nor headers are logged or stored: `requests` keeps
the route, method, path and status of each request, for tests. Should an upstream echo a secret, it is
replaced in the headers and body sent back (a body split across chunks included).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from space_factory.domain.errors import InvalidInput

__all__ = ["DUMMY_KEY", "HUB_CALLS", "MAX_BODY_BYTES", "AgentProxy", "ProxiedRequest"]

DUMMY_KEY = "sf-agent-dummy-key-not-a-secret"
# A chat request carries the whole conversation; a Hub commit carries small files inline (base64).
MAX_BODY_BYTES = 64 * 1024 * 1024
OPENAI_PREFIX = "/v1"
HUB_PREFIX = "/hub"
SCRUBBED = b"[REDACTED]"
# Reading the client's request; the upstream's answer is bounded by Pi's own idle timeout and the attempt's bound.
_CLIENT_TIMEOUT = 120.0
_UPSTREAM_TIMEOUT = httpx.Timeout(connect=15.0, read=600.0, write=120.0, pool=15.0)

_OPENAI_CALLS = {("POST", "/v1/chat/completions"): "/chat/completions", ("GET", "/v1/models"): "/models"}
_FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "user-agent", "range", "if-none-match", "if-modified-since")
# Hop-by-hop headers, the ones this proxy sets itself, and cookies (a session is not the agent's to hold).
_DROPPED_RESPONSE_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                                       "proxy-authenticate", "proxy-authorization", "content-length",
                                       "set-cookie", "date", "server"})
# One path segment as sent: unreserved and sub-delimiter characters and percent escapes.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]+")
_QUERY_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")

# What `hf upload <space> . --repo-type space` and reading the Space back need, under `/api/spaces/<ns>/<name>/`
# (method, first segment after the Space id; "" is the Space's own info). Settings that cost money or
# change who can see the Space (hardware, secrets, variables, settings, pause, restart) are not here.
HUB_CALLS: frozenset[tuple[str, str]] = frozenset({
    ("GET", ""), ("HEAD", ""),
    ("GET", "revision"), ("GET", "tree"), ("POST", "paths-info"),
    ("POST", "preupload"), ("POST", "commit"),
    ("GET", "xet-write-token"), ("GET", "xet-read-token"),
    ("GET", "runtime"), ("GET", "logs"),
})
# `create_repo` (hf upload calls it first, a 409 meaning the Space exists): only these fields, only for the Space.
_CREATE_FIELDS = frozenset({"name", "organization", "type", "sdk", "private", "visibility"})


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy answered: no headers, no body, no query.

    Attributes:
        route: `openai`, `hub`, or `other` (neither: 400 / 404).
        method: the HTTP method.
        path: the request path as sent (the query left out).
        status: the status the client got (the upstream's when forwarded; 502 when it was unreachable).
    """

    route: Literal["openai", "hub", "other"]
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class _Upstream:
    """A validated base URL: the scheme and authority are fixed, `path` has no trailing slash."""

    origin: str
    path: str

    def url(self, suffix: str, query: str = "") -> str:
        return f"{self.origin}{self.path}{suffix}" + (f"?{query}" if query else "")


def _upstream(url: str, what: str) -> _Upstream:
    """`url` checked to be a plain http(s) base URL (no credentials, query or fragment).

    Raises:
        InvalidInput: it is not.
    """
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{what} has an invalid port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise InvalidInput(f"{what} must not carry credentials, a query or a fragment")
    path = parts.path.rstrip("/")
    if path and not all(_SEGMENT_RE.fullmatch(s) and s not in (".", "..") for s in path.split("/")[1:]):
        raise InvalidInput(f"{what} has an invalid path")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return _Upstream(f"{parts.scheme}://{host}" + (f":{port}" if port is not None else ""), path)


def _segments(path: str) -> list[str] | None:
    """The segments of an absolute path, or None when one is empty, `.`/`..` (raw or encoded), or decodes to
    something holding `/`, `\\` or a control character: such a path could mean another resource to some server."""
    if not path.startswith("/"):
        return None
    segments = path.split("/")[1:]
    for segment in segments:
        if not _SEGMENT_RE.fullmatch(segment):
            return None
        decoded = unquote(segment)
        # `%` left after decoding: a server that decodes twice would see what this check did not.
        if decoded in (".", "..") or any(c in "/\\%" or ord(c) < 32 or ord(c) == 127 for c in decoded):
            return None
    return segments


class _Scrubber:
    """Replaces secrets in a byte stream, holding back a chunk's tail while it could be the start of one."""

    def __init__(self, secrets: list[bytes]) -> None:
        self._secrets = [s for s in secrets if s]
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk
        for secret in self._secrets:
            data = data.replace(secret, SCRUBBED)
        keep = 0
        for secret in self._secrets:
            for n in range(min(len(secret) - 1, len(data)), keep, -1):
                if data.endswith(secret[:n]):
                    keep = n
                    break
        self._pending = data[len(data) - keep:] if keep else b""
        return data[: len(data) - keep]

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        return data

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret.decode("utf-8", "replace"), SCRUBBED.decode())
        return value


class _Refused(Exception):
    """A request the proxy answers itself (status and JSON body), without contacting an upstream."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class AgentProxy:
    """The agent's loopback proxy: start it as a context manager, give Pi its URLs and `DUMMY_KEY`.

    Args:
        upstream: the OpenAI-compatible base URL to forward to (`…/v1`).
        key: the real key added to forwarded chat requests.
        hub_endpoint: the Hub (HF_ENDPOINT) to forward Hub calls to; needed with `space_id`.
        hub_token: the token added to forwarded Hub calls; needed with `space_id`.
        space_id: the run's Space; without it there is no Hub endpoint.
        max_body_bytes: the largest request body accepted (413 beyond).

    Raises:
        InvalidInput: an upstream URL is not a plain http(s) URL, or a Space id comes without a Hub and token.

    Example:
        >>> with AgentProxy(upstream="https://router.huggingface.co/v1", key="k" * 20) as proxy:
        ...     proxy.openai_base_url.startswith("http://127.0.0.1:"), proxy.hub_url
        (True, None)
    """

    def __init__(self, *, upstream: str, key: str, hub_endpoint: str | None = None, hub_token: str | None = None,
                 space_id: str | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._openai = _upstream(upstream, "the agent's base URL")
        if not key:
            raise InvalidInput("the agent proxy needs a key to add")
        self._key = key
        self._space: tuple[str, str] | None = None
        self._hub: _Upstream | None = None
        self._hub_token = ""
        if space_id is not None:
            ns, _, name = space_id.partition("/")
            if not (_SEGMENT_RE.fullmatch(ns) and _SEGMENT_RE.fullmatch(name)) or "%" in space_id or ns in ("..", "."):
                raise InvalidInput("the Space id must be <namespace>/<name>")
            if hub_endpoint is None or not hub_token:
                raise InvalidInput("a Hub endpoint for a Space needs the Hub URL and a token")
            self._space = (ns, name)
            self._hub = _upstream(hub_endpoint, "the Hub endpoint")
            self._hub_token = hub_token
        self._max_body = max_body_bytes
        self._scrub_secrets = [s.encode() for s in (key, self._hub_token) if s]
        self._lock = threading.Lock()
        self._requests: list[ProxiedRequest] = []
        self._client = httpx.Client(timeout=_UPSTREAM_TIMEOUT, follow_redirects=False, trust_env=False)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        port = self._server.server_address[1]
        self.openai_base_url = f"http://127.0.0.1:{port}{OPENAI_PREFIX}"
        self.hub_url: str | None = f"http://127.0.0.1:{port}{HUB_PREFIX}" if self._space else None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> AgentProxy:
        if self._thread is None:
            # A short poll: `close()` waits for the serving loop to notice, once per attempt.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                                            name="agent-proxy")
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> AgentProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def requests(self) -> list[ProxiedRequest]:
        """What was asked so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def space_id(self) -> str | None:
        return "/".join(self._space) if self._space else None

    def _record(self, entry: ProxiedRequest) -> None:
        with self._lock:
            self._requests.append(entry)

    # -- routing ---------------------------------------------------------------------------------

    def _openai_target(self, method: str, path: str) -> str:
        suffix = _OPENAI_CALLS.get((method, path))
        if suffix is None:
            raise _Refused(404, {"error": {"message": "not found: this endpoint serves POST /v1/chat/completions",
                                           "type": "not_found"}})
        return self._openai.url(suffix)

    def _hub_refusal(self) -> _Refused:
        return _Refused(403, {"error": f"refused: the agent may only upload to and read the Space {self.space_id} "
                                       "through this endpoint"})

    def _hub_target(self, method: str, path: str, query: str, body: bytes) -> tuple[str, bool]:
        """The upstream URL for an allowed Hub call and whether the token goes with it.

        Raises:
            _Refused: 403 for anything that does not touch the run's Space (or is not read-only and harmless).
        """
        assert self._hub is not None and self._space is not None
        rest = path[len(HUB_PREFIX):]
        segments = _segments(rest)
        if segments is None or not _QUERY_RE.fullmatch(query):
            raise self._hub_refusal()
        ns, name = self._space
        if segments == ["api", "whoami-v2"] and method == "GET":
            return self._hub.url(rest, query), True
        if segments == ["api", "agent-harnesses"] and method == "GET":
            return self._hub.url(rest), False  # a public registry the CLI reads for a hint: no token needed
        if segments == ["api", "validate-yaml"] and method == "POST":
            return self._hub.url(rest), True
        if segments == ["api", "repos", "create"] and method == "POST":
            self._check_create(body)
            return self._hub.url(rest), True
        if segments[:4] == ["api", "spaces", ns, name]:
            call = segments[4] if len(segments) > 4 else ""
            if (method, call) in HUB_CALLS:
                return self._hub.url(rest, query), True
        if segments[:3] == ["spaces", ns, name] and len(segments) > 4 and segments[3] == "resolve" \
                and method in ("GET", "HEAD"):
            return self._hub.url(rest, query), True
        if segments[:5] == ["spaces", ns, f"{name}.git", "info", "lfs"] and method == "POST":
            return self._hub.url(rest, query), True
        raise self._hub_refusal()

    def _check_create(self, body: bytes) -> None:
        try:
            fields = json.loads(body)
        except (ValueError, RecursionError):
            raise self._hub_refusal() from None
        ns, name = self._space or ("", "")
        if not (isinstance(fields, dict) and set(fields) <= _CREATE_FIELDS and fields.get("type") == "space"
                and fields.get("organization") == ns and fields.get("name") == name):
            raise self._hub_refusal()

    # -- the handler -----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: AgentProxy
    protocol_version = "HTTP/1.1"
    timeout = _CLIENT_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:
        """Nothing is logged: a request line or header may be anything the agent wrote."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        proxy = self.owner
        self.close_connection = True
        target = self.path
        path, _, query = target.partition("?")
        route: Literal["openai", "hub", "other"] = "other"
        if path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/"):
            route = "openai"
        elif proxy.hub_url is not None and (path == HUB_PREFIX or path.startswith(HUB_PREFIX + "/")):
            route = "hub"
        record_path = path[:512]
        try:
            if not target.startswith("/") or "#" in target:
                raise _Refused(400, {"error": "the request target must be a path"})
            body = self._read_body(method)
            if route == "openai":
                url, secret = proxy._openai_target(method, path), proxy._key
            elif route == "hub":
                url, with_token = proxy._hub_target(method, path, query, body)
                secret = proxy._hub_token if with_token else ""
            else:
                raise _Refused(404, {"error": "not found"})
        except _Refused as refused:
            # Recorded before the answer goes out, so a client that saw the answer finds it in `requests`.
            proxy._record(ProxiedRequest(route, method, record_path, refused.status))
            self._reply(refused.status, refused.body)
            return
        self._forward(method, url, secret, body, lambda status: proxy._record(
            ProxiedRequest(route, method, record_path, status)))

    def _read_body(self, method: str) -> bytes:
        """The request body, bounded; chunked bodies are read too.

        Raises:
            _Refused: 413 (too large), 411 (no length on a body method) or 400 (a malformed length).
        """
        limit = self.owner._max_body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            if method in ("POST", "PUT", "PATCH"):
                raise _Refused(411, {"error": "a request body needs a Content-Length"})
            return b""
        if not length.strip().isdigit():
            raise _Refused(400, {"error": "invalid Content-Length"})
        size = int(length)
        if size > limit:
            raise _Refused(413, {"error": f"the request body is larger than {limit} bytes"})
        return self.rfile.read(size)

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _Refused(400, {"error": "malformed chunked body"}) from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                raise _Refused(413, {"error": f"the request body is larger than {limit} bytes"})
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, method: str, url: str, secret: str, body: bytes, record: Callable[[int], None]) -> None:
        """Send the request upstream with `secret` as the bearer and stream the answer back; `record` gets the
        status before the answer goes out."""
        headers = {name: self.headers[name] for name in _FORWARDED_REQUEST_HEADERS if self.headers.get(name)}
        headers["Accept-Encoding"] = "identity"  # pass the stream through as it comes, not gunzipped in bursts
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        scrub = _Scrubber(self.owner._scrub_secrets)
        try:
            request = self.owner._client.build_request(method, url, headers=headers,
                                                       content=body if body or method in ("POST", "PUT") else None)
            response = self.owner._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            record(502)
            self._reply(502, {"error": {"message": f"the upstream could not be reached ({type(exc).__name__})",
                                        "type": "upstream_unreachable"}})
            return
        record(response.status_code)
        try:
            self._stream_back(method, response, scrub)
        except (httpx.HTTPError, OSError):
            pass  # the upstream or the client went away mid-answer: the missing last chunk tells the client
        finally:
            response.close()

    def _stream_back(self, method: str, response: httpx.Response, scrub: _Scrubber) -> None:
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _DROPPED_RESPONSE_HEADERS:
                self.send_header(name, scrub.text(value))
        self.send_header("Connection", "close")
        bodiless = method == "HEAD" or response.status_code in (204, 304) or 100 <= response.status_code < 200
        if bodiless:
            if "content-length" in response.headers:
                self.send_header("Content-Length", response.headers["content-length"])
            self.end_headers()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in _chunks(response):
            self._write_chunk(scrub.feed(chunk))
        self._write_chunk(scrub.flush())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body as it arrives, undecoded (an SSE frame is sent on as soon as it is read; no chunk size, which
    would make httpx buffer up to it)."""
    yield from response.iter_raw()
