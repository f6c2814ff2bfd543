"""One real tiny build followed as an MCP task (SEP-2663) over the streamable HTTP server as a subprocess, the way
Claude Code follows a backgrounded tool call: the server is restarted mid-task and a second server process over
the same factory home answers `tasks/get` too, because the task lives in the run record (issue 12 part 1).
A second run, canceled as a task right after it is created, reads `cancelled`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from space_factory.tools.views import LaunchView
from tests.server.transports import BEARER, http_server
from tests.support.ports import free_port
from tests.support.task_client import CreatedTask, TasksClient, call_as_task, cancel_task, follow_task, get_task

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
BUILD_TIMEOUT = 600


@asynccontextmanager
async def task_client(base: str) -> AsyncIterator[Client]:
    """An SDK client over streamable HTTP (2026-07-28, bearer token) that declares the tasks extension."""
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"},
                                   timeout=httpx2.Timeout(30, read=300)) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http), extensions=[TasksClient()]) as client):
        yield client


async def test_a_build_as_a_task_survives_a_restart_and_any_server_answers_it(tiny_models: dict[str, str]) -> None:
    port = free_port()
    with http_server(port=port) as base:
        async with task_client(base) as client:
            created = await call_as_task(client, "launch_build", {"model": tiny_models["tiny-gpt2"], "agent": "none"})
            assert isinstance(created, CreatedTask) and created.status == "working", created
            first = await get_task(client.session, created.task_id)
    assert first["status"] == "working"  # the server stops here; the run goes on in its job
    seen: list[dict[str, Any]] = []
    with http_server(port=port) as restarted:
        async with task_client(restarted) as client:
            with anyio.fail_after(BUILD_TIMEOUT):
                final = await follow_task(client.session, created.task_id, first.get("pollIntervalMs"),
                                          on_poll=seen.append)
    with http_server() as replica:  # another process over the same factory home, on another port
        async with task_client(replica) as client:
            again = await get_task(client.session, created.task_id)
            other = await call_as_task(client, "launch_build", {"model": tiny_models["tiny-bert-cls"], "agent": "none"})
            assert isinstance(other, CreatedTask)
            assert (await cancel_task(client.session, other.task_id))["resultType"] == "complete"
            with anyio.fail_after(60):
                canceled = await follow_task(client.session, other.task_id, other.poll_interval_ms)
    assert final["status"] == "completed" and final["result"]["isError"] is False, final
    view = LaunchView.model_validate(final["result"]["structuredContent"])
    assert view.status == "finished" and view.gate_status == "full_inference_passed", view.state
    assert len(seen) > 1 and all(task["status"] == "working" for task in seen[:-1])  # restarted mid-task
    assert again["status"] == "completed" and again["result"] == final["result"]  # the replica reads the same record
    assert canceled["status"] == "cancelled" and "result" not in canceled
