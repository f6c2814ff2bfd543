"""The Factory service over the local backend: launch, status, gate, cancel, runs, hardware and traces
(DESIGN §4-§9; docs/architecture.md). Runs use a model missing from the offline cache, so their real job
fails fast on its own; records that need a Space are written through RunRecord."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest

from space_factory.backends.local import local_backend
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.errors import (
    FactoryError,
    InvalidInput,
    InvalidModelId,
    InvalidRunId,
    InvalidTarget,
    RunNotFinished,
    RunNotFound,
)
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.ids import mint_run_id
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.redaction import REDACTED
from space_factory.domain.schemas import BuildOptions, HardwareRequestRecord, RunRequest, RunState, SpaceRef
from space_factory.domain.views import TracePage
from space_factory.record import RunRecord
from space_factory.service import Factory
from tests.support.runs import wait_terminal
from tests.support.tokens import fake_token

MISSING = "nobody/not-in-the-cache"


@pytest.fixture
def settings(factory: Factory) -> Settings:
    """The settings of the `factory` fixture (conftest), for second factories over the same home."""
    return factory.settings


def handmade_run(factory: Factory, *, owner: str | None = None, **state: object) -> RunRecord:
    """A run record written the way launch writes one, without a job (so nothing reconciles it)."""
    run_id = mint_run_id("owner/handmade")
    record = RunRecord(factory.backend.bucket, run_id)
    owner = owner or factory.backend.owner
    record.write_model(layout.REQUEST, RunRequest(run_id=run_id, model="owner/handmade", owner=owner))
    record.write_state(RunState(run_id=run_id, model="owner/handmade", owner=owner).model_copy(update=state))
    return record


# -- launch and validate: what comes in is checked -------------------------------------------------


@pytest.mark.parametrize(("model", "rule_part"), [("../x", "letters"), ("https://evil.example/a/b", "huggingface.co"),
                                                  ("", "empty"), ("a/b/c", "one '/'"), ("owner/a--b", "'--'")])
def test_launch_refuses_a_bad_model_id_and_records_nothing(factory: Factory, model: str, rule_part: str) -> None:
    """Ids are validated (DESIGN §9); InvalidModelId names the rule (STYLE R6)."""
    with pytest.raises(InvalidModelId) as caught:
        factory.launch(model)
    assert rule_part in caught.value.rule
    assert factory.list_runs() == []


@pytest.mark.parametrize("target", ["http://user:pw@127.0.0.1:9/", "https://token@example.org/", "ftp://host/app",
                                    "", "   ", "not an id", "http://", "file:///etc/passwd", "x" * 501,
                                    "javascript:alert(1)"])
def test_validate_refuses_credentials_other_schemes_and_empty_targets(factory: Factory, target: str) -> None:
    """validate_space takes an http(s) URL without credentials, or a Space id (DESIGN §7, §9)."""
    with pytest.raises(InvalidTarget) as caught:
        factory.validate(target)
    assert caught.value.rule
    assert factory.list_runs() == []


def test_validate_refuses_a_space_that_is_not_running(factory: Factory) -> None:
    """A Space id is resolved to its app URL; a Space that is not running has none (DESIGN §7 validate_space)."""
    with pytest.raises(InvalidTarget) as caught:
        factory.validate("tester/not-a-space")
    assert caught.value.target == "tester/not-a-space"
    assert "NOT_FOUND" in caught.value.rule


# -- a run from launch to its end ------------------------------------------------------------------


def test_a_launched_run_is_queued_at_once_then_fails_for_a_model_missing_from_the_cache(factory: Factory) -> None:
    """launch returns the queued state at once; a run that breaks before a gate is `failed` with why (DESIGN §5)."""
    started = factory.launch(MISSING)
    assert started.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FAILED)
    assert started.owner == "tester" and started.model == MISSING and started.job.id == f"local-{started.run_id}"
    state = wait_terminal(factory, started.run_id)
    assert state.status is RunStatus.FAILED and state.gate_status is None
    assert MISSING in (state.error or "")
    view = factory.run_status(started.run_id)
    assert view.terminal and view.next_poll_seconds is None
    assert [e.seq for e in view.events] == list(range(1, len(view.events) + 1))
    assert view.last_seq == view.events[-1].seq
    later = factory.run_status(started.run_id, since_seq=view.last_seq - 1)
    assert [e.seq for e in later.events] == [view.last_seq]
    with pytest.raises(FactoryError) as caught:
        factory.gate(started.run_id)
    assert not isinstance(caught.value, RunNotFinished)  # it failed: there will never be a gate


def test_the_gate_of_an_unfinished_run_is_not_finished_yet(factory: Factory) -> None:
    """get_gate of a running run says so with its phase (DESIGN §7; STYLE R6 fields)."""
    record = handmade_run(factory, status=RunStatus.RUNNING, phase=Phase.BUILDING)
    with pytest.raises(RunNotFinished) as caught:
        factory.gate(record.run_id)
    assert (caught.value.run_id, caught.value.phase) == (record.run_id, "building")
    with pytest.raises(RunNotFinished):
        factory.report(record.run_id)
    view = factory.run_status(record.run_id)
    assert not view.terminal and view.next_poll_seconds == 3.0


def test_canceling_a_run_ends_it_canceled_with_a_canceled_gate(factory: Factory) -> None:
    """cancel_run: the run ends `canceled` and its gate says so (DESIGN §5, §6)."""
    started = factory.launch(MISSING)
    state = factory.cancel(started.run_id)
    assert state.status is RunStatus.CANCELED and state.gate_status is GateStatus.CANCELED
    assert state.job.stage == "CANCELED"
    assert factory.gate(started.run_id).status is GateStatus.CANCELED
    assert wait_terminal(factory, started.run_id).status is RunStatus.CANCELED
    job = factory.backend.jobs.status(state.job.id or "")
    assert job.stage == "CANCELED"
    assert factory.cancel(started.run_id).status is RunStatus.CANCELED  # a second cancel changes nothing


def test_canceling_a_failed_run_leaves_it_failed(factory: Factory) -> None:
    """A terminal run is left as it is (Factory.cancel; terminal statuses are sticky)."""
    run_id = factory.launch(MISSING).run_id
    wait_terminal(factory, run_id)
    assert factory.cancel(run_id).status is RunStatus.FAILED


# -- owners, idempotency, listing --------------------------------------------------------------------


def test_another_owners_run_answers_not_found(factory: Factory, settings: Settings) -> None:
    """A caller sees only their own runs; another owner's run answers "not found" (DESIGN §9)."""
    record = handmade_run(factory, status=RunStatus.RUNNING)
    same_bucket = Factory(settings, dataclasses.replace(factory.backend, owner="other"))
    own_bucket = Factory(settings, local_backend(settings, owner="other"))
    for other in (same_bucket, own_bucket):
        for call in (other.state, other.run_status, other.gate, other.cancel, other.report, other.trace_kinds):
            with pytest.raises(RunNotFound) as caught:
                call(record.run_id)
            assert caught.value.run_id == record.run_id
        assert other.list_runs() == []
    assert factory.state(record.run_id).status is RunStatus.RUNNING  # the cancel attempts changed nothing


