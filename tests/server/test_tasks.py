"""Builds as MCP tasks (SEP-2663, `io.modelcontextprotocol/tasks`; issue 12 part 1; DESIGN §13) through real SDK
clients: in memory in both eras, and over streamable HTTP in-process for the per-owner checks.

Task state is read from run records written as the worker leaves them (no job) where a precise state is needed;
the tool-call paths start real jobs of a model that is not in the cache, which end `failed` within seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.types import INVALID_PARAMS, METHOD_NOT_FOUND, MISSING_REQUIRED_CLIENT_CAPABILITY, CallToolResult

from space_factory.domain import layout
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.task_handles import mint_task_id
from space_factory.record import RunRecord
from space_factory.server.app import create_app
from space_factory.server.auth import HttpAuth
from space_factory.server.tasks import EXTENSION_ID
from space_factory.service import Factory
from space_factory.tools.views import LaunchView
from tests.support.task_client import CreatedTask, TasksClient, call_as_task, cancel_task, get_task, update_task
from tests.tools.helpers import (
    MISSING_MODEL,
    call,
    make_app,
    make_factory,
    passed_gate,
    result_text,
    run_folder,
    wait_terminal,
    write_run,
)
from tests.tools.test_files import write_parent

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:8000"


@asynccontextmanager
async def tasks_client(factory: Factory, mode: str = "auto") -> AsyncIterator[tuple[Client, TasksClient]]:
    tasks = TasksClient(timeout=120)
    async with Client(make_app(factory), mode=mode, extensions=[tasks]) as client:
        yield client, tasks


def handle_for(factory: Factory, run_id: str, tool: str = "launch_build") -> str:
    """A task handle of `run_id`, stored as the interceptor stores it; returns the task id."""
    task_id, digest = mint_task_id(run_id)
    factory.create_task_handle(run_id, digest, tool)
    return task_id


async def rpc_error(coro: Any) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await coro
    return caught.value


# -- answering a tools/call as a task -------------------------------------------------------------


async def test_a_declaring_client_gets_launch_build_as_a_task_and_polls_it_to_the_final_launch_view(
        factory: Factory) -> None:
    """The task resolves to the CallToolResult launch_build gives for the ended run; a failed run is completed."""
    async with tasks_client(factory) as (client, tasks):
        result = await client.call_tool("launch_build", {"model": MISSING_MODEL})
    (created,) = tasks.created
    run_id = created.task_id.split(".")[0]
    assert created.status == "working" and created.ttl_ms is None and created.poll_interval_ms == 1000
    assert not result.is_error and result.structured_content is not None
    final = LaunchView.model_validate(result.structured_content)
    assert final.run_id == run_id and final.terminal and final.status is RunStatus.FAILED
    assert tasks.requests["tasks/get"] == len(tasks.polls) >= 1
    assert tasks.polls[-1]["status"] == "completed" and tasks.polls[-1]["resultType"] == "complete"
    assert all(p["status"] == "working" and p["pollIntervalMs"] >= 1000 for p in tasks.polls[:-1])
    assert "get_gate" in result_text(result)
    secret = created.task_id.split(".", 1)[1]
    stored = b"".join(p.read_bytes() for p in run_folder(factory, run_id).rglob("*") if p.is_file())
    assert secret.encode() not in stored  # only its digest names the handle's record
    assert (run_folder(factory, run_id) / "tasks" / f"{hashlib.sha256(secret.encode()).hexdigest()}.json").exists()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_that_does_not_declare_tasks_gets_the_plain_launch_view(factory: Factory, mode: str) -> None:
    """Every other client keeps the run_id + poll path: the same result as before, and no handle is written."""
    async with Client(make_app(factory), mode=mode) as client:
        launched = await call(client, "launch_build", {"model": MISSING_MODEL})
    assert LaunchView.model_validate(launched).run_id and "get_run_status" in launched["next_step"]
    assert not (run_folder(factory, launched["run_id"]) / layout.TASK_HANDLES).exists()
    await wait_terminal(factory, launched["run_id"])


async def test_a_legacy_session_never_gets_a_task_even_with_the_extension_constructed(factory: Factory) -> None:
    """Per-request capabilities and extension result shapes are 2026-07-28 vocabulary; a 2025-11-25 session gets
    the plain result, and the tasks/* methods are not served there."""
    async with tasks_client(factory, "legacy") as (client, tasks):
        launched = await call(client, "launch_build", {"model": MISSING_MODEL})
        error = await rpc_error(get_task(client.session, handle_for(factory, launched["run_id"])))
    assert tasks.created == [] and error.error.code == METHOD_NOT_FOUND
    await wait_terminal(factory, launched["run_id"])


async def test_wait_seconds_is_not_waited_on_when_answering_as_a_task(factory: Factory) -> None:
    """The client follows the task, so the call answers at once; waiting would have answered the ended run."""
    async with tasks_client(factory) as (client, _):
        created = await call_as_task(client, "launch_build", {"model": MISSING_MODEL, "wait_seconds": 600})
    assert isinstance(created, CreatedTask) and created.status == "working"
    await wait_terminal(factory, created.task_id.split(".")[0])


async def test_a_refused_call_answers_the_plain_tool_error_not_a_task(factory: Factory) -> None:
    """No run was started, so there is nothing to follow: the tool error comes back as it is."""
    async with tasks_client(factory) as (client, tasks):
        result = await call_as_task(client, "launch_build", {"model": "not a model id"})
    assert isinstance(result, CallToolResult) and result.is_error and tasks.created == []


async def test_validate_space_and_revise_build_answer_as_tasks_and_get_gate_does_not(factory: Factory) -> None:
    parent = write_parent(factory)
    async with tasks_client(factory) as (client, _):
        validated = await call_as_task(client, "validate_space", {"space": "http://127.0.0.1:9/"})
        revised = await call_as_task(client, "revise_build", {"run_id": parent, "files": {"app.py": "print(2)\n"}})
        gate = await call_as_task(client, "get_gate", {"run_id": parent})
        for created in (validated, revised):
            assert isinstance(created, CreatedTask) and created.status == "working"
            assert (await cancel_task(client.session, created.task_id))["resultType"] == "complete"
    assert isinstance(gate, CallToolResult) and not gate.is_error
    assert isinstance(validated, CreatedTask) and isinstance(revised, CreatedTask)
    assert validated.task_id.split(".")[0] != revised.task_id.split(".")[0] != parent


async def test_the_server_advertises_the_tasks_extension(factory: Factory) -> None:
    async with Client(make_app(factory), mode="auto") as client:
        capabilities = client.server_capabilities
    assert capabilities is not None and capabilities.extensions is not None
    assert EXTENSION_ID in capabilities.extensions


# -- tasks/get: a run seen as a task --------------------------------------------------------------


async def test_tasks_get_of_a_running_run_is_working_with_its_phase_latest_event_and_poll_interval(
        factory: Factory) -> None:
    run_id = write_run(factory, status=RunStatus.RUNNING, phase=Phase.BUILDING,
                       events=[(Phase.QUEUED, "queued"), (Phase.BUILDING, "Space build started")])
    task_id = handle_for(factory, run_id)
    async with tasks_client(factory) as (client, _):
        task = await get_task(client.session, task_id)
    assert task["resultType"] == "complete" and task["taskId"] == task_id and task["status"] == "working"
    assert task["statusMessage"] == "building: Space build started" and task["pollIntervalMs"] == 3000
    assert task["ttlMs"] is None and task["createdAt"].endswith("Z") and "result" not in task


async def test_a_finished_run_is_a_completed_task_whose_result_is_the_final_launch_view(factory: Factory) -> None:
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate(),
                       space_id="tester/tiny-gpt2-demo-abcdef")
    task_id = handle_for(factory, run_id)
    async with tasks_client(factory) as (client, _):
        task = await get_task(client.session, task_id)
    assert task["status"] == "completed" and task["statusMessage"] == "finished: gate full_inference_passed"
    assert "pollIntervalMs" not in task and task["result"]["isError"] is False
    final = LaunchView.model_validate(task["result"]["structuredContent"])
    assert final.run_id == run_id and final.gate_status == "full_inference_passed" and final.terminal
    assert task["result"]["content"][0]["text"].startswith(f"Run {run_id} finished: gate full_inference_passed.")


async def test_a_failed_run_is_completed_with_its_error_and_a_canceled_one_is_cancelled(factory: Factory) -> None:
    """`failed` is for JSON-RPC errors only (spec): a failed run is a tool-level outcome, so a completed task."""
    failed = handle_for(factory, write_run(factory, status=RunStatus.FAILED, error="the job died"))
    canceled = handle_for(factory, write_run(factory, status=RunStatus.CANCELED))
    async with tasks_client(factory) as (client, _):
        failed_task = await get_task(client.session, failed)
        canceled_task = await get_task(client.session, canceled)
    assert failed_task["status"] == "completed" and failed_task["statusMessage"] == "failed: the job died"
    assert failed_task["result"]["structuredContent"]["status"] == "failed"
    assert canceled_task["status"] == "cancelled" and "result" not in canceled_task


async def test_a_status_message_is_redacted(factory: Factory) -> None:
    token = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
    run_id = write_run(factory, events=[(Phase.BUILDING, f"using {token}")])
    async with tasks_client(factory) as (client, _):
        task = await get_task(client.session, handle_for(factory, run_id))
    assert token not in str(task) and task["statusMessage"].startswith("building: using ")


async def test_a_fresh_server_over_the_same_home_answers_a_task_another_one_created(tmp_path: Path) -> None:
    """The task lives in the run record, not in the server that answered the tools/call."""
    first, second = make_factory(tmp_path / "home"), make_factory(tmp_path / "home")
    async with tasks_client(first) as (client, _):
        created = await call_as_task(client, "launch_build", {"model": MISSING_MODEL})
    assert isinstance(created, CreatedTask)
    async with tasks_client(second) as (client, _):
        task = await get_task(client.session, created.task_id)
    assert task["taskId"] == created.task_id and task["createdAt"] == created.created_at
    await wait_terminal(second, created.task_id.split(".")[0])


async def test_the_status_message_follows_the_newest_event_of_a_long_run(factory: Factory) -> None:
    """A poll reads the events after the newest one this server saw, so a run of thousands of events stays cheap."""
    run_id = write_run(factory, events=[(Phase.BUILDING, f"line {n}") for n in range(1, 602)])
    task_id = handle_for(factory, run_id)
    async with tasks_client(factory) as (client, _):
        first = await get_task(client.session, task_id)
        second = await get_task(client.session, task_id)
    assert first["statusMessage"] == "building: line 500" and second["statusMessage"] == "building: line 601"


# -- refusals ---------------------------------------------------------------------------------------


async def test_a_forged_guessed_or_malformed_task_id_is_invalid_params(factory: Factory) -> None:
    """The run id is not enough: without the handle's secret a task id names no task (the spec: unguessable)."""
    run_id = write_run(factory)
    handle_for(factory, run_id)
    forged = mint_task_id(run_id)[0]  # well-formed, but its secret's digest names no handle
    async with tasks_client(factory) as (client, _):
        for task_id in (forged, run_id, "nope", f"../../{run_id}.{'a' * 32}", f"{run_id}.{'a' * 31}", "x" * 500):
            for request in (get_task, cancel_task):
                error = await rpc_error(request(client.session, task_id))
                assert error.error.code == INVALID_PARAMS, (task_id, error.error)
        error = await rpc_error(update_task(client.session, forged, {}))
    assert error.error.code == INVALID_PARAMS
    state = RunRecord(factory.backend.bucket, run_id).state()
    assert state is not None and state.status is RunStatus.RUNNING  # the forged cancel stopped nothing


async def test_tasks_requests_of_a_client_that_did_not_declare_the_extension_answer_missing_capability(
        factory: Factory) -> None:
    task_id = handle_for(factory, write_run(factory))
    async with Client(make_app(factory), mode="auto") as client:
        errors = [await rpc_error(request(client.session, task_id)) for request in (get_task, cancel_task)]
        errors.append(await rpc_error(update_task(client.session, task_id, {})))
    for error in errors:
        assert error.error.code == MISSING_REQUIRED_CLIENT_CAPABILITY
        assert error.error.data == {"requiredCapabilities": {"extensions": {EXTENSION_ID: {}}}}


async def test_tasks_update_acknowledges_a_known_task_and_ignores_its_responses(factory: Factory) -> None:
    """No run ever waits for input, so no key is outstanding: the spec's SHOULD-ignore."""
    task_id = handle_for(factory, write_run(factory))
    async with tasks_client(factory) as (client, _):
        ack = await update_task(client.session, task_id, {"name": {"action": "accept", "content": {}}})
        task = await get_task(client.session, task_id)
    assert ack["resultType"] == "complete" and set(ack) <= {"resultType", "_meta"} and task["status"] == "working"


async def test_tasks_cancel_stops_the_run_and_the_task_reads_cancelled(factory: Factory) -> None:
    async with tasks_client(factory) as (client, _):
        created = await call_as_task(client, "launch_build", {"model": MISSING_MODEL})
        assert isinstance(created, CreatedTask)
        ack = await cancel_task(client.session, created.task_id)
        task = await get_task(client.session, created.task_id)
    assert set(ack) <= {"resultType", "_meta"} and ack["resultType"] == "complete"
    assert task["status"] in ("cancelled", "completed")  # cooperative: a run that ended first stays as it ended
    if task["status"] == "cancelled":
        assert (await wait_terminal(factory, created.task_id.split(".")[0])).status is RunStatus.CANCELED


# -- per owner, over HTTP ---------------------------------------------------------------------------


class _TwoOwners(TokenVerifier):
    async def verify_token(self, token: str) -> AccessToken | None:
        owner = {"alice-token": "alice", "bob-token": "bob"}.get(token)
        return AccessToken(token="[not kept]", client_id="t", scopes=[], subject=owner) if owner else None


async def test_another_owners_task_is_not_found_over_http(tmp_path: Path) -> None:
    """Auth is checked on every task request (spec): the task id alone does not reach another owner's run."""
    factories = {owner: make_factory(tmp_path / "home", owner=owner, bucket="shared/runs") for owner in ("alice",
                                                                                                         "bob")}
    task_id = handle_for(factories["alice"], write_run(factories["alice"]))
    app = create_app(lambda subject, token=None: factories[subject or "alice"],
                     http_auth=HttpAuth(_TwoOwners(), f"{BASE}/mcp"))
    asgi = app.streamable_http_app(stateless_http=True)
    answers: dict[str, Any] = {}
    async with app.session_manager.run():
        for owner in ("alice", "bob"):
            async with (httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), base_url=BASE,
                                           headers={"Authorization": f"Bearer {owner}-token"}) as http,
                        Client(streamable_http_client(f"{BASE}/mcp", http_client=http),
                               extensions=[TasksClient()]) as client):
                try:
                    answers[owner] = await get_task(client.session, task_id)
                except MCPError as exc:
                    answers[owner] = exc.error.code
    assert answers["alice"]["status"] == "working" and answers["bob"] == INVALID_PARAMS
