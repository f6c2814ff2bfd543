"""Streamable HTTP in-process (httpx2.ASGITransport): bearer auth on every request, 401 with WWW-Authenticate
otherwise, the token never kept or echoed (DESIGN §9; issue 3)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult

from space_factory.server.app import create_app
from space_factory.server.auth import TOKEN_DIGESTS_ENV, HttpAuth
from space_factory.service import Factory
from tests.support.listening import serving
from tests.tools.helpers import call, make_factory, result_text, write_run

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:8000"  # the default DNS-rebinding allowlist wants a Host with a port
TOKEN = "hf_" + "QwErTyUiOpAsDfGhJkLzXcVbNm01234567"
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@asynccontextmanager
async def http_app(factory: Factory) -> AsyncIterator[httpx2.ASGITransport]:
    app = create_app(lambda subject, token=None: factory, http_auth=HttpAuth.local("tester", f"{BASE}/mcp"))
    asgi = app.streamable_http_app(stateless_http=True)
    async with app.session_manager.run():
        yield httpx2.ASGITransport(app=asgi)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "},
                                     {"Authorization": "Bearer"}], ids=["none", "basic", "empty", "bare"])
async def test_a_request_without_a_bearer_token_is_401_with_www_authenticate(factory: Factory,
                                                                             headers: dict[str, str]) -> None:
    async with http_app(factory) as transport, httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        response = await http.post("/mcp", json=LIST_TOOLS, headers={**headers, **ACCEPT})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "resource_metadata=" in response.headers["www-authenticate"]


async def test_health_and_resource_metadata_need_no_token(factory: Factory) -> None:
    async with http_app(factory) as transport, httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        health = await http.get("/health")
        meta = await http.get("/.well-known/oauth-protected-resource/mcp")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert meta.status_code == 200 and meta.json()["resource"] == f"{BASE}/mcp"


async def test_a_bearer_token_reaches_the_local_owners_runs_and_is_never_echoed_or_logged(
        factory: Factory, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    """Any non-empty bearer token maps to the local owner on the local backend; it is not stored (§9)."""
    caplog.set_level(logging.DEBUG)
    run_id = write_run(factory)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (http_app(factory) as transport,
                httpx2.AsyncClient(transport=transport, base_url=BASE, headers=headers,
                                   timeout=httpx2.Timeout(30, read=300)) as http,
                Client(streamable_http_client(f"{BASE}/mcp", http_client=http), mode=mode) as client):
        runs = await call(client, "list_runs")
        status = await call(client, "get_run_status", {"run_id": run_id})
    assert [r["run_id"] for r in runs["runs"]] == [run_id] and status["state"]["owner"] == "tester"
    assert TOKEN not in str(runs) + str(status)
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


async def test_with_token_digests_configured_only_a_listed_token_gets_in(factory: Factory,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """SPACE_FACTORY_HTTP_TOKEN_SHA256 restricts callers by the tokens' digests; no token is configured."""
    monkeypatch.setenv(TOKEN_DIGESTS_ENV, "0" * 64 + "," + hashlib.sha256(TOKEN.encode()).hexdigest())
    async with http_app(factory) as transport, httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        wrong = await http.post("/mcp", json=LIST_TOOLS, headers={"Authorization": "Bearer other-token", **ACCEPT})
        right = await http.post("/mcp", json=LIST_TOOLS, headers={"Authorization": f"Bearer {TOKEN}", **ACCEPT,
                                                                  "Mcp-Protocol-Version": "2025-11-25"})
    assert wrong.status_code == 401
    assert right.status_code != 401


@pytest.mark.parametrize(("mode", "stateless", "expected"), [
    ("auto", True, "user_confirmed"),      # 2026-07-28: the question rides an input-required round, no session needed
    ("legacy", True, "cannot_ask"),        # 2025-11-25 without a session: no back-channel, so confirm_cost instead
    ("legacy", False, "user_confirmed"),   # 2025-11-25 with a session: elicitation/create mid-call
])
async def test_paid_hardware_confirmation_over_http_per_era_and_session_mode(
        tmp_path: Path, mode: str, stateless: bool, expected: str) -> None:
    """What README 'HTTP, auth and Docker' promises about elicitation over stateless and stateful HTTP.

    A real uvicorn on a free port: the in-process ASGI transport buffers whole responses, so a question
    sent mid-call on a legacy session's open stream would never arrive."""
    billed = make_factory(tmp_path / "billed", backend_name="hf")
    run_id = write_run(billed, space_id="tester/tiny-gpt2-demo-abcdef")
    asked: list[str] = []

    async def approve(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    def app_at(base: str) -> Any:
        return create_app(lambda subject, token=None: billed, http_auth=HttpAuth.local("tester", f"{base}/mcp"))

    async with (serving(app_at, stateless=stateless) as base,
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                   timeout=httpx2.Timeout(30, read=300)) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode,
                       elicitation_callback=approve) as client):
        with anyio.fail_after(20):
            result = await client.call_tool("request_hardware", {"run_id": run_id, "flavor": "t4-small"})
    if expected == "cannot_ask":
        assert result.is_error and "confirm_cost=true" in result_text(result) and asked == []
    else:
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["cost_confirmation"] == expected and len(asked) == 1