@pytest.mark.parametrize("run_id", ["../x", "A" * 100, "abc", "20261128-171233-x-abcdef\n"])
def test_malformed_run_ids_are_invalid_not_missing(factory: Factory, run_id: str) -> None:
    """Run ids are validated everywhere they come in (DESIGN §4)."""
    with pytest.raises(InvalidRunId) as caught:
        factory.state(run_id)
    assert caught.value.run_id == run_id


def test_an_idempotency_key_returns_the_same_run_for_its_owner_only(factory: Factory, settings: Settings) -> None:
    """The same key returns the same run instead of a second build; keys are per owner (docs/architecture.md)."""
    options = BuildOptions(idempotency_key="build-42")
    first = factory.launch(MISSING, options=options)
    again = factory.launch(MISSING, options=options)
    assert again.run_id == first.run_id
    other = Factory(settings, local_backend(settings, owner="other"))
    theirs = other.launch(MISSING, options=options)
    try:
        assert theirs.run_id != first.run_id and theirs.owner == "other"
        assert [s.run_id for s in factory.list_runs()] == [first.run_id]
        assert factory.launch(MISSING, options=BuildOptions(idempotency_key="build-43")).run_id != first.run_id
    finally:
        wait_terminal(other, theirs.run_id)
    for state in factory.list_runs():
        wait_terminal(factory, state.run_id)


