"""The MCP server on the hf backend over streamable HTTP: each request's own bearer token is checked with the
Hub (whoami) and used for that caller's Hub calls and job; callers see only their own runs (issue 4; DESIGN §9).
Runs in-process (httpx2.ASGITransport) against the loopback Hub emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from space_factory.config import Settings
from space_factory.domain.errors import FactoryError
from space_factory.server.app import create_app
from space_factory.server.auth import HfBearerVerifier, HttpAuth
from space_factory.server.provider import HfFactoryProvider
from tests.hub_emulator.fixtures import ALICE, BOB
from tests.hub_emulator.server import HubEmulator
from tests.tools.helpers import call, result_text

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:8000"
ACCEPT = {"Accept": "application/json, text/event-stream"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def whoami_calls(hub: HubEmulator) -> int:
    return sum(1 for r in hub.hub_requests() if r.path == "/api/whoami-v2")


@asynccontextmanager
async def hf_http_app() -> AsyncIterator[httpx2.ASGITransport]:
    provider = HfFactoryProvider(Settings(backend="hf"))
    app = create_app(provider, http_auth=HttpAuth.hf(provider.owner_of, f"{BASE}/mcp"))
    asgi = app.streamable_http_app(stateless_http=True)
    async with app.session_manager.run():
        yield httpx2.ASGITransport(app=asgi)


@asynccontextmanager
async def client_as(transport: httpx2.ASGITransport, token: str) -> AsyncIterator[Client]:
    async with (httpx2.AsyncClient(transport=transport, base_url=BASE, headers={"Authorization": f"Bearer {token}"},
                                   timeout=httpx2.Timeout(30, read=120)) as http,
                Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client):
        yield client


async def test_the_hf_verifier_names_the_tokens_hub_user_and_caches_only_a_digest(hub: HubEmulator) -> None:
    verifier = HfBearerVerifier(HfFactoryProvider(Settings(backend="hf")).owner_of)
    first = await verifier.verify_token(ALICE.token)
    assert first is not None and first.subject == "alice"
    calls = whoami_calls(hub)
    again = await verifier.verify_token(ALICE.token)
    assert again is not None and again.subject == "alice" and whoami_calls(hub) == calls  # cached by digest
    assert all(ALICE.token not in key for key in verifier._users)
    assert await verifier.verify_token("hf_" + "n" * 34) is None  # the Hub refuses it: 401


async def test_a_token_the_hub_refuses_gets_401(hub: HubEmulator) -> None:
    async with hf_http_app() as transport, httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        response = await http.post("/mcp", json=LIST_TOOLS,
                                   headers={"Authorization": "Bearer hf_" + "z" * 34, **ACCEPT})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer ")


async def test_each_bearer_token_acts_as_its_own_hub_user_and_sees_only_its_runs(
        hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    async with hf_http_app() as transport:
        async with client_as(transport, ALICE.token) as alice:
            launched: dict[str, Any] = await call(alice, "launch_build", {"model": tiny_models["tiny-bert-cls"]})
            run_id = launched["run_id"]
            alice_runs = await call(alice, "list_runs")
        async with client_as(transport, BOB.token) as bob:
            bob_runs = await call(bob, "list_runs")
            foreign = await bob.call_tool("get_run_status", {"run_id": run_id})
        async with client_as(transport, ALICE.token) as alice:
            canceled = await call(alice, "cancel_run", {"run_id": run_id})
    assert [r["run_id"] for r in alice_runs["runs"]] == [run_id] and alice_runs["runs"][0]["owner"] == "alice"
    assert bob_runs["runs"] == []
    assert foreign.is_error and "run not found" in result_text(foreign)
    assert canceled["status"] == "canceled"
    created = [r for r in hub.hub_requests() if r.method == "POST" and r.path.rstrip("/").count("/") == 3
               and r.path.startswith("/api/jobs/")]
    assert [(r.path, r.user) for r in created] == [("/api/jobs/alice", "alice")]  # alice's token made her job
    everything = str(alice_runs) + str(bob_runs) + result_text(foreign) + str(canceled) + str(launched)
    assert ALICE.token not in everything and BOB.token not in everything


def test_a_token_whose_user_differs_from_the_authenticated_subject_is_refused(hub: HubEmulator) -> None:
    provider = HfFactoryProvider(Settings(backend="hf"))
    assert provider(None, ALICE.token).backend.owner == "alice"
    with pytest.raises(FactoryError):
        provider("bob", ALICE.token)
