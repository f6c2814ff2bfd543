"""SSRF and the token's reach (issue 8 item 1; DESIGN §9): the live check talks to one origin, its app's.

Loopback listeners stand in for what an attacker aims at: an "internal" service that answers with a
secret, a redirector that sends the check there, an app whose `/config` points its API there. Each
listener counts the connections it accepts, so "refused before any connection" is a count of zero.
The refusals go through the real MCP client (`validate_space`), as an agent would send them.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from space_factory.domain.errors import InvalidTarget
from space_factory.domain.gate import AppCheck
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import RunState
from space_factory.domain.targets import parse_app_url
from space_factory.service import Factory
from space_factory.worker.checkup import check_app, check_health
from space_factory.worker.origin import OffOrigin, PinnedApp, pin_app
from tests.hub_emulator.fixtures import ALICE, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.support.runs import wait_terminal
from tests.support.tokens import fake_token
from tests.support.waiting import wait_until
from tests.tools.helpers import call, call_error

DB_PASSWORD = "db-" + fake_token()  # what the internal service must never give away through get_gate
Reply = tuple[int, dict[str, str], bytes]


def _json(status: int, body: object) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Listener:
    """A loopback HTTP server that answers by `route` and records every connection and request it gets."""

    route: Callable[[str], Reply]
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = listener.route(self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_POST = do_GET

            def log_message(self, *_args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                listener.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def untouched(self) -> bool:
        return self.connections == 0 and not self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal() -> Iterator[Listener]:
    """The service an attacker wants read: it answers everything with a secret."""
    listener = Listener(lambda path: _json(200, {"status": "ok", "db_password": DB_PASSWORD, "path": path}))
    yield listener
    listener.close()


@pytest.fixture
def redirector(internal: Listener) -> Iterator[Listener]:
    """An "app" that sends every request to the internal service (another port on 127.0.0.1: another origin)."""
    listener = Listener(lambda path: (302, {"Location": internal.url + path}, b""))
    yield listener
    listener.close()


def hostile_config(elsewhere: str, version: str = "6.31.0") -> dict[str, object]:
    """A Gradio `/config` that points the app's API at another origin (gradio_client joins `api_prefix`)."""
    return {"protocol": "sse_v3", "api_prefix": f"{elsewhere}/gradio_api", "version": version,
            "dependencies": [], "components": []}


@pytest.fixture
def hostile_app(internal: Listener) -> Iterator[Listener]:
    """An app whose /health is fine and whose /config sends gradio_client to the internal service."""
    def route(path: str) -> Reply:
        if path == "/health":
            return _json(200, {"status": "ok", "model_loaded": True, "db_password": DB_PASSWORD})
        if path == "/config":
            return _json(200, hostile_config(internal.url))
        return _json(404, {"detail": "Not Found"})

    listener = Listener(route)
    yield listener
    listener.close()


def _no_secret(text: str, secret: str) -> bool:
    return not any(secret[i:i + 12] in text for i in range(len(secret) - 11))


# -- refused before anything connects, through the tool ---------------------------------------------------

def _hostile_targets(port: int, token: str) -> list[str]:
    return [
        "http://169.254.169.254/latest/meta-data/", f"http://169.254.169.254:{port}/", "http://[fd00:ec2::254]/",
        f"http://[::ffff:169.254.169.254]:{port}/", f"http://[::ffff:a9fe:a9fe]:{port}/", "http://2852039166/",
        "http://0xa9fea9fe/", "http://0251.0376.0251.0376/", "http://169.254.43518/", f"http://10.0.0.1:{port}/",
        "http://167772161/", "http://192.168.0.1/", "http://172.16.0.1/", "http://100.100.100.200/",
        f"http://0.0.0.0:{port}/", f"http://0:{port}/", f"http://[::]:{port}/", f"http://[::127.0.0.1]:{port}/",
        f"http://[64:ff9b::7f00:1]:{port}/", f"http://[fe80::1%25lo]:{port}/", "http://metadata.google.internal/",
        "http://metadata/", f"http://localhost.localdomain:{port}/", f"http://127.0.0.1.nip.io:{port}/",
        f"http://foo.localhost:{port}/", "https://alice-app.hf.space/",
        f"http://127.0.0.1:{port}/?token={token}", f"http://127.0.0.1:{port}/?x=", f"http://127.0.0.1:{port}/#",
        f"http://127.0.0.1:{port}/#access_token={token}", f"http://127.0.0.1:{port}#@169.254.169.254/",
        f"http://user:{token}@127.0.0.1:{port}/", f"http://127.0.0.1@169.254.169.254:{port}/",
        f"http://127.0.0.1:{port}/\r\nHost: 169.254.169.254", f"http://127.0.0.1:{port}\x00/",
        f"http://127.0.0.1:{port}/ ", f"http://127.0.0.1:{port}/../", f"http://127.0.0.1:{port}/%2e%2e/",
        f"http://127.0.0.1:{port}//169.254.169.254/", f"http://127.0.0.1:{port}/{token}/",
        f"http://127.0.0.1:{port}/%3Ftoken%3D{token}", f"ftp://127.0.0.1:{port}/", f"gopher://127.0.0.1:{port}/_",
        f"file://127.0.0.1:{port}/etc/passwd", f"http://１２７.0.0.1:{port}/", f"http://127.0.0.1:{port}/\\",
        f"{token}/app",
    ]


