"""A tasks-extension client (SEP-2663) at the wire, as Claude Code runs tool calls: a real SDK `ClientExtension`.

Constructed into `Client(extensions=[TasksClient()])`, it declares `io.modelcontextprotocol/tasks` in every
request's capabilities and claims `resultType: "task"` on `tools/call`: `client.call_tool` then polls
`tasks/get`, waiting `pollIntervalMs` before each poll, until the task is `completed`, and returns the task's
`result` as the call's `CallToolResult`. It counts the task requests it sends and keeps every answer.

The raw helpers (`call_as_task`, `get_task`, `cancel_task`, `update_task`) send one request each, for tests that
look at a task between polls, and they set `Mcp-Name` to the task id as the spec requires on HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import anyio
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

from space_factory.server.tasks import EXTENSION_ID

__all__ = ["CreatedTask", "TaskEnded", "TasksClient", "call_as_task", "cancel_task", "follow_task", "get_task",
           "update_task"]

DEFAULT_POLL_MS = 1000  # when the server gives no pollIntervalMs


class CreatedTask(Result):
    """`CreateTaskResult`: the task handle a `tools/call` answered instead of its result."""

    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class _TaskParams(RequestParams):
    task_id: str


class _UpdateParams(_TaskParams):
    input_responses: dict[str, Any] = Field(default_factory=dict)


class _GetTask(Request[_TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class _CancelTask(Request[_TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class _UpdateTask(Request[_UpdateParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class _Answer(Result):
    """Any result, kept as it came on the wire (camelCase keys, absent keys absent)."""

    model_config = ConfigDict(extra="allow")


async def _send(session: ClientSession, request: Request[Any, Any]) -> dict[str, Any]:
    answer = await session.send_request(request, _Answer)
    return answer.model_dump(by_alias=True, exclude_unset=True)


class TaskEnded(RuntimeError):
    """The task ended without a result (`cancelled` or `failed`); `task` is its last `tasks/get` answer."""

    def __init__(self, task: dict[str, Any]) -> None:
        super().__init__(f"task {task.get('taskId')} ended {task.get('status')}: {task.get('statusMessage')}")
        self.task = task


async def get_task(session: ClientSession, task_id: str) -> dict[str, Any]:
    return await _send(session, _GetTask(params=_TaskParams(task_id=task_id)))


async def cancel_task(session: ClientSession, task_id: str) -> dict[str, Any]:
    return await _send(session, _CancelTask(params=_TaskParams(task_id=task_id)))


async def update_task(session: ClientSession, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
    return await _send(session, _UpdateTask(params=_UpdateParams(task_id=task_id, input_responses=responses)))


async def call_as_task(client: Client, tool: str, args: dict[str, Any]) -> CreatedTask | CallToolResult:
    """One `tools/call`, answered as sent: a `CreatedTask` (the client declared tasks) or the plain result."""
    result = await client.session.call_tool(tool, args, allow_claimed=True)
    assert isinstance(result, CreatedTask | CallToolResult), type(result)
    return result


class TasksClient(ClientExtension):
    """Declares the tasks extension and resolves a task answer by polling `tasks/get` until it is completed.

    Args:
        timeout: seconds a task may take before the call fails.

    Attributes:
        requests: task requests sent, by method.
        created: every task a `tools/call` answered.
        polls: every `tasks/get` answer, in order.
    """

    identifier = EXTENSION_ID

    def __init__(self, timeout: float = 900.0) -> None:
        self.timeout = timeout
        self.requests: Counter[str] = Counter()
        self.created: list[CreatedTask] = []
        self.polls: list[dict[str, Any]] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self._follow)]

    async def _follow(self, created: CreatedTask, ctx: ClaimContext) -> CallToolResult:
        self.created.append(created)
        with anyio.fail_after(self.timeout):
            task = await follow_task(ctx.session, created.task_id, created.poll_interval_ms, on_poll=self._count)
        if task["status"] != "completed":
            raise TaskEnded(task)
        return CallToolResult.model_validate(task["result"])

    def _count(self, task: dict[str, Any]) -> None:
        self.requests["tasks/get"] += 1
        self.polls.append(task)


async def follow_task(session: ClientSession, task_id: str, poll_interval_ms: int | None = None, *,
                      on_poll: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Poll `tasks/get` until the task is terminal and return that answer; waits `pollIntervalMs` before each poll.

    Also what a client does with a task id it persisted: resume following it, on any server, after a restart.
    The caller bounds the time (`anyio.fail_after`).
    """
    interval = poll_interval_ms
    while True:
        await anyio.sleep((interval or DEFAULT_POLL_MS) / 1000)  # the spec's SHOULD: honour pollIntervalMs
        task = await get_task(session, task_id)
        if on_poll is not None:
            on_poll(task)
        if task["status"] in ("completed", "cancelled", "failed"):
            return task
        interval = task.get("pollIntervalMs", interval)
