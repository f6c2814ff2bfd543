"""Shared pieces of the MCP tests: a factory per test home, the server over it, runs to talk about.

Runs come from real flows where that is cheap (`launch_build` of a model that is not in the cache
starts a real job that ends `failed` within seconds) and are written with `RunRecord` where a test
needs a precise state (a finished gate, a Space, a long log) without a build.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from space_factory.backends.local import local_backend
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.ids import mint_run_id
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import ApiParameter, Gate, GateCheck, GateSpace, HowToCall, RunRequest, RunState
from space_factory.record import RunRecord
from space_factory.server.app import create_app
from space_factory.service import Factory
from tests.support import runs

OWNER = "tester"
MODES = ["auto", "legacy"]  # 2026-07-28 and 2025-11-25 (DESIGN §10.2: test both eras)
MISSING_MODEL = "factory-test/not-in-the-cache"


def make_factory(home: Path, *, owner: str = OWNER, backend_name: str = "local", bucket: str | None = None) -> Factory:
    """A factory on the local backend under `home`.

    `backend_name="hf"` relabels the same local parts as a billed backend, so the service asks for cost
    confirmation of paid flavors as it does on the Hub; the local Space host still answers `not_available`.
    """
    settings = Settings(home=home, owner=owner, bucket=bucket)
    backend = local_backend(settings, owner=owner)
    if backend_name != "local":
        backend = dataclasses.replace(backend, name=backend_name)
    return Factory(settings, backend)


def make_app(factory: Factory) -> MCPServer[Any]:
    return create_app(lambda subject, token=None: factory)


def result_text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call(client: Client, tool: str, args: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured content."""
    result = await client.call_tool(tool, args or {}, **kwargs)
    assert not result.is_error, result_text(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, args: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail with a tool error (isError); return its text."""
    result = await client.call_tool(tool, args or {})
    assert result.is_error, result.structured_content
    return result_text(result)


def write_run(factory: Factory, *, status: RunStatus = RunStatus.RUNNING, phase: Phase = Phase.BUILDING,
              space_id: str | None = None, gate: Gate | None = None, error: str | None = None,
              logs: dict[str, str] | None = None, events: list[tuple[Phase, str]] | None = None,
              model: str = "factory-test/tiny-gpt2", run_id: str | None = None) -> str:
    """Write a run record directly (no job), as the worker would have left it; return the run id."""
    backend = factory.backend
    run_id = run_id or mint_run_id(model)
    record = RunRecord(backend.bucket, run_id)
    backend_name = "hf" if backend.name == "hf" else "local"
    record.write_model(layout.REQUEST, RunRequest(run_id=run_id, model=model, owner=backend.owner,
                                                  backend=backend_name))
    space = {"id": space_id, "url": "http://127.0.0.1:7860/" if space_id else None, "stage": "RUNNING"}
    record.write_state(RunState(run_id=run_id, model=model, owner=backend.owner, backend=backend_name,
                                status=status, phase=phase, space=space if space_id else {},
                                gate_status=gate.status if gate else None, error=error))
    for event_phase, message in events or [(Phase.QUEUED, "queued"), (phase, f"now {phase.value}")]:
        record.append_event(event_phase, message)
    if gate is not None:
        record.write_model(layout.GATE, gate)
        record.write_text(layout.REPORT, f"# Run {run_id}\n\nGate: {gate.status.value}\n")
    for kind, text in (logs or {}).items():
        rel = layout.TRACE_KINDS.get(kind) or kind
        record.write_text(rel, text)
    return run_id


def passed_gate(space_id: str = "tester/tiny-gpt2-demo-abcdef") -> Gate:
    checks = [GateCheck(name=n, status=CheckStatus.PASSED, detail="ok") for n in
              ("build", "health", "api_schema", "predict", "output_valid")]
    return Gate(status=GateStatus.FULL_INFERENCE_PASSED, summary="the API returned valid text for the task",
                checks=checks, space=GateSpace(id=space_id, url="http://127.0.0.1:7860/"),
                how_to_call=HowToCall(space_id=space_id, url="http://127.0.0.1:7860/", api_name="/predict",
                                      parameters=[ApiParameter(name="text", python_type="str")],
                                      python="from gradio_client import Client"))


async def wait_terminal(factory: Factory, run_id: str, timeout: float = 60) -> RunState:
    """`tests.support.runs.wait_terminal` in a worker thread, as the tools call the service."""
    return await anyio.to_thread.run_sync(runs.wait_terminal, factory, run_id, timeout)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def run_folder(factory: Factory, run_id: str) -> Path:
    return factory.settings.bucket_dir(factory.backend.owner) / layout.run_dir(run_id)