@pytest.mark.anyio
async def test_every_address_the_local_backend_may_not_reach_is_refused_before_any_connection(
        client: Client, factory: Factory, internal: Listener) -> None:
    """validate_space refuses each form as a tool error; no run is made, no listener is touched, no secret echoed."""
    token = fake_token()
    targets = _hostile_targets(internal.port, token)
    for target in targets:
        text = await call_error(client, "validate_space", {"space": target})
        assert "invalid validation target" in text, (target, text)
        assert _no_secret(text, token), (target, text)
    assert factory.list_runs() == []
    assert internal.untouched
    assert len(targets) >= 45


def test_the_hf_backend_takes_no_url_that_is_not_a_spaces_own(hub: HubEmulator, internal: Listener) -> None:
    """On the hf backend a URL must be a Space's own `*.hf.space` URL; the token is never sent to a URL a
    caller names, and nothing is started."""
    factory = hf_factory(ALICE.token)
    before = len(hub.hub_requests())
    for target in (f"{internal.url}/", f"http://localhost:{internal.port}/", "http://169.254.169.254/",
                   "http://alice-app.hf.space/", "https://alice-app.hf.space.evil.com/",
                   "https://alice-app.hf.space:8443/", "https://alice-app.hf.space/x"):
        with pytest.raises(InvalidTarget):
            factory.validate(target)
    with pytest.raises(InvalidTarget) as caught:
        factory.validate("https://alice-no-such-space.hf.space/")  # mapped through the Hub: no such Space
    assert "no Space the token can see" in caught.value.rule
    assert internal.untouched
    assert not [r for r in hub.hub_requests()[before:] if r.method == "POST"]  # no job, no write


# -- pinned, and held to one origin ----------------------------------------------------------------------

def _resolver(*addresses: str) -> Callable[..., list[tuple[Any, ...]]]:
    calls: list[str] = []

    def resolve(host: str, port: int, **_kwargs: object) -> list[tuple[Any, ...]]:
        calls.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize("answers", [("169.254.169.254",), ("127.0.0.1", "10.0.0.1"), ("::ffff:169.254.169.254",),
                                     ("192.168.1.10",), ("::",), ()])
def test_a_name_that_resolves_beyond_loopback_is_refused_before_any_connection(answers: tuple[str, ...]) -> None:
    with pytest.raises(InvalidTarget) as caught:
        pin_app(parse_app_url("http://localhost:7860/"), loopback_only=True, resolve=_resolver(*answers))
    assert "loopback" in caught.value.rule


def test_localhost_is_resolved_once_and_every_request_goes_to_that_address(internal: Listener) -> None:
    """DNS rebinding cannot move the check: the name is looked up once, then the address is dialled."""
    resolve = _resolver("127.0.0.1")
    pinned = pin_app(parse_app_url(f"http://localhost:{internal.port}/"), loopback_only=True, resolve=resolve)
    assert pinned.dial.url == f"http://127.0.0.1:{internal.port}/"
    for _ in range(3):
        assert check_health(pinned, timeout=2).ok
    assert resolve.calls == ["localhost"]  # type: ignore[attr-defined]
    assert {r.headers["host"] for r in internal.requests} == {f"127.0.0.1:{internal.port}"}


def test_an_ipv4_mapped_answer_is_pinned_to_its_ipv4_address() -> None:
    pinned = pin_app(parse_app_url("http://localhost:9/"), loopback_only=True, resolve=_resolver("::ffff:127.0.0.1"))
    assert pinned.dial.url == "http://127.0.0.1:9/"


