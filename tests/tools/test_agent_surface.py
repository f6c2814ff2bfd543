"""The coding agent's surface through the in-memory client, in both eras (issue 9 items 4-5; DESIGN §4, §7, §9):
launch_build's `agent`, get_gate's attempts and agent blockers, attempt numbers in events, and the `agent` trace
kinds paged with a cursor that stays valid while attempts are added. Records are written here as the worker
would leave them (the real Pi runs in the worker's own tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from mcp import Client

from space_factory.domain import layout
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import AgentName, AttemptRecord, Blocker, Gate, GateCheck, RunRequest
from space_factory.record import RunRecord
from space_factory.service import Factory
from tests.tools.helpers import MISSING_MODEL, call, call_error, passed_gate, run_folder, write_run

pytestmark = pytest.mark.anyio

FAKE_HF_TOKEN = "hf_" + "qWeRtYuIoPaSdFgHjKlZxCvBnM98765432"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _agent_run(factory: Factory, agent: AgentName, **kwargs: object) -> tuple[str, RunRecord]:
    """A run record (`write_run`) launched with `agent`, as the service records it."""
    run_id = write_run(factory, **kwargs)  # type: ignore[arg-type]
    record = RunRecord(factory.backend.bucket, run_id)
    request = record.read_model(layout.REQUEST, RunRequest)
    state = record.state()
    assert request is not None and state is not None
    record.write_model(layout.REQUEST, request.model_copy(update={"agent": agent}))
    record.write_state(state.model_copy(update={"agent": agent}))
    return run_id, record


def _attempt(n: int, gate: GateStatus | None, **fields: object) -> AttemptRecord:
    start = T0 + timedelta(minutes=10 * n)
    return AttemptRecord(n=n, mode="write" if n == 1 else "repair", started_at=start,
                         ended_at=start + timedelta(seconds=95), stop_reason="stop", gate_status=gate,
                         files_changed=["app.py"], **fields)  # type: ignore[arg-type]


def _write_attempts(record: RunRecord, attempts: list[AttemptRecord], tail: str = "") -> None:
    lines = "".join(a.model_dump_json() + "\n" for a in attempts)
    record.write_text(layout.AGENT_ATTEMPTS, lines + tail)


def _blocked_gate() -> Gate:
    checks = [GateCheck(name="health", status=CheckStatus.PASSED, detail="ok"),
              GateCheck(name="predict", status=CheckStatus.FAILED, detail="CUDA kernel missing")]
    blockers = [Blocker(kind="flash_attn", title="needs flash-attn 3", detail="the model's attention is FA3 only",
                        evidence="ImportError: flash_attn_3", tried=["SDPA", "xformers", "HF kernels"],
                        source="agent"),
                Blocker(title="no template for the task", source="factory")]
    return Gate(status=GateStatus.TECHNICAL_BLOCKER, summary="the agent declared blockers", checks=checks,
                blockers=blockers)


# -- launch_build(agent) --------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "recorded"), [({}, "auto"), ({"agent": "pi"}, "pi"),
                                                ({"agent": "pi-deploy"}, "pi-deploy"), ({"agent": "none"}, "none")])
async def test_launch_build_records_the_agent_asked_for_default_auto(client: Client, factory: Factory,
                                                                     args: dict[str, str], recorded: str) -> None:
    """`agent` defaults to auto (DESIGN §7) and request.json / state.json record what was asked (DESIGN §4, §5)."""
    out = await call(client, "launch_build", {"model": MISSING_MODEL, **args})
    assert out["state"]["agent"] == recorded
    request = json.loads((run_folder(factory, out["run_id"]) / layout.REQUEST).read_text())
    assert request["agent"] == recorded


async def test_launch_build_refuses_an_unknown_agent_in_the_schema(client: Client, factory: Factory) -> None:
    """Only none|pi|pi-deploy|auto: anything else is refused before a run exists."""
    text = await call_error(client, "launch_build", {"model": MISSING_MODEL, "agent": "claude"})
    assert "agent" in text
    assert factory.list_runs() == []


async def test_validate_space_records_no_agent(client: Client, factory: Factory) -> None:
    """A validation run writes no app, so it records agent none whatever the build default is."""
    out = await call(client, "validate_space", {"space": "http://127.0.0.1:9/"})
    assert out["state"]["agent"] == "none" and out["state"]["mode"] == "validate"


# -- get_gate: attempts and the agent's blockers -----------------------------------------------------


async def test_get_gate_shows_each_attempt_and_the_blockers_the_agent_declared(client: Client,
                                                                               factory: Factory) -> None:
    """The last attempt's gate is the run's; blockers keep source 'agent' with what was tried (DESIGN §6, §11)."""
    run_id, record = _agent_run(factory, "pi", status=RunStatus.FINISHED, phase=Phase.DONE, gate=_blocked_gate())
    _write_attempts(record, [_attempt(1, GateStatus.HEALTH_ONLY),
                             _attempt(2, GateStatus.TECHNICAL_BLOCKER, blockers_declared=True)])
    out = await call(client, "get_gate", {"run_id": run_id})
    assert out["ready"] is True and out["agent"] == "pi" and out["gate_status"] == "technical_blocker"
    assert [(a["n"], a["mode"], a["gate_status"]) for a in out["attempts"]] == [
        (1, "write", "health_only"), (2, "repair", "technical_blocker")]
    assert out["attempts"][-1]["gate_status"] == out["gate_status"] and out["attempts"][1]["blockers_declared"]
    [declared] = [b for b in out["gate"]["blockers"] if b["source"] == "agent"]
    assert declared["tried"] == ["SDPA", "xformers", "HF kernels"] and declared["kind"] == "flash_attn"
    assert "2 attempt(s) were gated, 2 by the coding agent" in out["message"] and "1 blocker(s)" in out["message"]
    assert "fetch_trace_redacted" in out["message"]


async def test_get_gate_shows_attempts_while_the_run_goes_on_and_skips_a_torn_line(client: Client,
                                                                                  factory: Factory) -> None:
    """Attempts are readable before the gate exists; a line the worker is still writing is left for later."""
    run_id, record = _agent_run(factory, "auto", phase=Phase.AGENT)
    _write_attempts(record, [_attempt(1, GateStatus.BUILD_FAILED)], tail='{"n": 2, "mode": "rep')
    out = await call(client, "get_gate", {"run_id": run_id})
    assert out["ready"] is False and out["phase"] == "agent"
    assert [a["n"] for a in out["attempts"]] == [1]


async def test_attempt_errors_are_redacted_when_served(client: Client, factory: Factory) -> None:
    """Pi's words in an attempt (its error, the paths it chose) pass the redactor once more (DESIGN §9)."""
    run_id, record = _agent_run(factory, "pi", status=RunStatus.FINISHED, phase=Phase.DONE, gate=_blocked_gate())
    attempt = _attempt(1, GateStatus.HEALTH_ONLY, error=f"upstream said 401 for key {FAKE_HF_TOKEN}")
    _write_attempts(record, [attempt.model_copy(update={"files_changed": [f"notes-{FAKE_HF_TOKEN}.txt"]})])
    out = await call(client, "get_gate", {"run_id": run_id})
    assert FAKE_HF_TOKEN not in json.dumps(out) and "upstream said 401" in out["attempts"][0]["error"]