def test_list_runs_is_newest_first_even_within_one_second(factory: Factory) -> None:
    """list_runs: the caller's runs, newest first (DESIGN §7), whatever the run ids' random suffixes."""
    launched = [factory.launch(MISSING).run_id for _ in range(4)]
    try:
        assert [s.run_id for s in factory.list_runs()] == launched[::-1]
        assert [s.run_id for s in factory.list_runs(limit=2)] == launched[::-1][:2]
        assert factory.list_runs(limit=0) == []
    finally:
        for run_id in launched:
            wait_terminal(factory, run_id)


# -- hardware --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flavor", "outcome"), [("t4-small", HardwareOutcome.NOT_AVAILABLE),
                                                 ("a100-large", HardwareOutcome.NOT_AVAILABLE),
                                                 ("cpu-basic", HardwareOutcome.ALREADY_SET),
                                                 ("no-such-gpu", HardwareOutcome.NOT_AVAILABLE)])
def test_request_hardware_on_the_local_backend_is_answered_and_recorded(factory: Factory, flavor: str,
                                                                        outcome: HardwareOutcome) -> None:
    """Paid flavors are "not available locally" (DESIGN §2); every request is in hardware_requests.jsonl (§4)."""
    record = handmade_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE,
                          space=SpaceRef(id="tester/app", url="http://127.0.0.1:9/"))
    view = factory.request_hardware(record.run_id, flavor)
    assert (view.run_id, view.space_id, view.flavor, view.outcome) == (record.run_id, "tester/app", flavor, outcome)
    lines = (record.read_text(layout.HARDWARE_REQUESTS) or "").splitlines()
    [entry] = [HardwareRequestRecord.model_validate_json(line) for line in lines]
    assert (entry.flavor, entry.outcome, entry.source) == (flavor, outcome, "tool")
    assert entry.hourly_cost_usd == view.hourly_cost_usd
    assert record.events()[-1].data == {"outcome": outcome.value}


def test_request_hardware_before_the_run_has_a_space_is_refused(factory: Factory) -> None:
    """There is no Space to change yet (Factory.request_hardware)."""
    record = handmade_run(factory, status=RunStatus.RUNNING, phase=Phase.ANALYZING)
    with pytest.raises(FactoryError):
        factory.request_hardware(record.run_id, "t4-small")
    assert record.read_text(layout.HARDWARE_REQUESTS) is None


# -- traces ----------------------------------------------------------------------------------------


def _log_with_token(token: str, lines: int = 400) -> str:
    rows = [f"2026-11-28 17:12:{i % 60:02d} INFO space_factory.worker: step {i} of the pipeline\n"
            for i in range(lines)]
    rows[123] = f"2026-11-28 17:12:03 INFO space_factory.worker: using token {token} for the Hub\n"
    return "".join(rows)


def _all_pages(factory: Factory, run_id: str, kind: str, max_bytes: int) -> list[TracePage]:
    pages: list[TracePage] = []
    cursor = 0
    for _ in range(10_000):
        page = factory.trace(run_id, kind, cursor, max_bytes)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    pytest.fail("paging never ended")


