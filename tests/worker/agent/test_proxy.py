"""The agent's loopback proxy (worker/agent/proxy.py): it adds the real key, streams the answer back, and lets
nothing redirect it to another host, path or repo. Upstreams are real loopback servers; the Hub side against
the Hub emulator is in tests/security/test_agent_secrets.py."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from space_factory.domain.errors import InvalidInput
from space_factory.worker.agent.proxy import DUMMY_KEY, AgentProxy, ProxiedRequest, _Scrubber
from tests.support.scripted_model import Fault, ScriptedModel, Text, bash
from tests.support.tokens import fake_token

REAL_KEY = fake_token()
HUB_TOKEN = fake_token()
SPACE = "alice/the-app"


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    host: str | None
    body: bytes


Answer = Callable[[BaseHTTPRequestHandler, Seen], None]


def _ok(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    data = json.dumps({"path": seen.path}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@dataclass
class Upstream:
    """A loopback server that records every request it gets and answers with `answer`."""

    answer: Answer = _ok
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, self.headers.get("Authorization"), self.headers.get("Host"),
                            self.rfile.read(length))
                upstream.seen.append(seen)
                upstream.answer(self, seen)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def hub_proxy(upstream: Upstream) -> Iterator[AgentProxy]:
    with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY, hub_endpoint=upstream.url, hub_token=HUB_TOKEN,
                    space_id=SPACE) as proxy:
        yield proxy


def _raw(port: int, request: bytes) -> bytes:
    """Send `request` as is (for request lines an HTTP client would not write) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _port(proxy: AgentProxy) -> int:
    return int(proxy.openai_base_url.split(":")[2].split("/")[0])


def _status(proxy: AgentProxy, method: str, target: str, body: bytes = b"{}") -> tuple[int, bytes]:
    """The status and body of `method target` sent verbatim (HTTP clients normalise `..` before sending)."""
    answer = _raw(_port(proxy), f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), rest


def test_a_chat_request_reaches_the_upstream_with_the_real_key_and_streams_back() -> None:
    with ScriptedModel([bash("echo hi"), Text("done")]) as model, \
            AgentProxy(upstream=model.base_url, key=REAL_KEY) as proxy, \
            httpx.stream("POST", proxy.openai_base_url + "/chat/completions", json={"messages": [], "stream": True},
                         headers={"Authorization": f"Bearer {DUMMY_KEY}"}) as answer:
        frames = [line for line in answer.iter_lines() if line]
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/event-stream"
    assert json.loads(frames[0].removeprefix("data: "))["choices"][0]["delta"]["tool_calls"][0]["function"][
        "name"] == "bash"
    assert frames[-1] == "data: [DONE]"
    assert [r.authorization for r in model.requests] == [f"Bearer {REAL_KEY}"]
    assert DUMMY_KEY not in json.dumps(model.requests[0].headers)
    assert proxy.requests == [ProxiedRequest("openai", "POST", "/v1/chat/completions", 200)]


def test_the_answer_is_passed_on_frame_by_frame_not_when_the_upstream_is_done(upstream: Upstream) -> None:
    release = threading.Event()

    def slow(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(b'data: {"first": 1}\n\n')
        handler.wfile.flush()
        release.wait(20)
        handler.wfile.write(b"data: [DONE]\n\n")

    upstream.answer = slow
    with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY) as proxy, \
            httpx.stream("POST", proxy.openai_base_url + "/chat/completions", json={}) as answer:
        lines = answer.iter_lines()
        assert next(lines) == 'data: {"first": 1}'  # read while the upstream still holds the rest back
        release.set()
        assert [line for line in lines if line] == ["data: [DONE]"]


def test_an_upstream_error_is_passed_on_with_its_status_and_body() -> None:
    with ScriptedModel([Fault("http500")]) as model, AgentProxy(upstream=model.base_url, key=REAL_KEY) as proxy:
        answer = httpx.post(proxy.openai_base_url + "/chat/completions", json={})
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == "scripted boom"
    assert proxy.requests[-1].status == 500