async def test_a_run_without_the_agent_has_no_attempts(client: Client, factory: Factory) -> None:
    """agent none: nothing to show, and the gate's message is its summary."""
    run_id, _ = _agent_run(factory, "none", status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate())
    out = await call(client, "get_gate", {"run_id": run_id})
    assert out["attempts"] == [] and out["agent"] == "none"
    assert out["message"] == passed_gate().summary


async def test_an_auto_run_whose_template_passed_lists_its_one_round_and_says_nothing_of_the_agent(
        client: Client, factory: Factory) -> None:
    """auto with a template that passed its first gate: one `template` round; the agent never ran."""
    run_id, record = _agent_run(factory, "auto", status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate())
    _write_attempts(record, [_attempt(1, GateStatus.FULL_INFERENCE_PASSED).model_copy(update={"mode": "template"})])
    out = await call(client, "get_gate", {"run_id": run_id})
    assert [(a["n"], a["mode"]) for a in out["attempts"]] == [(1, "template")]
    assert out["message"] == passed_gate().summary


async def test_an_attempt_number_in_an_event_reaches_get_run_status(client: Client, factory: Factory) -> None:
    """Progress events say which attempt runs (issue 9): their data survives to the status view."""
    run_id, record = _agent_run(factory, "auto", phase=Phase.AGENT)
    record.append_event(Phase.AGENT, "coding agent: attempt 2 of 3 (repair)", data={"attempt": 2, "of": 3})
    out = await call(client, "get_run_status", {"run_id": run_id, "since_seq": 0})
    last = out["events"][-1]
    assert last["data"] == {"attempt": 2, "of": 3} and "attempt 2 of 3" in last["message"]


# -- traces: agent, agent:attempt-N ---------------------------------------------------------------------


def _trace(n: int, lines: int) -> str:
    return "".join(json.dumps({"type": "message", "attempt": n, "i": i, "text": f"step {i} of attempt {n}"}) + "\n"
                   for i in range(lines))


async def _pages(client: Client, run_id: str, kind: str, cursor: int = 0, max_bytes: int = 600,
                 until: int | None = None) -> tuple[list[dict[str, object]], int | None]:
    """Pages of `kind` from `cursor` until the end (or `until` pages); the pages and the cursor to go on with."""
    pages: list[dict[str, object]] = []
    next_cursor: int | None = cursor
    while next_cursor is not None and (until is None or len(pages) < until):
        page = await call(client, "fetch_trace_redacted",
                          {"run_id": run_id, "kind": kind, "cursor": next_cursor, "max_bytes": max_bytes})
        assert page["cursor"] == next_cursor
        pages.append(page)
        next_cursor = page["next_cursor"]
    return pages, next_cursor


