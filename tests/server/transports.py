"""The server as a real subprocess: `python -m space_factory serve` over stdio, or `--transport http` on a free
127.0.0.1 port, with the environment the test session set up (offline HF cache, private factory home)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from space_factory.domain.phases import TERMINAL_STATUSES
from tests.support.ports import free_port
from tests.support.waiting import wait_until
from tests.tools.helpers import call

ROOT = Path(__file__).resolve().parents[2]
PASSED_ENV = ("HF_HOME", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "GRADIO_ANALYTICS_ENABLED",
              "SPACE_FACTORY_HOME", "SPACE_FACTORY_OWNER", "SPACE_FACTORY_SPACE_STARTUP_TIMEOUT",
              "SPACE_FACTORY_PREDICT_TIMEOUT")
BEARER = "local-test-token-0123456789"


def server_env(**extra: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    return {**env, **extra}


def stdio_params(**extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "space_factory", "serve"], cwd=str(ROOT),
                                 env=server_env(**extra))


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until `url` answers 200; fail at once if the server process exits first."""

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            return httpx2.get(url, timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    wait_until(answers, timeout, f"an answer from {url}")


@contextmanager
def http_server(*, command: list[str] | None = None, env: dict[str, str] | None = None,
                port: int | None = None) -> Iterator[str]:
    """Start the HTTP server (by default `python -m space_factory serve --transport http`) and yield its base URL."""
    port = port or free_port()
    command = command or [sys.executable, "-m", "space_factory", "serve", "--transport", "http",
                          "--host", "127.0.0.1", "--port", str(port)]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def open_http_client(base: str, mode: str, token: str = BEARER) -> Any:
    """An SDK client over streamable HTTP with a bearer token (an async context manager)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    return _HttpClient(http, Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode))


class _HttpClient:
    def __init__(self, http: httpx2.AsyncClient, client: Client) -> None:
        self.http, self.client = http, client

    async def __aenter__(self) -> Client:
        await self.http.__aenter__()
        return await self.client.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.client.__aexit__(*exc)  # type: ignore[arg-type]
        finally:
            await self.http.__aexit__(*exc)  # type: ignore[arg-type]


async def poll_until_terminal(client: Client, run_id: str, timeout: float) -> tuple[dict[str, Any], list[dict]]:
    """Poll get_run_status as an agent would (since_seq, next_poll_seconds) until terminal; return (last, events)."""
    since, events = 0, []
    with anyio.fail_after(timeout):
        while True:
            status = await call(client, "get_run_status", {"run_id": run_id, "since_seq": since})
            events += status["events"]
            since = status["last_seq"]
            if status["terminal"]:
                assert status["state"]["status"] in {s.value for s in TERMINAL_STATUSES}
                return status, events
            await anyio.sleep(min(status["next_poll_seconds"] or 1.0, 2.0))