def test_an_unreachable_upstream_is_a_502_with_a_short_body() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with AgentProxy(upstream=f"http://127.0.0.1:{port}/v1", key=REAL_KEY) as proxy:
        answer = httpx.post(proxy.openai_base_url + "/chat/completions", json={})
    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "upstream_unreachable"
    assert len(answer.content) < 200 and REAL_KEY not in answer.text


def test_models_is_forwarded_and_every_other_openai_path_is_404(upstream: Upstream) -> None:
    with AgentProxy(upstream=upstream.url + "/router/v1", key=REAL_KEY) as proxy:
        assert httpx.get(proxy.openai_base_url + "/models").status_code == 200
        for method, path in [("POST", "/v1/completions"), ("GET", "/v1/chat/completions"),
                             ("POST", "/v1//chat/completions"), ("POST", "/V1/chat/completions"),
                             ("POST", "/v1/chat/completions/"), ("POST", "/v1/chat/%63ompletions"),
                             ("POST", "/v1/models/../chat/completions"), ("POST", "/hub/api/whoami-v2"),
                             ("POST", "/elsewhere")]:
            assert _status(proxy, method, path)[0] == 404, path
    assert [(s.method, s.path) for s in upstream.seen] == [("GET", "/router/v1/models")]


def test_an_absolute_uri_or_a_host_header_cannot_move_the_request_to_another_host(upstream: Upstream) -> None:
    other = Upstream()
    try:
        with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY) as proxy:
            port = _port(proxy)
            host = other.url.removeprefix("http://")
            absolute = _raw(port, f"POST {other.url}/v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                                  "Content-Length: 2\r\n\r\n{}".encode())
            assert absolute.startswith(b"HTTP/1.1 400")
            tricked = _raw(port, f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-Host: {host}"
                                 "\r\nContent-Length: 2\r\n\r\n{}".encode())
            assert tricked.startswith(b"HTTP/1.1 200")
            connect = _raw(port, f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            assert not connect.startswith(b"HTTP/1.1 200")
    finally:
        other.close()
    assert other.seen == []
    assert [(s.path, s.host) for s in upstream.seen] == [("/v1/chat/completions", upstream.url.removeprefix("http://"))]


def test_a_redirect_is_passed_back_not_followed(upstream: Upstream) -> None:
    other = Upstream()

    def redirect(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(307)
        handler.send_header("Location", other.url + "/v1/chat/completions")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    upstream.answer = redirect
    try:
        with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY) as proxy:
            answer = httpx.post(proxy.openai_base_url + "/chat/completions", json={})
    finally:
        other.close()
    assert answer.status_code == 307 and answer.headers["location"].startswith(other.url)
    assert other.seen == []


def test_a_body_over_the_bound_is_refused_before_anything_is_sent(upstream: Upstream) -> None:
    with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY, max_body_bytes=1000) as proxy:
        assert httpx.post(proxy.openai_base_url + "/chat/completions", content=b"x" * 1001).status_code == 413
        chunked = httpx.post(proxy.openai_base_url + "/chat/completions", content=iter([b"x" * 600, b"y" * 600]))
        assert chunked.status_code == 413
        assert httpx.post(proxy.openai_base_url + "/chat/completions", content=iter([b"{}"])).status_code == 200
    assert [s.body for s in upstream.seen] == [b"{}"]


def test_a_secret_an_upstream_echoes_is_replaced_in_headers_and_body(upstream: Upstream) -> None:
    def echo(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(401)
        handler.send_header("X-Echo", f"key {REAL_KEY}")
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(f'{{"error": "bad key {REAL_KEY[:10]}'.encode())
        handler.wfile.flush()
        handler.wfile.write(f'{REAL_KEY[10:]}"}}'.encode())

    upstream.answer = echo
    with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY) as proxy:
        answer = httpx.post(proxy.openai_base_url + "/chat/completions", json={})
    assert answer.status_code == 401
    assert answer.json() == {"error": "bad key [REDACTED]"}
    assert answer.headers["x-echo"] == "key [REDACTED]"


def test_the_scrubber_finds_a_secret_split_at_any_point_and_holds_back_only_what_could_start_one() -> None:
    secret = b"s3cr3t-VALUE-42"
    data = b"one " + secret + b" two " + secret
    for cut in range(len(data) + 1):
        scrub = _Scrubber([secret])
        out = scrub.feed(data[:cut]) + scrub.feed(data[cut:]) + scrub.flush()
        assert out == b"one [REDACTED] two [REDACTED]", cut
    scrub = _Scrubber([secret])
    assert scrub.feed(b"data: {}\n\n") == b"data: {}\n\n"  # an SSE frame is not held back
    assert scrub.feed(b"x s3c") == b"x " and scrub.flush() == b"s3c"


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "http:///v1", "http://user:pw@example.com/v1",
                                 "https://example.com/v1?x=1", "https://example.com/v1#f", "example.com/v1",
                                 "http://example.com:99999/v1", "http://example.com/a/../v1"])
