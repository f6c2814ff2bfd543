"""The Factory service: what the MCP tools and the CLI share (launch, status, gate, hardware, traces).

It talks to one `Backend` bound to one owner; a run of another owner answers "not found". Methods are
synchronous (backends do blocking file, process and HTTP work); async callers run them in a worker
thread with `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from urllib.parse import urlsplit

from space_factory.backends.base import Backend, JobStatus
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.analysis import analyze_card
from space_factory.domain.errors import (
    FactoryError,
    InvalidInput,
    InvalidTarget,
    RateLimited,
    RunNotFinished,
    RunNotFound,
)
from space_factory.domain.gate import GateEvidence, build_gate
from space_factory.domain.gate_status import GateStatus, HardwareOutcome
from space_factory.domain.hardware import flavor_spec
from space_factory.domain.ids import mint_run_id, parse_model_id, validate_run_id, validate_space_id
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import (
    AgentName,
    BuildOptions,
    Gate,
    HardwareRequestRecord,
    JobRef,
    Mode,
    RunRequest,
    RunState,
)
from space_factory.domain.views import AnalysisView, HardwareRequestView, RunStatusView, TracePage
from space_factory.record import RunRecord

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_POLL = 500
MAX_TRACE_PAGE = 256 * 1024
STALE_POLL_SECONDS = 30.0
_POLL_SECONDS: dict[Phase, float] = {Phase.QUEUED: 1.0, Phase.STARTING: 1.0, Phase.BUILDING: 3.0,
                                     Phase.VALIDATING_API: 2.0}


def _line_start(record: RunRecord, key: str, cursor: int) -> int:
    """The start of the line holding byte `cursor`: a page never starts inside a line, wherever the caller points.

    A cursor deeper than MAX_TRACE_PAGE into one line is left alone: only paging through that line gives one.
    """
    start = max(0, cursor - MAX_TRACE_PAGE)
    before = record.bucket.read_range(key, start, cursor - start)
    if b"\n" in before:
        return start + before.rindex(b"\n") + 1
    return 0 if cursor < MAX_TRACE_PAGE else cursor


class CostNotConfirmed(FactoryError):
    def __init__(self, flavor: str, hourly_usd: float | None) -> None:
        cost = f"${hourly_usd:.2f}/hour" if hourly_usd is not None else "a paid hourly rate"
        super().__init__(f"{flavor!r} costs {cost} while the Space runs. Ask the user, then call again with "
                         "confirm_cost=true.")
        self.flavor = flavor
        self.hourly_usd = hourly_usd


def validate_target(target: str) -> str:
    """A validation target: an http(s) app URL without credentials, or a Space id."""
    value = (target or "").strip()
    if not value or len(value) > 500:
        raise InvalidTarget(value, "it is empty or longer than 500 characters")
    if "://" not in value:
        try:
            return validate_space_id(value)
        except InvalidInput:
            raise InvalidTarget(value, "it is neither a URL nor an 'owner/name' Space id") from None
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise InvalidTarget(value, "only http(s) URLs with a host can be validated")
    if url.username or url.password:
        raise InvalidTarget(value, "credentials in the URL are refused (they would be stored); use a token instead")
    return value


class Factory:
    """The service over one backend and one owner.

    Example:
        >>> from space_factory.backends.local import local_backend
        >>> factory = Factory(Settings(), local_backend(Settings()))  # doctest: +SKIP
        >>> factory.launch("factory-test/tiny-gpt2").run_id  # doctest: +SKIP
        '20261128-171233-tiny-gpt2-4f9a1c'
    """

    def __init__(self, settings: Settings, backend: Backend) -> None:
        self.settings = settings
        self.backend = backend
        self.redactor = Redactor()
        self._last_states: dict[str, RunState] = {}  # for `stale` answers when the Hub rate-limits a read

    # -- records ---------------------------------------------------------------------------------

    def _record(self, run_id: str) -> RunRecord:
        record = RunRecord(self.backend.bucket, validate_run_id(run_id))
        request = record.read_model(layout.REQUEST, RunRequest)
        if request is None or request.owner != self.backend.owner:
            # Another owner's run is indistinguishable from a missing one (DESIGN §9).
            raise RunNotFound(run_id)
        return record

    def _idempotency_key(self, key: str) -> str:
        digest = hashlib.sha256(f"{self.backend.owner}\0{key}".encode()).hexdigest()[:32]
        return f"idempotency/{digest}.json"

    # -- launch ----------------------------------------------------------------------------------

    def launch(self, model: str, *, options: BuildOptions | None = None, agent: AgentName = "none",
               mode: Mode = "build") -> RunState:
        """Start a run and return its queued state at once; the job does the work.

        Raises:
            InvalidModelId: `model` is not a model id or Hub URL.
        """
        options = options or BuildOptions()
        model = parse_model_id(model) if mode == "build" else model
        if options.idempotency_key:
            existing = self.backend.bucket.read(self._idempotency_key(options.idempotency_key))
            if existing:
                return self.state(json.loads(existing)["run_id"])
        run_id = mint_run_id(model)
        record = RunRecord(self.backend.bucket, run_id)
        request = RunRequest(run_id=run_id, model=model, mode=mode, agent=agent, backend=self.backend.name,
                             owner=self.backend.owner, options=options)
        record.write_model(layout.REQUEST, request)
        state = RunState(run_id=run_id, model=model, mode=mode, agent=agent, backend=request.backend,
                         owner=self.backend.owner)
        record.write_state(state)
        record.append_event(Phase.QUEUED, f"{mode} of {model} queued on the {self.backend.name} backend")
        if options.idempotency_key:
            self.backend.bucket.write(self._idempotency_key(options.idempotency_key),
                                      json.dumps({"run_id": run_id}).encode())
        try:
            job = self.backend.jobs.launch(run_id)
        except (OSError, FactoryError) as exc:
            message = self.redactor.redact_text(f"could not start the job: {exc}")
            record.append_event(Phase.QUEUED, message, level="error")
            return record.update_state(status=RunStatus.FAILED, error=message)
        request.job_id = job.id
        record.write_model(layout.REQUEST, request)
        record.append_event(Phase.QUEUED, f"job {job.id} started", data={"job_id": job.id})
        return record.update_state(job=JobRef(id=job.id, stage=job.stage, url=job.url).model_dump())

    def validate(self, target: str, *, task: str | None = None, idempotency_key: str | None = None) -> RunState:
        """Start a validation-only run against a running app URL or Space id."""
        target = validate_target(target)
        if "://" not in target:
            runtime = self.backend.spaces.runtime(target)
            if not runtime.url:
                raise InvalidTarget(target, f"the Space is {runtime.stage}, not running, so it has no URL to check")
            target_url = runtime.url
        else:
            target_url = target
        options = BuildOptions(task=task, target=target_url, idempotency_key=idempotency_key)
        return self.launch(target, options=options, mode="validate")

    # -- reading ---------------------------------------------------------------------------------

    def state(self, run_id: str) -> RunState:
        """The run's state, reconciled with its job: a job that ended without a terminal state is `failed`."""
        record = self._record(run_id)
        state = record.state()
        if state is None:
            raise RunNotFound(run_id)
        if state.status in TERMINAL_STATUSES or not state.job.id:
            return state
        try:
            job = self.backend.jobs.status(state.job.id)
        except (OSError, FactoryError):
            return state
        if job.terminal:
            return self._reconcile(record, state, job)
        if job.stage != state.job.stage:
            # Shown, not stored: a reader's read-modify-write could undo a concurrent worker write where the
            # bucket has no lock (hf); only a reconcile, which must persist, writes.
            return state.model_copy(update={"job": state.job.model_copy(update={"stage": job.stage})})
        return state

    def _reconcile(self, record: RunRecord, state: RunState, job: JobStatus) -> RunState:
        fresh = record.state()  # the worker may have finished between our two reads
        if fresh is not None and fresh.status in TERMINAL_STATUSES:
            return fresh
        if job.stage == "CANCELED":
            return self._write_canceled(record, "the job was canceled")
        reason = job.message or f"the job ended ({job.stage}) without finishing the run"
        message = self.redactor.redact_text(f"job {job.id} ended without a final state: {reason}")
        try:
            # The job process may be gone while its worker still runs: end the whole job so nothing lingers.
            self.backend.jobs.cancel(job.id)
        except (OSError, FactoryError):
            logger.warning("could not end job %s after it failed", job.id)
        record.append_event(state.phase, message, level="error", data={"job_stage": job.stage})
        return record.update_state(status=RunStatus.FAILED, error=message, job={"stage": job.stage})

    def run_status(self, run_id: str, since_seq: int = 0) -> RunStatusView:
        """The state, the events after `since_seq`, and when to poll again.

        A rate-limited read (429 after the client's backoff) answers the last state this service read,
        with `stale=True` and no events, rather than an error; a run never read before still raises.
        """
        try:
            state = self.state(run_id)
            record = self._record(run_id)
            events = record.events(since_seq, limit=MAX_EVENTS_PER_POLL)
        except RateLimited:
            last = self._last_states.get(run_id)
            if last is None:
                raise
            return RunStatusView(run_id=run_id, state=last, events=[], last_seq=since_seq,
                                 terminal=last.status in TERMINAL_STATUSES, stale=True,
                                 next_poll_seconds=None if last.status in TERMINAL_STATUSES else STALE_POLL_SECONDS)
        self._last_states[run_id] = state
        terminal = state.status in TERMINAL_STATUSES
        return RunStatusView(
            run_id=run_id, state=state, events=events,
            last_seq=events[-1].seq if events else since_seq, terminal=terminal,
            next_poll_seconds=None if terminal else _POLL_SECONDS.get(state.phase, 2.0))

    def gate(self, run_id: str) -> Gate:
        """The run's gate.

        Raises:
            RunNotFinished: the run has no gate yet (it is still going, or it failed before one).
        """
        state = self.state(run_id)
        gate = self._record(run_id).read_model(layout.GATE, Gate)
        if gate is None:
            if state.status is RunStatus.FAILED:
                raise FactoryError(f"run {run_id!r} failed before a gate could be written: {state.error}")
            raise RunNotFinished(run_id, state.phase.value)
        return gate

    def list_runs(self, *, limit: int = 50) -> list[RunState]:
        """The owner's runs, newest first."""
        out: list[RunState] = []
        for run_id in sorted(self.backend.bucket.list(layout.RUNS_PREFIX), reverse=True):
            # Ids sort by their UTC second only (the random suffix decides within one): read on past the
            # limit through that second, then order by creation time.
            if len(out) >= limit and (not out or run_id[:15] != out[-1].run_id[:15]):
                break
            try:
                out.append(self.state(run_id))
            except (RunNotFound, InvalidInput):
                continue
        out.sort(key=lambda state: state.created_at, reverse=True)
        return out[:limit]

    def report(self, run_id: str) -> str:
        text = self._record(run_id).read_text(layout.REPORT)
        if text is None:
            raise RunNotFinished(run_id, self.state(run_id).phase.value)
        return text

    # -- cancel ----------------------------------------------------------------------------------

    def _write_canceled(self, record: RunRecord, why: str) -> RunState:
        state = record.update_state(status=RunStatus.CANCELED, gate_status="canceled", error=None)
        if record.read_bytes(layout.GATE) is None:
            gate = build_gate(GateEvidence(canceled=True, space_id=state.space.id, space_url=state.space.url))
            record.write_model(layout.GATE, gate)
        record.append_event(state.phase, f"run canceled: {why}", level="warning")
        return state

    def cancel(self, run_id: str) -> RunState:
        """Stop a run's job and the Space it was building; the run ends `canceled`. A finished run is left as is."""
        record = self._record(run_id)
        state = self.state(run_id)
        if state.status in TERMINAL_STATUSES:
            return state
        # Canceled first, so a worker that looks at its state stops writing; then stop the job and the Space.
        state = self._write_canceled(record, "canceled by request")
        if state.job.id:
            self.backend.jobs.cancel(state.job.id)
        space_id = state.space.id
        if space_id and state.phase not in (Phase.VALIDATING_HEALTH, Phase.VALIDATING_API, Phase.GATING,
                                            Phase.REPORTING, Phase.DONE):
            self.backend.spaces.stop(space_id)  # a Space cut off mid-build would be left half made
        # A bucket without locks (hf) lets a worker that was still running overwrite the state between our
        # writes: with the job stopped, settle it once more — unless the worker had already written its gate.
        gate = record.read_model(layout.GATE, Gate)
        if gate is not None and gate.status is not GateStatus.CANCELED:
            return record.update_state(force=True, job={"stage": "CANCELED"})
        if gate is None:
            record.write_model(layout.GATE, build_gate(GateEvidence(canceled=True, space_id=state.space.id,
                                                                    space_url=state.space.url)))
        return record.update_state(force=True, status=RunStatus.CANCELED, gate_status=GateStatus.CANCELED,
                                   error=None, job={"stage": "CANCELED"})

    # -- analysis, hardware, traces ----------------------------------------------------------------

    def analyze(self, model: str, *, task: str | None = None, allow_paid_fallback: bool = False) -> AnalysisView:
        model = parse_model_id(model)
        facts = self.backend.models.model_facts(model)
        analysis = analyze_card(facts, task_override=task)
        recommendation = recommend_runtime(analysis, allow_paid_fallback=allow_paid_fallback,
                                           zerogpu_allowed=self.backend.zerogpu_allowed, backend=self.backend.name)
        return AnalysisView(analysis=analysis, recommendation=recommendation)

    def request_hardware(self, run_id: str, flavor: str, *, confirm_cost: bool = False) -> HardwareRequestView:
        """Ask for `flavor` on the run's Space; the outcome is recorded in `hardware_requests.jsonl`.

        Raises:
            CostNotConfirmed: a paid flavor, available on this backend, without `confirm_cost`.
        """
        record = self._record(run_id)
        state = self.state(run_id)
        if not state.space.id:
            raise FactoryError(f"run {run_id!r} has no Space yet (phase {state.phase.value}); wait until it is created")
        spec = flavor_spec(flavor)
        hourly = spec.hourly_usd if spec else None
        if spec is None:
            outcome, detail = HardwareOutcome.NOT_AVAILABLE.value, f"unknown hardware flavor {flavor[:50]!r}"
        else:
            if spec.paid and not confirm_cost and self.backend.name != "local":
                raise CostNotConfirmed(flavor, hourly)
            outcome, detail = self.backend.spaces.request_hardware(state.space.id, flavor)
        entry = HardwareRequestRecord(flavor=flavor[:50], outcome=HardwareOutcome(outcome), detail=detail,
                                      hourly_cost_usd=hourly, source="tool")
        record.append_jsonl(layout.HARDWARE_REQUESTS, entry)
        record.append_event(state.phase, f"hardware request {flavor[:50]}: {outcome}",
                            data={"outcome": outcome})
        return HardwareRequestView(run_id=run_id, space_id=state.space.id, flavor=flavor[:50],
                                   outcome=HardwareOutcome(outcome), detail=detail, hourly_cost_usd=hourly)

    def trace_kinds(self, run_id: str) -> list[str]:
        record = self._record(run_id)
        kinds = [k for k, rel in layout.TRACE_KINDS.items() if record.bucket.size(record.key(rel)) is not None]
        agent = record.bucket.list(record.key(layout.REDACTED_TRACES))
        return kinds + [f"agent:{name.removesuffix('.jsonl')}" for name in agent if name.endswith(".jsonl")]

    def trace(self, run_id: str, kind: str = "worker", cursor: int = 0, max_bytes: int = 64 * 1024) -> TracePage:
        """A page of a redacted log or trace, cut at a line end when possible. Never reads `traces/raw/`."""
        record = self._record(run_id)
        kinds = self.trace_kinds(run_id)
        if kind.startswith("agent:"):
            rel = layout.safe_child(layout.REDACTED_TRACES, kind.removeprefix("agent:") + ".jsonl")
        elif kind in layout.TRACE_KINDS:
            rel = layout.TRACE_KINDS[kind]
        else:
            raise InvalidInput(f"unknown trace kind {kind[:50]!r}; this run has: {', '.join(kinds) or 'none yet'}")
        if kind not in kinds:
            raise InvalidInput(f"run {run_id!r} has no {kind!r} log yet; it has: {', '.join(kinds) or 'none yet'}")
        key = record.key(rel)
        total = record.bucket.size(key) or 0
        cursor = _line_start(record, key, max(0, min(cursor, total)))
        max_bytes = max(1, min(max_bytes, MAX_TRACE_PAGE))
        chunk = record.bucket.read_range(key, cursor, max_bytes)
        if cursor + len(chunk) < total and b"\n" not in chunk:
            # One line longer than the page: serve it whole (up to MAX_TRACE_PAGE bytes), so that no
            # secret is handed out in pieces that each escape the redactor.
            chunk = record.bucket.read_range(key, cursor, MAX_TRACE_PAGE)
            chunk = chunk[: chunk.index(b"\n") + 1] if b"\n" in chunk else chunk
        elif cursor + len(chunk) < total:
            chunk = chunk[: chunk.rindex(b"\n") + 1]  # whole lines: a secret never straddles two pages
        checked = self.redactor.redact_checked(chunk.decode("utf-8", errors="replace"))
        end = cursor + len(chunk)
        return TracePage(run_id=run_id, kind=kind, text=checked.text, cursor=cursor,
                         next_cursor=end if end < total else None, total_bytes=total,
                         withheld=checked.withheld, available_kinds=kinds)
