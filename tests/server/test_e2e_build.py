"""End to end through real MCP clients: the server as a subprocess over stdio and over streamable HTTP, an agent's
loop on a tiny local model — launch_build → poll get_run_status → get_gate says full_inference_passed →
fetch_trace_redacted pages through the worker log (issue 3; DESIGN §10.3, §10.5)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.server.transports import http_server, open_http_client, poll_until_terminal, stdio_params
from tests.tools.helpers import call

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
BUILD_TIMEOUT = 600


async def agent_build(client: Client, model: str, key: str) -> dict[str, Any]:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    launched = await call(client, "launch_build", {"model": model, "idempotency_key": key, "wait_seconds": 20},
                          progress_callback=on_progress)
    run_id = launched["run_id"]
    assert progress and progress[0][1] is not None and progress[0][1].startswith("queued")
    status, events = await poll_until_terminal(client, run_id, BUILD_TIMEOUT)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # since_seq never skips or repeats
    assert status["state"]["status"] == "finished", status["state"]
    gate = await call(client, "get_gate", {"run_id": run_id})
    assert gate["ready"] is True and gate["gate_status"] == "full_inference_passed", gate["message"]
    assert gate["gate"]["how_to_call"]["api_name"] and "gradio_client" in gate["gate"]["how_to_call"]["python"]
    pages, cursor = [], 0
    while cursor is not None:
        page = await call(client, "fetch_trace_redacted",
                          {"run_id": run_id, "kind": "worker", "cursor": cursor, "max_bytes": 1024})
        assert page["withheld"] is False and len(page["text"].encode()) <= 1024
        pages.append(page)
        cursor = page["next_cursor"]
    assert len(pages) > 1 and sum(len(p["text"].encode()) for p in pages) == pages[0]["total_bytes"]
    assert {"worker", "space_build", "space_run"} <= set(pages[0]["available_kinds"])
    return {"run_id": run_id, "gate": gate, "pages": len(pages)}


async def test_an_agent_builds_a_tiny_model_over_stdio(tiny_models: dict[str, str]) -> None:
    async with Client(stdio_params()) as client:  # 2026-07-28 era
        out = await agent_build(client, tiny_models["tiny-gpt2"], "e2e-stdio")
    assert out["gate"]["gate"]["space"]["id"].startswith("tester/")


async def test_an_agent_builds_a_tiny_model_over_streamable_http(tiny_models: dict[str, str]) -> None:
    with http_server() as base:
        async with open_http_client(base, "legacy") as client:  # 2025-11-25 era, bearer token
            out = await agent_build(client, tiny_models["tiny-bert-cls"], "e2e-http")
        async with open_http_client(base, "auto") as client:  # a second client finds the same run by its key
            again = await call(client, "launch_build", {"model": tiny_models["tiny-bert-cls"],
                                                        "idempotency_key": "e2e-http"})
    assert again["run_id"] == out["run_id"] and again["gate_status"] == "full_inference_passed"