def test_trace_pages_end_at_line_ends_chain_their_cursors_and_are_redacted(factory: Factory) -> None:
    """fetch_trace_redacted: pages cut at line ends, next_cursor chains them, text redacted (DESIGN §7, §9)."""
    token = fake_token()
    record = handmade_run(factory, status=RunStatus.FAILED)
    text = _log_with_token(token)
    record.write_text(layout.WORKER_LOG, text)
    pages = _all_pages(factory, record.run_id, "worker", 1000)
    assert len(pages) > 10
    assert pages[0].cursor == 0
    for before, after in itertools.pairwise(pages):
        assert after.cursor == before.next_cursor
        assert 0 < after.cursor - before.cursor <= 1000
    for page in pages:
        assert page.text.endswith("\n") and not page.withheld
        assert page.total_bytes == len(text.encode()) and page.available_kinds == ["worker"]
        assert token not in page.text and token[3:] not in page.text
    joined = "".join(page.text for page in pages)
    assert joined == text.replace(token, REDACTED)


def test_a_secret_on_a_line_longer_than_the_page_is_never_split_across_pages(factory: Factory) -> None:
    """Small pages over a long line must not hand out a token in pieces that each escape redaction (DESIGN §9)."""
    token = fake_token()
    record = handmade_run(factory, status=RunStatus.FAILED)
    line = '{"event": "x", "pad": "' + "p" * 1000 + '", "note": "token ' + token + ' here", "pad2": "' + \
        "q" * 1000 + '"}\n'
    record.write_text(layout.WORKER_LOG, "first line\n" + line + "last line\n")
    body = token[3:]
    pieces = {body[i:i + 10] for i in range(len(body) - 9)}
    for max_bytes in (256, 300, 1000):
        for page in _all_pages(factory, record.run_id, "worker", max_bytes):
            assert not any(piece in page.text for piece in pieces), (max_bytes, page.cursor)
    raw = (record.read_bytes(layout.WORKER_LOG) or b"")
    start = raw.index(token.encode())
    for cursor in range(start - 2, start + 12):  # an agent may pass any cursor
        page = factory.trace(record.run_id, "worker", cursor, 256)
        assert not any(piece in page.text for piece in pieces), cursor


def test_an_unknown_trace_kind_is_refused_with_the_kinds_the_run_has(factory: Factory) -> None:
    """An agent that asks for a kind the run lacks is told which kinds exist (STYLE R6: say what to do)."""
    record = handmade_run(factory, status=RunStatus.FAILED)
    record.write_text(layout.WORKER_LOG, "hello\n")
    record.write_text(layout.SPACE_RUN_LOG, "app\n")
    assert factory.trace_kinds(record.run_id) == ["worker", "space_run"]
    for kind in ("nonsense", "space_build", "raw", "agent:pi"):
        with pytest.raises(InvalidInput) as caught:
            factory.trace(record.run_id, kind)
        assert "worker" in str(caught.value) and "space_run" in str(caught.value)


def test_raw_agent_traces_are_never_served_only_their_redacted_copy(factory: Factory) -> None:
    """traces/raw stays private; fetch_trace_redacted serves traces/redacted only (DESIGN §4, §9)."""
    token = fake_token()
    record = handmade_run(factory, status=RunStatus.FINISHED)
    raw = json.dumps({"role": "tool", "content": f"HF_TOKEN={token}"}) + "\n"
    record.write_text(f"{layout.RAW_TRACES}/pi.jsonl", raw)
    assert factory.trace_kinds(record.run_id) == []
    for kind in ("agent:pi", "agent:../raw/pi", "agent:../../traces/raw/pi", "agent:/etc/passwd", "traces/raw"):
        with pytest.raises(InvalidInput):
            factory.trace(record.run_id, kind)
    record.write_text(f"{layout.REDACTED_TRACES}/pi.jsonl", raw)  # a copy the redactor did not clean yet
    assert factory.trace_kinds(record.run_id) == ["agent:pi"]
    page = factory.trace(record.run_id, "agent:pi")
    assert token not in page.text and token[3:] not in page.text
