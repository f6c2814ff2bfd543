"""`create_app`: the Space Factory MCP server, the only place that registers every tool module.

The server holds no run state: the lifespan yields the factory provider and the auth layer's
`current_caller` only, and every answer is read from the run record, so a restarted server or a second
replica answers for every run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server import MCPServer
from mcp.server.extension import Extension
from starlette.requests import Request
from starlette.responses import JSONResponse

from space_factory.server import dashboard, prompts, resources
from space_factory.server.auth import HttpAuth, current_caller
from space_factory.server.dashboard_app import dashboard_apps
from space_factory.server.error_text import RedactErrors
from space_factory.server.tasks import BuildTasks
from space_factory.tools import analyze, build, files, gate, hardware, runs, traces
from space_factory.tools.common import AppState, FactoryProvider

__all__ = ["INSTRUCTIONS", "SERVER_NAME", "create_app"]

SERVER_NAME = "space-factory"
INSTRUCTIONS = """\
Space Factory turns a Hugging Face model into a private, running, verified Gradio Space.
Typical flow: analyze_model(model) → launch_build(model) → poll get_run_status(run_id, since_seq) until
terminal → get_gate(run_id). full_inference_passed means the Space answered /health and its API returned
valid output for the task; any other gate says what is missing. On trouble read fetch_trace_redacted(run_id).
validate_space gates an app that already runs. get_app_files shows the app a run deployed;
revise_build changes it and gates it again on the same Space. The build_space prompt has the whole loop."""

TOOL_MODULES = (build, runs, gate, hardware, traces, analyze, files)


def _version() -> str:
    try:
        return version("space-factory")
    except PackageNotFoundError:
        return "0+unknown"


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "server": SERVER_NAME, "version": _version()})


def create_app(factory_provider: FactoryProvider, *, http_auth: HttpAuth | None = None) -> MCPServer[AppState]:
    """Build the server.

    Args:
        factory_provider: gives the `Factory` of a caller (see `tools.common.FactoryProvider`).
        http_auth: bearer-token auth for the streamable HTTP transport; stdio and in-memory
            connections never authenticate.
    """

    @asynccontextmanager
    async def lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        yield AppState(provider=factory_provider, caller=current_caller)

    auth_kwargs: dict[str, Any] = http_auth.server_kwargs() if http_auth else {}
    extensions: list[Extension] = [
        BuildTasks(),  # SEP-2663: the run-starting tools answer as tasks to clients that declare it (server/tasks.py)
        dashboard_apps(),  # MCP Apps: the run dashboard as a ui:// resource, linked from get_gate/launch_build
    ]
    app: MCPServer[AppState] = MCPServer(SERVER_NAME, title="Space Factory", version=_version(),
                                         instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING",
                                         middleware=[RedactErrors()], extensions=extensions, **auth_kwargs)
    for module in TOOL_MODULES:
        module.register(app)
    resources.register(app)
    prompts.register(app)

    app.custom_route("/health", methods=["GET"])(_health)  # unauthenticated: for load balancers and HEALTHCHECK
    if http_auth is not None:
        dashboard.register(app, factory_provider, http_auth)  # /runs: the dashboard page, its API behind the same auth

    return app
