"""Builds as MCP tasks: the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) over the run record.

A client that declares the extension in a request's capabilities gets `launch_build`, `revise_build` and
`validate_space` answered as a task (`resultType: "task"`), polls `tasks/get` until the task is `completed`
(its `result` is the `CallToolResult` the tool gives for the ended run, `structuredContent` the final
`LaunchView`) or `cancelled`, and may `tasks/cancel` it. Every other client, and every other tool, gets the
plain result: the `run_id` + `get_run_status` poll path is unchanged.

Nothing lives in the server: the tool starts the run as it always does, a task handle is written into the
run's record (`Factory.create_task_handle`) before the task is answered, and `tasks/get` reads the record
(`Factory.task_progress`), so a restarted server or a second replica answers it. The task id carries a secret
only the caller holds (`domain/task_handles.py`), and every task request resolves through the caller's own
`Factory`, so another owner's task, a guessed id and a missing one all answer -32602 "task not found".

What the spec leaves open and what we chose is written down in docs/architecture.md ("MCP tasks").
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio.to_thread
from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context, require_client_extension
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolRequestParams, CallToolResult, RequestParams, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from space_factory.domain.errors import FactoryError, InvalidInput, RunNotFound
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import JsonDict
from space_factory.domain.task_handles import (
    MAX_TASK_ID,
    TaskHandle,
    TaskStatus,
    mint_task_id,
    parse_task_id,
    status_message,
    task_fields,
    task_status,
)
from space_factory.domain.views import RunStatusView
from space_factory.service import Factory, TaskProgress
from space_factory.tools.common import call_service, factory_for, internal_error
from space_factory.tools.follow import launch_view
from space_factory.tools.views import LaunchView

__all__ = ["EXTENSION_ID", "TASK_TOOLS", "BuildTasks", "TaskParams", "UpdateTaskParams", "client_declares_tasks"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_redactor = Redactor()

EXTENSION_ID = "io.modelcontextprotocol/tasks"
# The tools that start a run; each answers a `LaunchView`, so one task shape serves them all.
TASK_TOOLS = frozenset({"launch_build", "revise_build", "validate_space"})
# Per-request capabilities and extension result shapes exist from 2026-07-28 on: a legacy session never gets a
# task, and the SDK sieves a legacy result into a plain `CallToolResult` anyway.
_TASK_VERSIONS = frozenset(MODERN_PROTOCOL_VERSIONS)


class TaskParams(RequestParams):
    """`tasks/get` and `tasks/cancel`: the task to act on."""

    task_id: str = Field(max_length=MAX_TASK_ID)


class UpdateTaskParams(TaskParams):
    """`tasks/update`: our runs never wait for input, so no response is ever outstanding (all are ignored)."""

    input_responses: dict[str, Any] = Field(default_factory=dict)


def client_declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether this request declared the tasks extension (in its own `_meta` capabilities, on 2026-07-28+)."""
    if ctx.protocol_version not in _TASK_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and EXTENSION_ID in capabilities.extensions)


def _not_found() -> MCPError:
    return MCPError(code=INVALID_PARAMS, message="Failed to retrieve task: Task not found")


async def _in_thread(fn: Callable[..., T], /, *args: Any) -> T:
    """Run a service call for a task request; its errors become the JSON-RPC errors the spec names.

    A missing run, another owner's run and a handle that does not exist are one answer, -32602 "task not
    found", so a task id reveals nothing about runs the caller cannot see.
    """
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))
    except (RunNotFound, InvalidInput):
        raise _not_found() from None
    except FactoryError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=_redactor.redact_text(str(exc))) from None
    except Exception:
        raise MCPError(code=INTERNAL_ERROR, message=internal_error("task request")) from None


def _caller_task(ctx: ServerRequestContext[Any, Any], task_id: str) -> tuple[Factory, str, str]:
    """The caller's factory and the task id's run id and secret digest; checked on every task request.

    Raises:
        MCPError: -32021 when this request did not declare the extension, -32602 for an id of no task.
    """
    require_client_extension(ctx, EXTENSION_ID)
    parsed = parse_task_id(task_id)
    if parsed is None:
        raise _not_found()
    try:
        factory = factory_for(Context(request_context=ctx))
    except ToolError as exc:  # the provider refused the caller: the text says why, already redacted
        raise MCPError(code=INTERNAL_ERROR, message=str(exc)) from None
    run_id, digest = parsed
    return factory, run_id, digest