def test_a_health_redirect_is_not_followed_and_the_check_ends_at_once(redirector: Listener,
                                                                       internal: Listener) -> None:
    pinned = pin_app(parse_app_url(redirector.url + "/"), loopback_only=True)
    health = check_health(pinned, timeout=30)
    assert not health.ok and health.status_code == 302 and "not followed" in (health.error or "")
    assert health.attempts == 1
    assert internal.untouched


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_refused_even_when_httpx_would_follow_it(
        redirector: Listener, internal: Listener, status: int) -> None:
    """gradio_client downloads files with follow_redirects=True: the guard stops the hop before it connects."""
    redirector.route = lambda path: (status, {"Location": internal.url + path}, b"")
    pinned = pin_app(parse_app_url(redirector.url), loopback_only=True, headers={"Authorization": "Bearer x"})
    with pytest.raises(OffOrigin), httpx.stream("GET", redirector.url + "/file=out.png", follow_redirects=True,
                      **pinned.httpx_kwargs()) as response:
        response.read()
    assert len(redirector.requests) == 1
    assert internal.untouched


@pytest.mark.parametrize("elsewhere", ["http://localhost:{port}", "http://[::1]:{port}", "https://127.0.0.1:{port}",
                                       "http://169.254.169.254", "https://gradio-space-api-fetcher-v2.hf.space"])
def test_a_request_for_another_origin_is_refused_before_it_is_sent(internal: Listener, elsewhere: str) -> None:
    """Another port, scheme or spelling of the host is another origin."""
    pinned = pin_app(parse_app_url(internal.url), loopback_only=True)
    with pytest.raises(OffOrigin), httpx.Client(**pinned.httpx_kwargs()) as client:
        client.get(elsewhere.format(port=internal.port) + "/config")
    assert internal.untouched


def _check(app: PinnedApp, *, timeout: float = 10) -> AppCheck:
    return check_app(app, None, [], evidence=AppCheck(), redactor=Redactor(), health_timeout=timeout,
                     predict_timeout=10)