def test_an_upstream_that_is_not_a_plain_http_url_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidInput):
        AgentProxy(upstream=url, key=REAL_KEY)


def test_a_hub_endpoint_exists_only_for_a_space_and_needs_a_token(upstream: Upstream) -> None:
    with AgentProxy(upstream=upstream.url + "/v1", key=REAL_KEY) as proxy:
        assert proxy.hub_url is None
        assert httpx.get(proxy.openai_base_url.removesuffix("/v1") + "/hub/api/whoami-v2").status_code == 404
    for space in ("alice", "alice/../bob", "a/b/c", "alice/x%2Fy"):
        with pytest.raises(InvalidInput):
            AgentProxy(upstream=upstream.url, key=REAL_KEY, hub_endpoint=upstream.url, hub_token=HUB_TOKEN,
                       space_id=space)
    with pytest.raises(InvalidInput):
        AgentProxy(upstream=upstream.url, key=REAL_KEY, hub_endpoint=upstream.url, space_id=SPACE)


ALLOWED = [
    ("GET", "/api/whoami-v2"),
    ("GET", f"/api/spaces/{SPACE}"),
    ("HEAD", f"/api/spaces/{SPACE}"),
    ("POST", f"/api/spaces/{SPACE}/preupload/main"),
    ("POST", f"/api/spaces/{SPACE}/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/paths-info/main"),
    ("GET", f"/api/spaces/{SPACE}/revision/main"),
    ("GET", f"/api/spaces/{SPACE}/tree/main/src?recursive=true"),
    ("GET", f"/api/spaces/{SPACE}/xet-write-token/main"),
    ("GET", f"/api/spaces/{SPACE}/runtime"),
    ("GET", f"/api/spaces/{SPACE}/logs/build"),
    ("GET", f"/spaces/{SPACE}/resolve/main/app.py"),
    ("HEAD", f"/spaces/{SPACE}/resolve/main/my%20file.txt"),
    ("POST", f"/spaces/{SPACE}.git/info/lfs/objects/batch"),
    ("POST", "/api/validate-yaml"),
]
REFUSED = [
    ("GET", "/api/whoami"),
    ("GET", "/api/models/alice/secret-model"),
    ("GET", "/api/spaces/alice/other"),
    ("POST", "/api/spaces/alice/other/commit/main"),
    ("POST", "/api/spaces/bob/the-app/commit/main"),
    ("POST", "/api/models/alice/the-app/commit/main"),
    ("POST", "/api/datasets/alice/the-app/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/../other/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/../../models/alice/x/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/%2e%2e/other/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/%2E%2E/%2E%2E/models/alice/x/commit/main"),
    ("POST", f"/api/spaces/{SPACE}%2F..%2Fother/commit/main"),
    ("POST", "/api/spaces/alice%2Fthe-app/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/commit/..%2F..%2F..%2Fmodels%2Falice%2Fx%2Fcommit%2Fmain"),
    ("POST", f"/api/spaces/{SPACE}/commit/%252e%252e"),
    ("POST", f"/api/spaces/{SPACE}/commit/main%5C..%5Cx"),
    ("POST", f"/api/spaces//{SPACE}/commit/main"),
    ("POST", f"/api//spaces/{SPACE}/commit/main"),
    ("POST", f"/api/spaces/{SPACE}//commit/main"),
    ("POST", f"/api/spaces/{SPACE}/./commit/main"),
    ("POST", f"/API/spaces/{SPACE}/commit/main"),
    ("POST", f"/api/Spaces/{SPACE}/commit/main"),
    ("POST", "/api/spaces/Alice/The-App/commit/main"),
    ("POST", "/api/spaces/al%69ce/the-app/commit/main"),
    ("POST", f"/api/spaces/{SPACE}-evil/commit/main"),
    ("POST", f"/api/spaces/{SPACE}/hardware"),
    ("POST", f"/api/spaces/{SPACE}/secrets"),
    ("DELETE", f"/api/spaces/{SPACE}/secrets"),
    ("POST", f"/api/spaces/{SPACE}/variables"),
    ("PUT", f"/api/spaces/{SPACE}/settings"),
    ("POST", f"/api/spaces/{SPACE}/restart"),
    ("DELETE", f"/api/spaces/{SPACE}"),
    ("POST", "/api/repos/delete"),
    ("POST", "/api/repos/move"),
    ("GET", f"/spaces/{SPACE}/../other/resolve/main/app.py"),
    ("GET", "/spaces/alice/other/resolve/main/app.py"),
    ("GET", "/alice/secret-model/resolve/main/config.json"),
    ("POST", "/alice/secret-model.git/info/lfs/objects/batch"),
    ("GET", "/api/buckets/alice/private-bucket/tree"),
    ("POST", "/api/jobs/alice"),
]


