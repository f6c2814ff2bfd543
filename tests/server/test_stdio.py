"""The server over stdio as a subprocess (`python -m space_factory serve`), driven by the SDK's stdio client in
both eras, and a raw check that stdout carries nothing but MCP (DESIGN §9, §10.3)."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest
from mcp import Client

from tests.server.transports import ROOT, server_env, stdio_params
from tests.tools.helpers import MISSING_MODEL, call, call_error

pytestmark = pytest.mark.anyio


async def test_stdio_lists_the_tools_and_follows_a_launch_with_progress(mode: str) -> None:
    async with Client(stdio_params(), mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"launch_build", "get_run_status", "get_gate", "fetch_trace_redacted"} <= names
        seen: list[str | None] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(message)

        out = await call(client, "launch_build", {"model": MISSING_MODEL, "wait_seconds": 60},
                         progress_callback=on_progress)
        assert out["terminal"] is True
        with anyio.fail_after(5):  # over a real transport progress may land just after the result
            while not seen or not (seen[-1] or "").startswith(out["status"]):
                await anyio.sleep(0.05)
        assert (seen[0] or "").startswith("queued")
        gate = await call(client, "get_gate", {"run_id": out["run_id"]})
        assert gate["run_id"] == out["run_id"]
        text = await call_error(client, "get_run_status", {"run_id": "20261128-000000-nothing-abcdef"})
        assert "run not found" in text


def test_stdout_carries_only_json_rpc_messages() -> None:
    """Raw JSON-RPC over the pipe: every stdout line parses as a JSON-RPC message, even while a job starts."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "launch_build", "arguments": {"model": MISSING_MODEL, "wait_seconds": 3}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "list_runs", "arguments": {}}},
    ]
    proc = subprocess.Popen([sys.executable, "-m", "space_factory", "serve"], cwd=ROOT, env=server_env(
        PATH="/usr/bin:/bin"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    replies: dict[int, dict] = {}
    try:
        for message in messages:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            while "id" in message and message["id"] not in replies:
                line = proc.stdout.readline()
                assert line, proc.stderr.read() if proc.stderr else "server closed stdout"
                parsed = json.loads(line)  # anything but JSON on stdout fails here
                assert parsed["jsonrpc"] == "2.0"
                if "id" in parsed and "method" not in parsed:
                    replies[parsed["id"]] = parsed
    finally:
        proc.stdin.close()
        proc.wait(20)
    assert proc.returncode == 0
    assert len(replies[2]["result"]["tools"]) == 11
    run_id = replies[3]["result"]["structuredContent"]["run_id"]
    assert run_id in json.dumps(replies[4]["result"]["structuredContent"])
