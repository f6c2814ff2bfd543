"""get_run_status, list_runs and cancel_run through the in-memory client, in both eras (DESIGN §5, §7, §9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from space_factory.domain.phases import Phase, RunStatus
from space_factory.service import Factory
from tests.tools.helpers import (
    MISSING_MODEL,
    call,
    call_error,
    make_app,
    make_factory,
    passed_gate,
    wait_terminal,
    write_run,
)

pytestmark = pytest.mark.anyio


async def test_get_run_status_returns_the_state_and_only_the_events_after_since_seq(client: Client,
                                                                                    factory: Factory) -> None:
    """Events come with seq; since_seq returns only newer ones and last_seq says where to resume (DESIGN §5)."""
    events = [(Phase.QUEUED, "queued"), (Phase.ANALYZING, "reading the card"), (Phase.BUILDING, "building")]
    run_id = write_run(factory, events=events)
    out = await call(client, "get_run_status", {"run_id": run_id})
    assert [e["seq"] for e in out["events"]] == [1, 2, 3]
    assert out["last_seq"] == 3 and out["terminal"] is False and out["next_poll_seconds"] > 0
    assert out["state"]["phase"] == "building" and out["state"]["owner"] == "tester"
    newer = await call(client, "get_run_status", {"run_id": run_id, "since_seq": 2})
    assert [e["message"] for e in newer["events"]] == ["building"]
    none = await call(client, "get_run_status", {"run_id": run_id, "since_seq": 3})
    assert none["events"] == [] and none["last_seq"] == 3


async def test_get_run_status_of_a_finished_run_is_terminal_without_a_poll_hint(client: Client,
                                                                                factory: Factory) -> None:
    """A terminal run says terminal=true and next_poll_seconds=null: call get_gate next (DESIGN §7)."""
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate())
    out = await call(client, "get_run_status", {"run_id": run_id})
    assert out["terminal"] is True and out["next_poll_seconds"] is None
    assert out["state"]["gate_status"] == "full_inference_passed"


async def test_get_run_status_of_an_unknown_run_is_a_tool_error_pointing_to_list_runs(client: Client) -> None:
    """An unknown (well-formed) run id is a tool error the agent can act on (DESIGN §7)."""
    text = await call_error(client, "get_run_status", {"run_id": "20261128-000000-nothing-abcdef"})
    assert "run not found" in text and "list_runs" in text


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "UPPER-case-id", "short", "x" * 81])
async def test_get_run_status_refuses_a_malformed_run_id(client: Client, run_id: str) -> None:
    """Run ids are validated by the schema pattern before any path is built (DESIGN §4, §9)."""
    text = await call_error(client, "get_run_status", {"run_id": run_id})
    assert "run_id" in text


@pytest.mark.parametrize("shared_bucket", [False, True], ids=["own-buckets", "shared-bucket"])
async def test_another_owners_run_answers_not_found_everywhere(tmp_path: Path, mode: str, shared_bucket: bool) -> None:
    """A caller sees only their own runs: another owner's run is 'not found', in status, gate, trace,
    cancel and the list (DESIGN §9) — whether owners have their own buckets or share one."""
    bucket = "shared/runs" if shared_bucket else None
    mine = make_factory(tmp_path / "home", bucket=bucket)
    theirs = make_factory(tmp_path / "home", owner="mallory", bucket=bucket)
    their_run = write_run(theirs, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate(),
                          logs={"worker": "their log\n"})
    my_run = write_run(mine)
    async with Client(make_app(mine), mode=mode) as client:
        for tool, extra in [("get_run_status", {}), ("get_gate", {}), ("fetch_trace_redacted", {}),
                            ("cancel_run", {}), ("request_hardware", {"flavor": "cpu-basic"})]:
            text = await call_error(client, tool, {"run_id": their_run, **extra})
            assert "run not found" in text, (tool, text)
        listed = await call(client, "list_runs")
        assert [r["run_id"] for r in listed["runs"]] == [my_run]
    assert theirs.state(their_run).status is RunStatus.FINISHED  # untouched by the cancel attempt


async def test_list_runs_lists_the_callers_runs_newest_first_up_to_limit(client: Client, factory: Factory) -> None:
    """list_runs: newest first, bounded by limit (DESIGN §7)."""
    ids = [write_run(factory, run_id=f"2026112{i}-000000-tiny-gpt2-abcdef") for i in range(1, 4)]
    out = await call(client, "list_runs")
    assert [r["run_id"] for r in out["runs"]] == ids[::-1]
    out = await call(client, "list_runs", {"limit": 2})
    assert [r["run_id"] for r in out["runs"]] == ids[:0:-1]
    await call_error(client, "list_runs", {"limit": 0})


async def test_cancel_run_stops_a_live_run_and_a_second_cancel_changes_nothing(client: Client,
                                                                               factory: Factory) -> None:
    """cancel_run ends a running run canceled with a canceled gate; canceling an ended run is a no-op (§5, §6)."""
    launched = await call(client, "launch_build", {"model": MISSING_MODEL})
    run_id = launched["run_id"]
    first = await call(client, "cancel_run", {"run_id": run_id})
    if first["canceled"]:  # the real job may already have ended on its own: then nothing was canceled
        assert first["status"] == "canceled"
        gate = await call(client, "get_gate", {"run_id": run_id})
        assert gate["ready"] is True and gate["gate"]["status"] == "canceled"
    second = await call(client, "cancel_run", {"run_id": run_id})
    assert second["canceled"] is False and "already ended" in second["next_step"]
    assert second["status"] == first["status"]
    await wait_terminal(factory, run_id)


async def test_cancel_run_of_a_running_record_marks_it_canceled(client: Client, factory: Factory) -> None:
    """A run in progress (written without a job) is canceled deterministically (DESIGN §5)."""
    run_id = write_run(factory, phase=Phase.GENERATING)
    out = await call(client, "cancel_run", {"run_id": run_id})
    assert out["canceled"] is True and out["state"]["gate_status"] == "canceled"
    status = await call(client, "get_run_status", {"run_id": run_id})
    assert status["terminal"] is True and "canceled" in status["events"][-1]["message"]
