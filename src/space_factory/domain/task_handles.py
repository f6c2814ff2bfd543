"""MCP task handles of runs (the tasks extension, SEP-2663): their ids, their record, and a run seen as a task.

A task id is `<run_id>.<secret>`: the run id says which record answers (any server over the same bucket can
read it, so a restarted server or a second replica answers `tasks/get`), and the secret makes the id
unguessable, as the spec requires of ids that act as bearer handles (a run id alone has 24 random bits).
Only the SHA-256 of the secret is stored, as the name of the handle's record (`layout.task_handle`), so the
record never holds what it takes to use the handle.

A task's status is the run's, mapped onto the spec's five: a run still queued or running is `working`; a run
that finished *or failed* is `completed`, because either way the tool answers a result (a failed run is a
tool-level outcome, the `LaunchView` says `failed`; the spec keeps `failed` for JSON-RPC errors); a canceled
run is `cancelled`. No run ever asks the client for input, so `input_required` is never used.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from space_factory.domain.ids import RUN_ID_PATTERN
from space_factory.domain.phases import RunStatus
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import JsonDict, RunState, utcnow

__all__ = ["MAX_STATUS_MESSAGE", "MAX_TASK_ID", "TaskHandle", "TaskStatus", "mint_task_id", "parse_task_id",
           "poll_interval_ms", "secret_digest", "status_message", "task_fields", "task_status"]

_SECRET_BYTES = 24  # 192 bits: far beyond enumeration, and 32 URL-safe characters (a valid Mcp-Name header)
_SECRET_RE = r"[A-Za-z0-9_-]{32}"
_TASK_ID_RE = re.compile(rf"({RUN_ID_PATTERN.strip('^$')})\.({_SECRET_RE})")
MAX_TASK_ID = 80 + 1 + 32  # the longest run id, the dot, the secret
MAX_STATUS_MESSAGE = 200
_redactor = Redactor()


class TaskStatus(StrEnum):
    """The task statuses this server answers (the spec's `working | completed | cancelled` of its five)."""

    WORKING = "working"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskHandle(BaseModel):
    """`runs/<run_id>/tasks/<sha256>.json`: one task handle a tool call answered for the run."""

    tool: str = Field(description="The tool whose call the task answers (launch_build, revise_build, validate_space).")
    created_at: datetime = Field(default_factory=utcnow)


def mint_task_id(run_id: str) -> tuple[str, str]:
    """A fresh task id for `run_id`, and the digest of its secret to store (the secret itself is never stored).

    Example:
        >>> task_id, digest = mint_task_id("20261128-171233-tiny-gpt2-4f9a1c")
        >>> parse_task_id(task_id) == ("20261128-171233-tiny-gpt2-4f9a1c", digest), len(digest)
        (True, 64)
    """
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{run_id}.{secret}", secret_digest(secret)


def secret_digest(secret: str) -> str:
    """The SHA-256 hex digest of a handle's secret: the name its record is stored under."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_task_id(task_id: str) -> tuple[str, str] | None:
    """The run id and the secret's digest of a well-formed task id, else None (answered "task not found").

    Example:
        >>> parse_task_id("20261128-171233-tiny-gpt2-4f9a1c"), parse_task_id("../../etc." + "a" * 32)
        (None, None)
    """
    match = _TASK_ID_RE.fullmatch(task_id) if len(task_id) <= MAX_TASK_ID else None
    if match is None:
        return None
    return match.group(1), secret_digest(match.group(2))


def task_status(status: RunStatus) -> TaskStatus:
    """The task status of a run status (see the module docstring for why a failed run is `completed`)."""
    if status is RunStatus.CANCELED:
        return TaskStatus.CANCELLED
    if status in (RunStatus.FINISHED, RunStatus.FAILED):
        return TaskStatus.COMPLETED
    return TaskStatus.WORKING


def status_message(state: RunState, latest: str | None) -> str:
    """What the task's `statusMessage` says: the phase and the latest event while working, else the outcome.

    The spec lets a client show it to the user or the model, so it is redacted and bounded here once more.

    Example:
        >>> state = RunState(run_id="20261128-171233-tiny-gpt2-4f9a1c", model="o/m", owner="me")
        >>> status_message(state, "job 1 started")
        'queued: job 1 started'
    """
    if state.status is RunStatus.FINISHED:
        text = f"finished: gate {state.gate_status.value if state.gate_status else 'unknown'}"
    elif state.status is RunStatus.FAILED:
        text = f"failed: {state.error or 'the run failed'}"
    elif state.status is RunStatus.CANCELED:
        text = "canceled"
    else:
        text = f"{state.phase.value}: {latest}" if latest else state.phase.value
    return _redactor.redact_text(text)[:MAX_STATUS_MESSAGE]


def poll_interval_ms(next_poll_seconds: float | None) -> int | None:
    """The run's poll hint in the spec's integer milliseconds; None once the run has ended."""
    return None if next_poll_seconds is None else max(1, round(next_poll_seconds * 1000))


def _wire_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def task_fields(task_id: str, handle: TaskHandle, state: RunState, *, latest: str | None,
                next_poll_seconds: float | None, result: JsonDict | None) -> JsonDict:
    """The spec's `Task` (a `DetailedTask` when the result is given) for a run, in wire form.

    Args:
        latest: the run's latest event message, for a working task's `statusMessage`.
        next_poll_seconds: the run's poll hint; becomes `pollIntervalMs` while working.
        result: the `CallToolResult` of a completed task, in wire form; None for a seed or a working task.

    `ttlMs` is null: the factory never discards a run record, and a run always ends (a dead job is reconciled
    to `failed`), so the task outlives any wait a client would bound it with.
    """
    status = task_status(state.status)
    updated = max(state.updated_at, handle.created_at)
    fields: JsonDict = {"taskId": task_id, "status": status.value, "statusMessage": status_message(state, latest),
                        "createdAt": _wire_time(handle.created_at), "lastUpdatedAt": _wire_time(updated),
                        "ttlMs": None}
    interval = poll_interval_ms(next_poll_seconds) if status is TaskStatus.WORKING else None
    if interval is not None:
        fields["pollIntervalMs"] = interval
    if status is TaskStatus.COMPLETED and result is not None:
        fields["result"] = result
    return fields