async def test_kind_agent_pages_every_attempt_in_order_with_a_cursor_stable_as_attempts_are_added(
        client: Client, factory: Factory) -> None:
    """`agent` is the attempts' redacted traces one after the other (attempt-10 after attempt-2); a cursor taken
    before a new attempt's trace lands still continues where it was, and a page never spans two attempts."""
    traces = {n: _trace(n, 12) for n in (1, 2, 10)}
    logs = {f"traces/redacted/attempt-{n}.jsonl": text for n, text in traces.items()}
    run_id, record = _agent_run(factory, "pi", phase=Phase.AGENT, logs=logs)
    first, cursor = await _pages(client, run_id, "agent", until=3)
    assert cursor is not None and first[0]["available_kinds"] == [
        "agent", "agent:attempt-1", "agent:attempt-2", "agent:attempt-10"]
    record.write_text("traces/redacted/attempt-11.jsonl", _trace(11, 12))  # the next attempt ends meanwhile
    rest, end = await _pages(client, run_id, "agent", cursor)
    pages = first + rest
    assert end is None
    whole = "".join(traces[n] for n in (1, 2, 10)) + _trace(11, 12)
    assert "".join(str(p["text"]) for p in pages) == whole and pages[-1]["total_bytes"] == len(whole.encode())
    for page in pages:
        text = str(page["text"])
        assert text.endswith("\n") and len({json.loads(line)["attempt"] for line in text.splitlines()}) == 1
    again, _ = await _pages(client, run_id, "agent", until=1)
    assert again[0]["text"] == first[0]["text"]


async def test_kind_agent_attempt_n_is_one_attempt_and_a_cursor_mid_line_starts_at_its_line(
        client: Client, factory: Factory) -> None:
    """`agent:attempt-N` pages that attempt alone; any cursor is moved back to the start of its line."""
    logs = {f"traces/redacted/attempt-{n}.jsonl": _trace(n, 8) for n in (1, 2)}
    run_id, _ = _agent_run(factory, "auto", status=RunStatus.FINISHED, phase=Phase.DONE, logs=logs)
    pages, _ = await _pages(client, run_id, "agent:attempt-2")
    assert "".join(str(p["text"]) for p in pages) == _trace(2, 8)
    mid = len(_trace(1, 8)) + 5  # inside attempt 2's first line, in the `agent` kind's bytes
    page = await call(client, "fetch_trace_redacted", {"run_id": run_id, "kind": "agent", "cursor": mid})
    assert page["cursor"] == len(_trace(1, 8)) and str(page["text"]).startswith('{"type": "message", "attempt": 2')


async def test_agent_traces_are_redacted_and_the_raw_ones_never_served(client: Client, factory: Factory) -> None:
    """Only traces/redacted/ is served, redacted again; `agent` is absent until an attempt has a trace (§4, §9)."""
    raw = f'{{"type": "tool_result", "text": "HF_TOKEN={FAKE_HF_TOKEN}"}}\n'
    run_id, record = _agent_run(factory, "pi", phase=Phase.AGENT, logs={"traces/raw/attempt-1.jsonl": raw})
    text = await call_error(client, "fetch_trace_redacted", {"run_id": run_id, "kind": "agent"})
    assert "no 'agent' log" in text and FAKE_HF_TOKEN not in text
    leaked = f'{{"type": "tool_result", "text": "export HF_TOKEN={FAKE_HF_TOKEN}"}}\n{{"type": "done"}}\n'
    record.write_text("traces/redacted/attempt-1.jsonl", leaked)  # a redactor miss upstream: served redacted
    for kind in ("agent", "agent:attempt-1"):
        page = await call(client, "fetch_trace_redacted", {"run_id": run_id, "kind": kind})
        assert FAKE_HF_TOKEN not in json.dumps(page) and '"done"' in str(page["text"])


@pytest.mark.parametrize("kind", ["agent:../raw/attempt-1", "agent:", "agents", "agent:attempt-1/../../x"])
async def test_agent_kinds_outside_the_pattern_are_refused(client: Client, factory: Factory, kind: str) -> None:
    run_id, _ = _agent_run(factory, "pi", logs={"traces/raw/attempt-1.jsonl": f'"{FAKE_HF_TOKEN}"\n'})
    text = await call_error(client, "fetch_trace_redacted", {"run_id": run_id, "kind": kind})
    assert FAKE_HF_TOKEN not in text


# -- the build_space prompt --------------------------------------------------------------------------


async def test_the_build_space_prompt_says_when_to_pass_agent(client: Client) -> None:
    got = await client.get_prompt("build_space", {"model": "factory-test/tiny-gpt2"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    for word in ("agent", "'auto'", "'pi'", "'pi-deploy'", "'none'", "custom code", "attempts", "'agent'"):
        assert word in text
