"""The HTTP auth matrix for every tool (issue 8 items 7 and "the suite to keep"): no, empty, malformed, unknown
and listed bearer tokens, over a real uvicorn on 127.0.0.1; the local server's refusal to listen beyond loopback
without a token list; on the hf backend (loopback Hub emulator), another user's token sees nothing of the first
user's runs, Spaces, traces or files.

Every refused request is a 401 with `WWW-Authenticate: Bearer` before any MCP parsing, whatever the tool; a
listed token reaches every tool in both protocol eras.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from space_factory.config import Settings
from space_factory.domain.errors import FactoryError
from space_factory.domain.phases import Phase, RunStatus
from space_factory.server.app import create_app
from space_factory.server.auth import TOKEN_DIGESTS_ENV, HttpAuth, check_local_listen, is_loopback_host
from space_factory.server.dashboard import API_ENDPOINTS
from space_factory.server.provider import HfFactoryProvider
from space_factory.service import Factory
from tests.hub_emulator.fixtures import ALICE, BOB, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.server.transports import ROOT, wait_http
from tests.support.listening import serving
from tests.support.ports import free_port
from tests.support.tokens import fake_token
from tests.tools.helpers import call, passed_gate, result_text, write_run

pytestmark = pytest.mark.anyio
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LISTED = "listed-" + fake_token()
MARKER = "alice-private-" + fake_token()[3:15]  # text only alice's records hold


def tool_args(run_id: str, space: str = "http://127.0.0.1:9/") -> dict[str, dict[str, Any]]:
    """Arguments each tool accepts, aimed at `run_id` (every tool the server lists must have a row)."""
    return {
        "launch_build": {"model": "nobody/not-in-the-cache", "idempotency_key": "matrix"},
        "validate_space": {"space": space},
        "get_run_status": {"run_id": run_id},
        "get_gate": {"run_id": run_id},
        "cancel_run": {"run_id": run_id},
        "fetch_trace_redacted": {"run_id": run_id, "kind": "worker"},
        "request_hardware": {"run_id": run_id, "flavor": "cpu-basic"},
        "analyze_model": {"model": "nobody/not-in-the-cache"},
        "list_runs": {},
        "get_app_files": {"run_id": run_id},
        "revise_build": {"run_id": run_id, "files": {"app.py": "print('revised')\n"}},
    }


def bad_credentials() -> dict[str, dict[str, str]]:
    """Authorization headers that must never get in (on a server with a token list)."""
    return {
        "none": {},
        "empty": {"Authorization": ""},
        "bearer-empty": {"Authorization": "Bearer "},
        "bearer-bare": {"Authorization": "Bearer"},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "other-scheme": {"Authorization": f"Token {LISTED}"},
        "listed-plus-junk": {"Authorization": f"Bearer {LISTED}x"},
        "listed-prefix": {"Authorization": f"Bearer {LISTED[:-1]}"},
        "two-tokens": {"Authorization": f"Bearer {fake_token()} {LISTED}"},
        "10kB": {"Authorization": "Bearer " + "a" * 10_000},
        "unknown": {"Authorization": f"Bearer {fake_token()}"},
        "unknown-hf-shaped": {"Authorization": "Bearer hf_" + "n" * 34},
    }


@asynccontextmanager
async def client_as(base: str, token: str, mode: str) -> AsyncIterator[Client]:
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                   timeout=httpx2.Timeout(30, read=120)) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode) as client):
        yield client


def tools_call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": args}}


class Answer:
    """An HTTP answer read off the socket: status, lower-cased headers, body text."""

    def __init__(self, raw: bytes) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_code = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.text = body.decode(errors="replace")


async def _exchange(base: str, request_line: str, headers: dict[str, str], body: bytes = b"") -> Answer:
    """Send one HTTP/1.1 request exactly as given (an HTTP client library would refuse to send some of these
    headers, e.g. a trailing space, and what a server does with a header is what is under test)."""
    host, port = base.removeprefix("http://").split(":")
    lines = [request_line, f"Host: {host}:{port}", "Connection: close",
             *([f"Content-Length: {len(body)}"] if body else []), *(f"{k}: {v}" for k, v in headers.items())]
    async with await anyio.connect_tcp(host, int(port)) as stream:
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        chunks = []
        with anyio.fail_after(30):
            while True:
                try:
                    chunks.append(await stream.receive())
                except anyio.EndOfStream:
                    break
    return Answer(b"".join(chunks))


async def raw_post(base: str, tool: str, args: dict[str, Any], headers: dict[str, str]) -> Answer:
    """POST a tools/call to /mcp with exactly these headers."""
    body = json.dumps(tools_call(tool, args)).encode()
    return await _exchange(base, "POST /mcp HTTP/1.1", {**ACCEPT, **headers}, body)


async def raw_get(base: str, path: str, headers: dict[str, str]) -> Answer:
    """GET `path` with exactly these headers (the run dashboard's routes: issue 12)."""
    return await _exchange(base, f"GET {path} HTTP/1.1", headers)


def dashboard_api_paths(run_id: str) -> list[str]:
    """Every /runs/api route of the dashboard (server/dashboard.py API_ENDPOINTS), aimed at `run_id`."""
    return [endpoint.path.replace("{run_id}", run_id) for endpoint in API_ENDPOINTS]


@pytest.fixture
def listed_only(monkeypatch: pytest.MonkeyPatch) -> str:
    """The local server accepts only LISTED (its digest in SPACE_FACTORY_HTTP_TOKEN_SHA256)."""
    monkeypatch.setenv(TOKEN_DIGESTS_ENV, hashlib.sha256(LISTED.encode()).hexdigest())
    return LISTED


def local_app(factory: Factory) -> Callable[[str], Any]:
    return lambda base: create_app(lambda subject, token=None: factory,
                                   http_auth=HttpAuth.local(factory.backend.owner, f"{base}/mcp"))


# -- the local backend ------------------------------------------------------------------------------------------


async def test_every_tool_refuses_every_bad_credential_with_401(factory: Factory, listed_only: str) -> None:
    run_id = write_run(factory, logs={"worker": f"{MARKER}\n"})
    tried = 0
    async with serving(local_app(factory)) as base:
        for tool, args in tool_args(run_id).items():
            for name, headers in bad_credentials().items():
                response = await raw_post(base, tool, args, headers)
                tried += 1
                assert response.status_code == 401, (tool, name, response.status_code, response.text[:300])
                assert response.headers["www-authenticate"].startswith("Bearer "), (tool, name)
                assert run_id not in response.text and MARKER not in response.text and LISTED not in response.text
    assert tried == len(tool_args(run_id)) * len(bad_credentials())
    assert factory.state(run_id).status is RunStatus.RUNNING  # no refused cancel_run got through
    assert factory.list_runs() == [factory.state(run_id)]  # no refused launch_build made a run


async def test_a_listed_token_reaches_every_tool_in_both_eras(factory: Factory, listed_only: str) -> None:
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate(),
                       logs={"worker": "the worker log\n"})
    async with serving(local_app(factory)) as base:
        for mode in ("auto", "legacy"):
            async with client_as(base, listed_only, mode) as client:
                listed = {tool.name for tool in (await client.list_tools()).tools}
                assert listed == set(tool_args(run_id))
                for tool, args in tool_args(run_id).items():
                    result = await client.call_tool(tool, args)
                    text = result_text(result)
                    assert "internal error" not in text and listed_only not in text, (mode, tool, text[:300])
                runs = await call(client, "list_runs")
                gate = await call(client, "get_gate", {"run_id": run_id})
            assert run_id in [r["run_id"] for r in runs["runs"]] and gate["gate_status"] == "full_inference_passed"