def test_hub_calls_on_the_runs_space_are_forwarded_with_the_token(hub_proxy: AgentProxy, upstream: Upstream) -> None:
    assert hub_proxy.hub_url is not None
    for method, path in ALLOWED:
        answer = httpx.request(method, hub_proxy.hub_url + path, content=b"{}",
                               headers={"Authorization": f"Bearer {DUMMY_KEY}"})
        assert answer.status_code == 200, (method, path)
    assert [(s.method, s.path) for s in upstream.seen] == ALLOWED
    assert {s.authorization for s in upstream.seen} == {f"Bearer {HUB_TOKEN}"}


@pytest.mark.parametrize(("method", "path"), REFUSED)
def test_hub_calls_that_do_not_touch_the_runs_space_are_refused(hub_proxy: AgentProxy, upstream: Upstream,
                                                                method: str, path: str) -> None:
    assert hub_proxy.hub_url is not None
    status, body = _status(hub_proxy, method, "/hub" + path)
    assert status == 403
    assert SPACE in json.loads(body)["error"]
    assert upstream.seen == []
    assert hub_proxy.requests == [ProxiedRequest("hub", method, "/hub" + path.partition("?")[0], 403)]


@pytest.mark.parametrize(("body", "allowed"), [
    ({"name": "the-app", "organization": "alice", "type": "space", "sdk": "gradio"}, True),
    ({"name": "the-app", "organization": "alice", "type": "space", "sdk": "gradio", "private": True}, True),
    ({"name": "other", "organization": "alice", "type": "space", "sdk": "gradio"}, False),
    ({"name": "the-app", "organization": "bob", "type": "space", "sdk": "gradio"}, False),
    ({"name": "the-app", "type": "space", "sdk": "gradio"}, False),
    ({"name": "the-app", "organization": "alice", "type": "model"}, False),
    ({"name": "the-app", "organization": "alice", "type": "space", "sdk": "gradio", "hardware": "a100-large"}, False),
    ({"name": "the-app", "organization": "alice", "type": "space", "secrets": [{"key": "K", "value": "v"}]}, False),
    (["not", "an", "object"], False),
])
def test_creating_a_repo_is_forwarded_only_for_the_runs_space_without_paid_or_secret_settings(
        hub_proxy: AgentProxy, upstream: Upstream, body: object, allowed: bool) -> None:
    assert hub_proxy.hub_url is not None
    answer = httpx.post(hub_proxy.hub_url + "/api/repos/create", json=body)
    assert answer.status_code == (200 if allowed else 403)
    assert len(upstream.seen) == (1 if allowed else 0)


def test_the_public_harness_registry_is_forwarded_without_the_token(hub_proxy: AgentProxy, upstream: Upstream) -> None:
    assert hub_proxy.hub_url is not None
    assert httpx.get(hub_proxy.hub_url + "/api/agent-harnesses").status_code == 200
    assert upstream.seen[0].authorization is None
