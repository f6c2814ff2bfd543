"""request_hardware through the in-memory client, in both eras: outcomes, records, and the cost confirmation by
elicitation (accepted / declined / canceled / unsupported → confirm_cost) (DESIGN §6; issue 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from space_factory.domain import layout
from space_factory.service import Factory
from tests.tools.helpers import call, call_error, jsonl, make_app, make_factory, run_folder, write_run

pytestmark = pytest.mark.anyio
SPACE = "tester/tiny-gpt2-demo-abcdef"


def answering(action: str, content: dict[str, Any] | None, asked: list[str]) -> Any:
    async def callback(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    return callback


@pytest.fixture
def billed(tmp_path: Path) -> Factory:
    """The local parts relabeled as a billed backend: the service then requires cost confirmation (see helpers)."""
    return make_factory(tmp_path / "billed", backend_name="hf")


async def test_a_paid_flavor_on_the_local_backend_is_not_available_and_nobody_is_asked(factory: Factory,
                                                                                      mode: str) -> None:
    """Local Spaces run on this machine's CPU: paid flavors answer not_available, with no cost question (§2, §6)."""
    run_id = write_run(factory, space_id=SPACE)
    asked: list[str] = []
    async with Client(make_app(factory), mode=mode,
                      elicitation_callback=answering("accept", {"approve": True}, asked)) as client:
        out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "t4-small"})
    assert asked == []
    assert out["requested"] is True and out["outcome"] == "not_available"
    assert out["cost_confirmation"] == "not_needed" and out["hourly_cost_usd"] == pytest.approx(0.40)
    records = jsonl(run_folder(factory, run_id) / layout.HARDWARE_REQUESTS)
    assert [(r["flavor"], r["outcome"], r["source"]) for r in records] == [("t4-small", "not_available", "tool")]


async def test_the_current_free_flavor_answers_already_set(client: Client, factory: Factory) -> None:
    run_id = write_run(factory, space_id=SPACE)
    out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "cpu-basic"})
    assert out["outcome"] == "already_set" and out["cost_confirmation"] == "not_needed"


async def test_a_run_without_a_space_yet_is_a_tool_error(client: Client, factory: Factory) -> None:
    run_id = write_run(factory)
    text = await call_error(client, "request_hardware", {"run_id": run_id, "flavor": "t4-small"})
    assert "has no Space yet" in text


async def test_an_unknown_flavor_is_refused_by_the_schema(client: Client, factory: Factory) -> None:
    run_id = write_run(factory, space_id=SPACE)
    text = await call_error(client, "request_hardware", {"run_id": run_id, "flavor": "h100-mega"})
    assert "flavor" in text


async def test_a_paid_flavor_approved_by_the_user_is_requested(billed: Factory, mode: str) -> None:
    """The client is asked (Resolve/Elicit, both eras) with the hourly price; on approval the request goes out."""
    run_id = write_run(billed, space_id=SPACE)
    asked: list[str] = []
    async with Client(make_app(billed), mode=mode,
                      elicitation_callback=answering("accept", {"approve": True}, asked)) as client:
        out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "t4-small"})
    assert len(asked) == 1 and "$0.40/hour" in asked[0] and "t4-small" in asked[0]
    assert out["requested"] is True and out["cost_confirmation"] == "user_confirmed"
    assert out["outcome"] == "not_available"  # the relabeled local host still has no GPU
    assert len(jsonl(run_folder(billed, run_id) / layout.HARDWARE_REQUESTS)) == 1


@pytest.mark.parametrize(("action", "content", "expected"), [
    ("decline", None, "user_declined"),
    ("cancel", None, "user_canceled"),
    ("accept", {"approve": False}, "user_declined"),
])
async def test_a_paid_flavor_the_user_does_not_approve_is_not_requested(billed: Factory, mode: str, action: str,
                                                                        content: dict[str, Any] | None,
                                                                        expected: str) -> None:
    """Declined, canceled or answered 'no': a result saying nothing was requested, and nothing recorded."""
    run_id = write_run(billed, space_id=SPACE)
    asked: list[str] = []
    async with Client(make_app(billed), mode=mode, elicitation_callback=answering(action, content, asked)) as client:
        out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "a10g-small"})
    assert len(asked) == 1
    assert out["requested"] is False and out["outcome"] is None and out["cost_confirmation"] == expected
    assert jsonl(run_folder(billed, run_id) / layout.HARDWARE_REQUESTS) == []


async def test_a_client_that_cannot_ask_falls_back_to_confirm_cost(billed: Factory, mode: str) -> None:
    """Without elicitation support the call fails with the price and asks for confirm_cost=true; with it, the
    request goes out without a question (issue 3)."""
    run_id = write_run(billed, space_id=SPACE)
    async with Client(make_app(billed), mode=mode) as client:
        text = await call_error(client, "request_hardware", {"run_id": run_id, "flavor": "t4-small"})
        assert "$0.40/hour" in text and "confirm_cost=true" in text
        assert jsonl(run_folder(billed, run_id) / layout.HARDWARE_REQUESTS) == []
        out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "t4-small", "confirm_cost": True})
    assert out["requested"] is True and out["cost_confirmation"] == "confirm_cost"


async def test_confirm_cost_skips_the_question_even_for_a_client_that_can_ask(billed: Factory, mode: str) -> None:
    run_id = write_run(billed, space_id=SPACE)
    asked: list[str] = []
    async with Client(make_app(billed), mode=mode,
                      elicitation_callback=answering("accept", {"approve": True}, asked)) as client:
        out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "t4-small", "confirm_cost": True})
    assert asked == [] and out["cost_confirmation"] == "confirm_cost"


async def test_a_free_flavor_on_a_billed_backend_needs_no_question(billed: Factory, mode: str) -> None:
    run_id = write_run(billed, space_id=SPACE)
    asked: list[str] = []
    async with Client(make_app(billed), mode=mode,
                      elicitation_callback=answering("accept", {"approve": True}, asked)) as client:
        out = await call(client, "request_hardware", {"run_id": run_id, "flavor": "cpu-basic"})
    assert asked == [] and out["outcome"] == "already_set"
