"""The server over streamable HTTP as a subprocess (`serve --transport http --port P` on a free 127.0.0.1 port),
driven by the SDK's streamable HTTP client in both eras (DESIGN §9, §10.3)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.server.transports import BEARER, http_server, open_http_client
from tests.tools.helpers import MISSING_MODEL, call, call_error

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with http_server() as base:
        yield base


def test_health_answers_without_a_token(base_url: str) -> None:
    response = httpx2.get(f"{base_url}/health")
    assert response.status_code == 200 and response.json()["server"] == "space-factory"


@pytest.mark.parametrize("authorization", [None, "Bearer", "Token abc"])
def test_mcp_without_a_bearer_token_is_401_with_www_authenticate(base_url: str, authorization: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = httpx2.post(f"{base_url}/mcp", headers=headers,
                           json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert BEARER not in response.text


async def test_http_serves_both_eras_with_progress_and_errors(base_url: str, mode: str) -> None:
    async with open_http_client(base_url, mode) as client:
        assert len((await client.list_tools()).tools) == 11
        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        out = await call(client, "launch_build", {"model": MISSING_MODEL, "wait_seconds": 60},
                         progress_callback=on_progress)
        assert out["terminal"] is True and out["state"]["owner"] == "tester"
        listed = await call(client, "list_runs")
        assert out["run_id"] in [r["run_id"] for r in listed["runs"]]
        text = await call_error(client, "get_gate", {"run_id": "20261128-000000-nothing-abcdef"})
        assert "run not found" in text
    assert seen and seen == sorted(seen)