async def test_without_a_token_list_the_loopback_server_takes_any_non_empty_token(factory: Factory,
                                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                                  mode: str) -> None:
    """The documented local rule: one owner per machine, so on loopback any non-empty bearer token is that owner;
    empty and missing ones are still refused."""
    monkeypatch.delenv(TOKEN_DIGESTS_ENV, raising=False)
    run_id = write_run(factory)
    async with serving(local_app(factory)) as base:
        async with client_as(base, fake_token(), mode) as client:
            status = await call(client, "get_run_status", {"run_id": run_id})
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic eDp5"}):
            assert (await raw_post(base, "list_runs", {}, headers)).status_code == 401
    assert status["state"]["owner"] == "tester"


async def test_every_dashboard_api_route_refuses_every_bad_credential_and_admits_the_listed_token(
        factory: Factory, listed_only: str) -> None:
    """The run dashboard's data is behind the same verifier as /mcp (issue 12); its page shell is not data."""
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate(),
                       logs={"worker": f"{MARKER}\n"})
    async with serving(local_app(factory)) as base:
        for path in dashboard_api_paths(run_id):
            for name, headers in bad_credentials().items():
                response = await raw_get(base, path, headers)
                assert response.status_code == 401, (path, name, response.status_code)
                assert response.headers["www-authenticate"].startswith("Bearer "), (path, name)
                assert run_id not in response.text and MARKER not in response.text and LISTED not in response.text
            admitted = await raw_get(base, path, {"Authorization": f"Bearer {listed_only}"})
            assert admitted.status_code == 200, (path, admitted.text[:300])
        shell = await raw_get(base, f"/runs/{run_id}", {})
    assert shell.status_code == 200 and MARKER not in shell.text


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("LOCALHOST", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("10.0.0.1", False),
    ("example.org", False), ("127.0.0.1.nip.io", False), ("", False), ("::ffff:8.8.8.8", False)])