def test_an_app_whose_config_points_its_api_elsewhere_gets_no_request_through(
        hostile_app: Listener, internal: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    """gradio_client follows `/config`'s `api_prefix`; the guard refuses it, and the implicit machine token
    (HF_TOKEN) is never added by gradio_client, so even the app itself sees only the headers given."""
    token = fake_token()
    monkeypatch.setenv("HF_TOKEN", token)
    pinned = pin_app(parse_app_url(hostile_app.url + "/"), loopback_only=True)
    evidence = _check(pinned)
    assert evidence.health is not None and evidence.health.ok
    assert evidence.api is not None and not evidence.api.ok and "OffOrigin" in (evidence.api.error or "")
    assert internal.untouched
    assert all(token not in json.dumps(r.headers) for r in hostile_app.requests)


def test_an_old_gradio_version_does_not_send_the_config_to_the_hosted_api_fetcher(
        hostile_app: Listener, internal: Listener) -> None:
    """gradio_client posts an old app's config, with its headers, to a Space of its own: refused."""
    hostile_app.route = lambda path: (_json(200, {"status": "ok"}) if path == "/health" else
                                      _json(200, hostile_config(hostile_app.url, version="3.0")))
    evidence = _check(pin_app(parse_app_url(hostile_app.url), loopback_only=True,
                              headers={"Authorization": "Bearer " + fake_token()}))
    assert evidence.api is not None and "gradio-space-api-fetcher" in (evidence.api.error or "")
    assert internal.untouched


def test_health_evidence_keeps_the_readiness_fields_only_and_bounds_the_body(internal: Listener) -> None:
    """A /health body is the app's text: only the readiness fields survive into the evidence, redacted."""
    token = fake_token()
    internal.route = lambda path: _json(200, {"status": f"ok {token}", "model_loaded": True,
                                              "db_password": DB_PASSWORD, "task": "x" * 201})
    health = _check(pin_app(parse_app_url(internal.url), loopback_only=True)).health
    assert health is not None and health.ok
    assert health.body == {"status": "ok [REDACTED]", "model_loaded": True}
    internal.route = lambda path: (200, {"Content-Type": "application/json"},
                                   json.dumps({"status": "ok", "pad": "x" * 100_000}).encode())
    big = check_health(pin_app(parse_app_url(internal.url), loopback_only=True), timeout=2)
    assert big.ok and big.body is None


@pytest.mark.anyio
async def test_get_gate_never_returns_what_an_internal_service_or_a_redirect_holds(
        client: Client, factory: Factory, internal: Listener, redirector: Listener, hostile_app: Listener) -> None:
    """The whole path, through the tool: the gate keeps no secret of a /health body, follows no redirect,
    and sends nothing to where an app's /config points."""
    gates: dict[str, dict[str, Any]] = {}
    for name, listener in (("internal", internal), ("redirector", redirector), ("hostile", hostile_app)):
        started = await call(client, "validate_space", {"space": listener.url + "/", "task": "text-classification"})
        state = await _wait(factory, started["run_id"])
        assert state.gate_status is not None, state
        gates[name] = await call(client, "get_gate", {"run_id": started["run_id"]})
    assert gates["internal"]["gate_status"] == GateStatus.HEALTH_ONLY
    assert gates["redirector"]["gate_status"] == GateStatus.RUNTIME_FAILED
    assert gates["hostile"]["gate_status"] == GateStatus.HEALTH_ONLY
    assert any("OffOrigin" in c["detail"] for c in gates["hostile"]["gate"]["checks"])
    for gate in gates.values():
        assert _no_secret(json.dumps(gate), DB_PASSWORD)
    paths = [r.path for r in internal.requests]
    assert paths and all(p in ("/health", "/config", "/") for p in paths)  # only the "internal" run's own checks
    assert not [r for r in internal.requests if "gradio_api" in r.path]  # nothing came from the other two


async def _wait(factory: Factory, run_id: str, timeout: float = 120.0) -> RunState:
    return await anyio.to_thread.run_sync(wait_terminal, factory, run_id, timeout)


# -- the hf backend: the token goes to the Space's own host and nowhere else ---------------------------

HOSTILE_SPACE_APP = '''
import hashlib, json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ELSEWHERE = {elsewhere!r}
SECRET = {secret!r}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization") or ""
        print("seen", self.path, hashlib.sha256(auth.encode()).hexdigest(), flush=True)
        if self.path == "/health":
            status, body = 200, {{"status": "ok", "db_password": SECRET}}
        elif self.path == "/config":
            status, body = 200, {{"protocol": "sse_v3", "api_prefix": ELSEWHERE + "/gradio_api",
                                  "version": "6.31.0", "dependencies": [], "components": []}}
        else:
            status, body = 302, None
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is None:
            self.send_header("Location", ELSEWHERE + self.path)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


@pytest.fixture
def hostile_space(hub: HubEmulator, internal: Listener, tmp_path: Path) -> Iterator[tuple[Factory, str]]:
    """A private Space of alice's on the emulator whose app points its API, and its redirects, at `internal`."""
    factory = hf_factory(ALICE.token)
    space_id = "alice/hostile-" + fake_token()[3:11].lower()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(HOSTILE_SPACE_APP.format(elsewhere=internal.url, secret=DB_PASSWORD))
    factory.backend.spaces.create(space_id, hardware=None, private=True)
    factory.backend.spaces.upload(space_id, app, run_id="hostile-space")
    wait_until(lambda: factory.backend.spaces.runtime(space_id).url, 120, f"{space_id} to run")
    yield factory, space_id
    factory.backend.spaces.stop(space_id)


def test_the_token_reaches_the_spaces_own_host_and_nothing_else(hostile_space: tuple[Factory, str],
                                                                internal: Listener,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The live check of a private Space sends the token to its host (which needs it) and follows neither
    its redirects nor its `/config` elsewhere; gradio_client adds no machine token of its own."""
    factory, space_id = hostile_space
    monkeypatch.setenv("HF_TOKEN", ALICE.token)
    runtime = factory.backend.spaces.runtime(space_id)
    assert runtime.url
    pinned = pin_app(parse_app_url(runtime.url), loopback_only=False, headers=factory.backend.spaces.auth_headers())
    evidence = _check(pinned)
    assert evidence.health is not None and evidence.health.ok
    assert evidence.api is not None and "OffOrigin" in (evidence.api.error or "")
    with pytest.raises(OffOrigin), httpx.stream("GET", pinned.dial.join("file"), follow_redirects=True,
                                                headers=dict(pinned.headers), **pinned.httpx_kwargs()) as response:
        response.read()
    assert internal.untouched
    digest = hashlib.sha256(f"Bearer {ALICE.token}".encode()).hexdigest()
    log = factory.backend.spaces.logs(space_id, "run")
    assert f"seen /health {digest}" in log and f"seen /config {digest}" in log  # the Space's own host: yes


@pytest.mark.anyio
async def test_validate_space_on_the_hf_backend_sends_the_token_to_the_space_only(
        hostile_space: tuple[Factory, str], internal: Listener) -> None:
    """Through the tool and the job (whose environment holds the token as HF_TOKEN): the gate says health
    passed and the API could not be read, keeps no secret, and the internal listener saw nothing."""
    from space_factory.server.app import create_app

    factory, space_id = hostile_space
    async with Client(create_app(lambda subject, token=None: factory)) as client:
        started = await call(client, "validate_space", {"space": space_id, "task": "text-classification"})
        state = await _wait(factory, started["run_id"], 300.0)
        gate = await call(client, "get_gate", {"run_id": started["run_id"]})
    assert state.gate_status == GateStatus.HEALTH_ONLY, gate
    assert gate["gate"]["space"]["id"] == space_id
    assert _no_secret(json.dumps(gate), DB_PASSWORD) and _no_secret(json.dumps(gate), ALICE.token)
    assert internal.untouched
