"""fetch_trace_redacted through the in-memory client, in both eras: bounded pages, stable cursors, redaction,
never raw traces (DESIGN §4, §9; issue 3)."""

from __future__ import annotations

import pytest
from mcp import Client

from space_factory.domain.phases import Phase, RunStatus
from space_factory.service import Factory
from tests.tools.helpers import call, call_error, write_run

pytestmark = pytest.mark.anyio

FAKE_HF_TOKEN = "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567"


async def test_pages_through_a_log_with_stable_cursors_and_bounded_pages(client: Client, factory: Factory) -> None:
    """Pages are at most max_bytes, end at a line end, and next_cursor walks the whole log once (issue 3)."""
    log = "".join(f"line {i:04d} of the worker log, phase building\n" for i in range(400))
    run_id = write_run(factory, logs={"worker": log})
    pages, cursor = [], 0
    while cursor is not None:
        page = await call(client, "fetch_trace_redacted", {"run_id": run_id, "cursor": cursor, "max_bytes": 1000})
        assert page["cursor"] == cursor and len(page["text"].encode()) <= 1000
        assert page["text"].endswith("\n") and page["total_bytes"] == len(log)
        pages.append(page["text"])
        cursor = page["next_cursor"]
    assert "".join(pages) == log and len(pages) > 10
    again = await call(client, "fetch_trace_redacted", {"run_id": run_id, "cursor": 0, "max_bytes": 1000})
    assert again["text"] == pages[0]  # the same cursor gives the same page


async def test_served_text_is_redacted(client: Client, factory: Factory) -> None:
    """Token patterns and sensitive keys never leave the server (DESIGN §9)."""
    log = (f"cloning with token {FAKE_HF_TOKEN}\nAuthorization: Bearer abcdefghijklmnop1234\n"
           f'{{"api_key": "sk-live-0123456789abcdef0123"}}\nmodel factory-test/tiny-gpt2 and hf_sandbox stay\n')
    run_id = write_run(factory, logs={"space_build": log})
    page = await call(client, "fetch_trace_redacted", {"run_id": run_id, "kind": "space_build"})
    text = page["text"]
    assert FAKE_HF_TOKEN not in text and "abcdefghijklmnop1234" not in text and "sk-live" not in text
    assert "[REDACTED]" in text
    assert "factory-test/tiny-gpt2" in text and "hf_sandbox" in text  # negatives survive
    assert page["available_kinds"] == ["space_build"]


async def test_raw_traces_are_never_served_only_their_redacted_copy(client: Client, factory: Factory) -> None:
    """traces/raw/ is private; agent:NAME serves traces/redacted/NAME.jsonl only (DESIGN §4)."""
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE,
                       logs={"traces/raw/pi.jsonl": f'{{"token": "{FAKE_HF_TOKEN}"}}\n'})
    text = await call_error(client, "fetch_trace_redacted", {"run_id": run_id, "kind": "agent:pi"})
    assert FAKE_HF_TOKEN not in text and "no 'agent:pi' log" in text
    write_run(factory, run_id=run_id, logs={"traces/redacted/pi.jsonl": '{"role": "assistant", "text": "ok"}\n'})
    page = await call(client, "fetch_trace_redacted", {"run_id": run_id, "kind": "agent:pi"})
    assert '"assistant"' in page["text"] and "agent:pi" in page["available_kinds"]


@pytest.mark.parametrize("kind", ["../raw/pi", "agent:../raw/pi", "raw", "agent:", "worker.log"])
async def test_a_kind_outside_the_allow_list_is_refused_by_the_schema(client: Client, factory: Factory,
                                                                      kind: str) -> None:
    run_id = write_run(factory, logs={"worker": "x\n"})
    text = await call_error(client, "fetch_trace_redacted", {"run_id": run_id, "kind": kind})
    assert "kind" in text


async def test_a_log_the_run_does_not_have_yet_is_a_tool_error_listing_what_it_has(client: Client,
                                                                                  factory: Factory) -> None:
    run_id = write_run(factory, logs={"worker": "started\n"})
    text = await call_error(client, "fetch_trace_redacted", {"run_id": run_id, "kind": "space_run"})
    assert "no 'space_run' log yet" in text and "worker" in text


@pytest.mark.parametrize("args", [{"max_bytes": 255}, {"max_bytes": 256 * 1024 + 1}, {"cursor": -1}])
async def test_page_bounds_are_enforced(client: Client, factory: Factory, args: dict[str, int]) -> None:
    run_id = write_run(factory, logs={"worker": "x\n"})
    await call_error(client, "fetch_trace_redacted", {"run_id": run_id, **args})