def _tool_result(view: RunStatusView, handle: TaskHandle) -> JsonDict:
    """The `CallToolResult` of a task whose run ended: what the tool answers for the ended run, in wire form.

    `waited_seconds` is how long the task followed the run, from the handle to the run's last state change.
    """
    waited = max(0.0, (view.state.updated_at - handle.created_at).total_seconds())
    launched = launch_view(view, waited)
    structured = launched.model_dump(mode="json", by_alias=True)
    summary = f"Run {launched.run_id} {status_message(view.state, None)}. {launched.next_step}"
    result = CallToolResult(content=[TextContent(type="text", text=summary),
                                     TextContent(type="text", text=json.dumps(structured, indent=2))],
                            structured_content=structured)
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


def _detailed_task(task_id: str, progress: TaskProgress) -> JsonDict:
    """The `tasks/get` answer for a task: its status, and its result once the run has ended."""
    view = progress.view
    latest = view.events[-1].message if view.events else None
    ended = task_status(view.state.status) is TaskStatus.COMPLETED
    return task_fields(task_id, progress.handle, view.state, latest=latest, next_poll_seconds=view.next_poll_seconds,
                       result=_tool_result(view, progress.handle) if ended else None)


async def _get_task(ctx: ServerRequestContext[Any, Any], params: TaskParams) -> JsonDict:
    factory, run_id, digest = _caller_task(ctx, params.task_id)
    return _detailed_task(params.task_id, await _in_thread(factory.task_progress, run_id, digest))


async def _cancel_task(ctx: ServerRequestContext[Any, Any], params: TaskParams) -> JsonDict:
    # The cancel path of cancel_run: the job stops and the run ends `canceled`, seen by the next tasks/get. A run
    # that already ended stays as it is (the spec: cancellation is cooperative and may not take effect).
    factory, run_id, digest = _caller_task(ctx, params.task_id)
    await _in_thread(factory.task_progress, run_id, digest)
    await _in_thread(factory.cancel_run, run_id)
    return {}


async def _update_task(ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> JsonDict:
    # A known task is acknowledged and its responses ignored: none is ever outstanding (the spec's SHOULD-ignore).
    factory, run_id, digest = _caller_task(ctx, params.task_id)
    await _in_thread(factory.task_progress, run_id, digest)
    return {}


class BuildTasks(Extension):
    """The tasks extension for the run-starting tools (`TASK_TOOLS`); pass it to `MCPServer(extensions=[...])`."""

    identifier = EXTENSION_ID

    def methods(self) -> Sequence[MethodBinding]:
        return [MethodBinding(method, params_type, handler, protocol_versions=_TASK_VERSIONS)
                for method, params_type, handler in (("tasks/get", TaskParams, _get_task),
                                                     ("tasks/cancel", TaskParams, _cancel_task),
                                                     ("tasks/update", UpdateTaskParams, _update_task))]

    async def intercept_tool_call(self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any],
                                  call_next: CallNext) -> HandlerResult:
        """Answer a run-starting tool as a task to a client that declared the extension on this request.

        The tool runs as always (it starts the run and answers at once); then the handle is written and the task
        answered. A refused call (a tool error: no run was started) and a run already ended (nothing to follow)
        are answered as the plain result, which the spec lets a declaring client receive at any time.
        """
        if params.name not in TASK_TOOLS or not client_declares_tasks(ctx):
            return await call_next(ctx)
        if params.arguments and params.arguments.get("wait_seconds"):
            # The client follows the task, so the call must not hold the request open; the SDK invokes the tool
            # with this very params object (`Extension.intercept_tool_call`).
            params.arguments = {**params.arguments, "wait_seconds": 0}
        result = await call_next(ctx)
        if not isinstance(result, CallToolResult) or result.is_error or result.structured_content is None:
            return result
        launched = LaunchView.model_validate(result.structured_content)
        if launched.terminal:
            return result
        try:
            factory = factory_for(Context(request_context=ctx))
            task_id, digest = mint_task_id(launched.run_id)
            handle = await call_service(factory.create_task_handle, launched.run_id, digest, params.name)
        except Exception:
            # The run is started and the plain result still leads to it: answer that rather than lose the run_id.
            logger.exception("task handle of run %s not written; answering the plain result", launched.run_id)
            return result
        return {"resultType": "task", **task_fields(task_id, handle, launched.state, latest=None,
                                                    next_poll_seconds=launched.next_poll_seconds, result=None)}