def test_loopback_hosts_are_only_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_the_local_backend_refuses_to_listen_beyond_loopback_without_a_token_list(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_DIGESTS_ENV, raising=False)
    check_local_listen("127.0.0.1")
    for host in ("0.0.0.0", "::", "192.168.1.10", "myhost.example"):
        with pytest.raises(FactoryError) as caught:
            check_local_listen(host)
        assert TOKEN_DIGESTS_ENV in str(caught.value) and "sha256" in str(caught.value)
    monkeypatch.setenv(TOKEN_DIGESTS_ENV, hashlib.sha256(b"x").hexdigest())
    check_local_listen("0.0.0.0")
    monkeypatch.setenv(TOKEN_DIGESTS_ENV, LISTED)  # a token pasted instead of its digest
    with pytest.raises(FactoryError) as caught:
        check_local_listen("127.0.0.1")
    assert LISTED not in str(caught.value) and "not SHA-256 hex digests" in str(caught.value)


def _serve(host: str, port: int, tmp_path: Path, **env: str) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if k != TOKEN_DIGESTS_ENV}
    full.update({"SPACE_FACTORY_HOME": str(tmp_path), "SPACE_FACTORY_OWNER": "tester", **env})
    return subprocess.Popen([sys.executable, "-m", "space_factory", "serve", "--transport", "http", "--host", host,
                             "--port", str(port)], cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_serve_on_all_interfaces_stops_at_startup_saying_what_to_set(tmp_path: Path) -> None:
    proc = _serve("0.0.0.0", free_port(), tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert TOKEN_DIGESTS_ENV in err.decode() and "127.0.0.1" in err.decode()


def test_serve_on_all_interfaces_with_a_token_list_admits_only_the_listed_token(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve("0.0.0.0", port, tmp_path, **{TOKEN_DIGESTS_ENV: hashlib.sha256(LISTED.encode()).hexdigest()})
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        body = json.dumps(tools_call("list_runs", {}))
        unknown = httpx2.post(f"http://127.0.0.1:{port}/mcp", content=body,
                              headers={**ACCEPT, "Authorization": f"Bearer {fake_token()}"})
        listed = httpx2.post(f"http://127.0.0.1:{port}/mcp", content=body,
                             headers={**ACCEPT, "Authorization": f"Bearer {LISTED}",
                                      "Mcp-Protocol-Version": "2025-11-25"})
    finally:
        proc.terminate()
        proc.wait(15)
    assert unknown.status_code == 401 and listed.status_code != 401


# -- the hf backend: users are isolated -------------------------------------------------------------------------


def hf_app(base: str) -> Any:
    provider = HfFactoryProvider(Settings(backend="hf"))
    return create_app(provider, http_auth=HttpAuth.hf(provider.owner_of, f"{base}/mcp"))


async def test_hf_every_tool_refuses_missing_and_unknown_tokens(hub: HubEmulator) -> None:
    async with serving(hf_app) as base:
        for tool, args in tool_args("20261128-171233-tiny-gpt2-4f9a1c").items():
            for name, headers in bad_credentials().items():
                response = await raw_post(base, tool, args, headers)
                assert response.status_code == 401, (tool, name, response.status_code)
    assert not [r for r in hub.hub_requests() if r.path.startswith("/api/jobs/")]  # nothing was launched


async def test_hf_another_users_token_sees_nothing_of_the_first_users_runs_spaces_traces_or_files(
        hub: HubEmulator, mode: str) -> None:
    alice = hf_factory(ALICE.token)
    space_id = f"alice/matrix-{fake_token()[3:11].lower()}"
    alice.backend.spaces.create(space_id, hardware=None, private=True)
    run_id = write_run(alice, status=RunStatus.FINISHED, phase=Phase.DONE, space_id=space_id,
                       gate=passed_gate(space_id), logs={"worker": f"{MARKER} worker\n", "space_run": f"{MARKER}\n"},
                       events=[(Phase.QUEUED, f"queued {MARKER}"), (Phase.DONE, "done")])
    before = alice.state(run_id)
    seen: list[str] = []
    async with serving(hf_app) as base, client_as(base, BOB.token, mode) as bob:
        for tool, args in tool_args(run_id, space=space_id).items():
            if tool == "launch_build":
                continue  # bob's own launch is bob's business; it reads nothing of alice's
            result = await bob.call_tool(tool, args)
            seen.append(result_text(result) + json.dumps(result.structured_content))
            if tool == "list_runs":
                assert result.structured_content is not None and result.structured_content["runs"] == []
            else:
                assert result.is_error, (tool, result.structured_content)
        for kind in ("worker", "space_run", "space_build"):
            seen.append(result_text(await bob.call_tool("fetch_trace_redacted", {"run_id": run_id, "kind": kind})))
        for uri in (f"factory://runs/{run_id}/report.md", f"factory://runs/{run_id}/state.json",
                    f"factory://runs/{run_id}/inference_gate.json"):
            with pytest.raises(MCPError) as caught:
                await bob.read_resource(uri)
            seen.append(caught.value.message)
    everything = "\n".join(seen)
    stage = alice.backend.spaces.runtime(space_id).stage
    assert MARKER not in everything and ALICE.token not in everything
    assert "full_inference_passed" not in everything and stage.value not in everything  # no gate, no Space runtime
    after = alice.state(run_id)
    assert after.status is before.status and after.updated_at == before.updated_at  # bob's cancel changed nothing
    assert alice.backend.spaces.runtime(space_id).stage is stage  # her Space is untouched


async def test_hf_another_users_token_sees_nothing_of_the_first_users_runs_on_the_dashboard(hub: HubEmulator) -> None:
    """The dashboard's API answers each token's Hub user only: bob gets 404s and an empty list (issue 12)."""
    alice = hf_factory(ALICE.token)
    run_id = write_run(alice, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate(),
                       logs={"worker": f"{MARKER} worker\n"}, events=[(Phase.QUEUED, f"queued {MARKER}")])
    async with serving(hf_app) as base:
        seen = []
        for path in dashboard_api_paths(run_id):
            response = await raw_get(base, path, {"Authorization": f"Bearer {BOB.token}"})
            seen.append(response.text)
            if path == "/runs/api/runs":
                assert response.status_code == 200 and json.loads(response.text)["runs"] == []
            else:
                assert response.status_code == 404, (path, response.status_code)
        mine = await raw_get(base, f"/runs/api/runs/{run_id}/trace", {"Authorization": f"Bearer {ALICE.token}"})
    assert mine.status_code == 200 and MARKER in json.loads(mine.text)["text"]
    everything = "\n".join(seen)
    assert MARKER not in everything and ALICE.token not in everything and "full_inference_passed" not in everything
