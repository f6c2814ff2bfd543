"""get_gate through the in-memory client, in both eras: the verdict, or a clear "not finished yet" (DESIGN §6)."""

from __future__ import annotations

import pytest
from mcp import Client

from space_factory.domain.phases import Phase, RunStatus
from space_factory.service import Factory
from tests.tools.helpers import call, call_error, passed_gate, write_run

pytestmark = pytest.mark.anyio


async def test_get_gate_of_a_finished_run_returns_the_gate_with_checks_and_how_to_call(client: Client,
                                                                                       factory: Factory) -> None:
    """A finished run's gate: status, checks, space and how_to_call (DESIGN §6)."""
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate())
    out = await call(client, "get_gate", {"run_id": run_id})
    assert out["ready"] is True and out["gate_status"] == "full_inference_passed"
    gate = out["gate"]
    assert {c["name"] for c in gate["checks"]} == {"build", "health", "api_schema", "predict", "output_valid"}
    assert gate["how_to_call"]["api_name"] == "/predict" and gate["space"]["id"].startswith("tester/")


@pytest.mark.parametrize("phase", [Phase.QUEUED, Phase.BUILDING, Phase.VALIDATING_API])
async def test_get_gate_of_a_run_still_going_is_a_result_saying_not_finished_and_the_phase(
        client: Client, factory: Factory, phase: Phase) -> None:
    """For a run still going get_gate is not an error: ready=false, the phase, when to poll (issue 3)."""
    run_id = write_run(factory, phase=phase)
    out = await call(client, "get_gate", {"run_id": run_id})
    assert out["ready"] is False and out["gate"] is None
    assert out["phase"] == phase.value and out["status"] == "running"
    assert f"phase {phase.value}" in out["message"] and "get_run_status" in out["message"]
    assert out["next_poll_seconds"] > 0


async def test_get_gate_of_a_run_that_failed_before_a_gate_says_why_and_where_to_look(client: Client,
                                                                                      factory: Factory) -> None:
    """A failed run has no gate: the answer carries the factory's error and points at the worker log (§5)."""
    run_id = write_run(factory, status=RunStatus.FAILED, phase=Phase.ANALYZING, error="the worker crashed")
    out = await call(client, "get_gate", {"run_id": run_id})
    assert out["ready"] is False and out["status"] == "failed"
    assert "the worker crashed" in out["message"] and "fetch_trace_redacted" in out["message"]
    assert out["next_poll_seconds"] is None


async def test_get_gate_of_an_unknown_run_is_a_tool_error(client: Client) -> None:
    text = await call_error(client, "get_gate", {"run_id": "20261128-000000-nothing-abcdef"})
    assert "run not found" in text
