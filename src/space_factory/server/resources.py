"""The run record as MCP resources: `factory://runs/{run_id}/report.md`, `…/state.json`, `…/inference_gate.json`.

Resources have no `isError`: a missing (or another owner's) run is `ResourceNotFoundError` (JSON-RPC
-32602), a run without the file yet is a `ResourceError` saying so, and anything unexpected is logged
and answered with a reference only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError

from space_factory.domain.errors import FactoryError, InvalidInput, RunNotFound
from space_factory.domain.redaction import Redactor
from space_factory.service import Factory
from space_factory.tools.common import factory_for, internal_error

__all__ = ["register"]

T = TypeVar("T")
_redactor = Redactor()


async def _read(ctx: Context[Any, Any], read: Callable[[Factory], T]) -> T:
    try:
        factory = factory_for(ctx)
        return await anyio.to_thread.run_sync(functools.partial(read, factory))
    except (RunNotFound, InvalidInput) as exc:
        raise ResourceNotFoundError(_redactor.redact_text(str(exc))) from None
    except (FactoryError, ToolError) as exc:
        raise ResourceError(_redactor.redact_text(str(exc))) from None
    except Exception:
        raise ResourceError(internal_error("resource read")) from None


def register(app: MCPServer[Any]) -> None:
    @app.resource("factory://runs/{run_id}/report.md", mime_type="text/markdown", title="Run report")
    async def run_report(run_id: str, ctx: Context[Any, Any]) -> str:
        """The run's human-readable report (written when the run finishes): gate, checks, links, how to call."""
        return await _read(ctx, lambda f: f.report(run_id))

    @app.resource("factory://runs/{run_id}/state.json", mime_type="application/json", title="Run state")
    async def run_state(run_id: str, ctx: Context[Any, Any]) -> str:
        """The run's state.json: status, phase, model, Space, job, gate status, error."""
        return await _read(ctx, lambda f: f.state(run_id).model_dump_json(indent=2))

    @app.resource("factory://runs/{run_id}/inference_gate.json", mime_type="application/json",
                  title="Run inference gate")
    async def run_gate(run_id: str, ctx: Context[Any, Any]) -> str:
        """The run's full-inference gate: status, summary, checks, evidence, blockers, how_to_call."""
        return await _read(ctx, lambda f: f.gate(run_id).model_dump_json(indent=2))
