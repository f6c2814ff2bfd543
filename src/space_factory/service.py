"""The Factory service: what the MCP tools and the CLI share (launch, status, gate, hardware, traces).

It talks to one `Backend` bound to one owner; a run of another owner answers "not found". Methods are
synchronous (backends do blocking file, process and HTTP work); async callers run them in a worker
thread with `anyio.to_thread.run_sync`. The rules both front ends follow live here once: how a run is
followed, when a paid flavor needs the user's consent, what a cancel did, a gate or the run's progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from space_factory import admission, idempotency, reconcile, trace_pages
from space_factory.admission import validate_target as validate_target
from space_factory.app_workspace import app_files, read_app_file
from space_factory.backends.base import Backend
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.analysis import analyze_card
from space_factory.domain.errors import (
    CostNotConfirmed,
    FactoryError,
    InvalidInput,
    RateLimited,
    RunNotFinished,
    RunNotFound,
)
from space_factory.domain.hardware import HardwareSpec, flavor_spec
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.ids import mint_run_id, parse_model_id, validate_run_id, validate_space_name
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.polling import STALE_POLL_SECONDS, follow_wait, next_poll_seconds
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.redaction import Redactor
from space_factory.domain.revisions import path_problem
from space_factory.domain.schemas import (
    AgentName,
    AppFile,
    AttemptRecord,
    BuildOptions,
    Gate,
    HardwareRequestRecord,
    Mode,
    RevisionChange,
    RunRequest,
    RunState,
)
from space_factory.domain.task_handles import TaskHandle
from space_factory.domain.views import (
    AnalysisView,
    AppFilesView,
    AppFileText,
    HardwareRequestView,
    RunList,
    RunStatusView,
    TracePage,
)
from space_factory.record import RunRecord
from space_factory.revision_admission import admit_revision
from space_factory.runs_index import MAX_RUNS_CURSOR as MAX_RUNS_CURSOR  # the tool's bound
from space_factory.runs_index import RunsCursor, RunsIndex, backfill
from space_factory.trace_pages import AGENT_TRACE_PAGE as AGENT_TRACE_PAGE  # the tool's default
from space_factory.trace_pages import DEFAULT_TRACE_PAGE
from space_factory.trace_pages import MAX_TRACE_PAGE as MAX_TRACE_PAGE  # the tool's bound

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_POLL = 500
# The largest app file `app_files` shows as text: more than any generated app file, well under an MCP message.
MAX_APP_FILE_TEXT = 256 * 1024


@dataclass(frozen=True)
class GateAnswer:
    """`Factory.gate_or_progress`: the run's state, its gate once it has one, else when to ask again."""

    state: RunState
    gate: Gate | None = None  # None while the run is going, or when it failed before a gate was written
    next_poll_seconds: float | None = None  # set while the run is still going
    attempts: list[AttemptRecord] = field(default_factory=list)  # the coding agent's, so far (`Factory.attempts`)


@dataclass(frozen=True)
class TaskProgress:
    """`Factory.task_progress`: an MCP task handle of a run, and the run's status with its newest events."""

    handle: TaskHandle
    view: RunStatusView


@dataclass(frozen=True)
class CancelOutcome:
    """`Factory.cancel_run`: the run's state, and whether this request stopped it (False: it had already ended)."""

    state: RunState
    canceled: bool


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
        self._runs_indexed = False  # whether this service has seen the bucket's records all indexed (runs_index)
        self._task_handles: dict[tuple[str, str], TaskHandle] = {}  # handles found (they never change): one read each
        self._task_seqs: dict[str, int] = {}  # per run: the last event seq a task poll saw, to read only newer ones

    # -- records ---------------------------------------------------------------------------------

    def _record(self, run_id: str) -> RunRecord:
        record = RunRecord(self.backend.bucket, validate_run_id(run_id))
        request = record.read_model(layout.REQUEST, RunRequest)
        if request is None or request.owner != self.backend.owner:
            # Another owner's run is indistinguishable from a missing one (DESIGN §9).
            raise RunNotFound(run_id)
        return record

    # -- launch ----------------------------------------------------------------------------------

    def launch(self, model: str, *, options: BuildOptions | None = None, agent: AgentName = "auto",
               mode: Mode = "build") -> RunState:
        """Start a run and return its queued state at once; the job does the work.

        `agent` is recorded as asked (DESIGN §7): `auto` lets the worker choose the template or the coding agent.

        Raises:
            InvalidModelId: `model` is not a model id or Hub URL (or it looks like a secret).
            InvalidSpaceId: `options.space_name` breaks the Space name rule the worker uses.
            BackendError: the idempotency key's claim is unreadable, or its run was never written.
            NoZeroGpuSlot: the build needs a ZeroGPU slot and the owner has none left (nothing was started).
        """
        options = options or BuildOptions()
        model = parse_model_id(model) if mode == "build" else model
        if options.space_name is not None:
            validate_space_name(options.space_name)  # the worker's rule, before any run exists
        # A relaunch with a key already claimed answers its run below; it is never refused for its own slot.
        if mode == "build" and not (options.idempotency_key and idempotency.is_claimed(
                self.backend.bucket, self.backend.owner, options.idempotency_key)):
            admission.admit_zerogpu(self.backend, model, options)
        run_id = mint_run_id(model)
        if options.idempotency_key:
            # Claimed before the record exists: of concurrent launches with one key, one makes its run and
            # every other answers that run, never a second one.
            winner = idempotency.claim(self.backend.bucket, self.backend.owner, options.idempotency_key, run_id)
            if winner != run_id:
                return idempotency.claimed_state(winner, self.state)
        # Indexed before the record is written: a launch cut short leaves an entry that lists as nothing, never a
        # record that no page lists.
        RunsIndex(self.backend.bucket, self.backend.owner).add(run_id)
        record = RunRecord(self.backend.bucket, run_id)
        request = RunRequest(run_id=run_id, model=model, mode=mode, agent=agent, backend=self.backend.name,
                             owner=self.backend.owner, options=options)
        record.write_model(layout.REQUEST, request)
        state = RunState(run_id=run_id, model=model, mode=mode, agent=agent, backend=request.backend,
                         owner=self.backend.owner)
        record.write_state(state)
        record.append_event(Phase.QUEUED, f"{mode} of {model} queued on the {self.backend.name} backend")
        return self._start_job(record, request)

    def validate(self, target: str, *, task: str | None = None, idempotency_key: str | None = None) -> RunState:
        """Start a validation-only run against a running app URL or Space id.

        The run id and `state.model` are made from the parsed target only; on the hf backend a
        `*.hf.space` URL becomes its Space's id, and the URL checked is the one the Hub gives for it.
        """
        text, target_url = admission.resolve_target(self.backend, target)
        options = BuildOptions(task=task, target=target_url, idempotency_key=idempotency_key)
        return self.launch(text, options=options, agent="none", mode="validate")  # nothing is written to gate

    # -- reading ---------------------------------------------------------------------------------

    def state(self, run_id: str) -> RunState:
        """The run's state, reconciled with its job: a job that ended without a terminal state is `failed`."""
        record = self._record(run_id)
        state = record.state()
        if state is None:
            raise RunNotFound(run_id)
        if state.status in TERMINAL_STATUSES:
            return state
        job_id = state.job.id
        if not job_id:
            # A worker that wrote its state before it could see the job id (a mount shows others' writes
            # seconds late) may have dropped it; request.json, which only the service writes, keeps it.
            request = record.read_model(layout.REQUEST, RunRequest)
            if request is None or not request.job_id:
                return state
            job_id = request.job_id
            state = state.model_copy(update={"job": state.job.model_copy(update={"id": job_id})})
        try:
            job = self.backend.jobs.status(job_id)
        except (OSError, FactoryError):
            return state
        if job.terminal and not job.settling:
            # Settled: whatever the job wrote through its mounted bucket has landed, so a missing final state
            # is a dead run, not a late one.
            return reconcile.ended_job(self.backend, self.redactor, record, state, job)
        if job.stage != state.job.stage:
            # Shown, not stored: a reader's read-modify-write could undo a concurrent worker write where the
            # bucket has no lock (hf); only a reconcile, which must persist, writes.
            return state.model_copy(update={"job": state.job.model_copy(update={"stage": job.stage})})
        return state

    def _worker_may_write(self, state: RunState) -> bool:
        """Whether the run's worker may still be writing its record: its job runs, or ended moments ago."""
        if not state.job.id:
            return False
        try:
            job = self.backend.jobs.status(state.job.id)
        except (OSError, FactoryError):
            return True
        return not job.terminal or job.settling

    def run_status(self, run_id: str, since_seq: int = 0) -> RunStatusView:
        """The state, the events after `since_seq`, and when to poll again.

        A rate-limited read (429 after the client's backoff) answers the last state this service read,
        with `stale=True` and no events, rather than an error; a run never read before still raises.
        """
        try:
            state = self.state(run_id)
            record = self._record(run_id)
            # A canceled run's worker was stopped before it could fold the cancel's posted events in.
            events = record.events(since_seq, limit=MAX_EVENTS_PER_POLL,
                                   with_inbox=state.status is RunStatus.CANCELED)
        except RateLimited:
            last = self._last_states.get(run_id)
            if last is None:
                raise
            return RunStatusView(run_id=run_id, state=last, events=[], last_seq=since_seq,
                                 terminal=last.status in TERMINAL_STATUSES, stale=True,
                                 next_poll_seconds=None if last.status in TERMINAL_STATUSES else STALE_POLL_SECONDS)
        self._last_states[run_id] = state
        return RunStatusView(
            run_id=run_id, state=state, events=events,
            last_seq=events[-1].seq if events else since_seq, terminal=state.status in TERMINAL_STATUSES,
            next_poll_seconds=next_poll_seconds(state))

    def follow(self, run_id: str, *, timeout: float | None = None) -> Iterator[tuple[RunStatusView, float | None]]:
        """Follow a run from its first event: yield each status read with the seconds to wait before the next one.

        The wait is None on the last view: the run is terminal, or `timeout` seconds have passed (the run
        goes on). The caller does the waiting (`time.sleep`, `anyio.sleep`), so an async caller holds no
        worker thread between reads. On the hf backend each read costs the token two Hub requests, so the
        wait is the run's own poll hint (1-3 s, `next_poll_seconds`) rather than the follow schedule's 0.5 s.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        since = 0
        while True:
            view = self.run_status(run_id, since)
            since = view.last_seq
            remaining = None if deadline is None else deadline - time.monotonic()
            wait = follow_wait(view.terminal, remaining)
            if wait is not None and self.backend.name == "hf" and view.next_poll_seconds is not None:
                wait = max(wait, view.next_poll_seconds) if remaining is None else \
                    min(max(wait, view.next_poll_seconds), remaining)
            yield view, wait
            if wait is None:
                return

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

    def gate_or_progress(self, run_id: str) -> GateAnswer:
        """The run's gate, or where the run is: a run still going, or failed before a gate, is an answer here.

        A failed run answers no gate (`state.error` says why) even if a late writer left one; a run still
        going answers its state and `next_poll_seconds`.
        """
        state = self.state(run_id)
        attempts = self.attempts(run_id) if state.agent != "none" else []
        if state.status is RunStatus.FAILED:
            return GateAnswer(state, attempts=attempts)
        gate = self._record(run_id).read_model(layout.GATE, Gate)
        return GateAnswer(state, gate, None if gate else next_poll_seconds(state), attempts)

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        """The coding agent's attempts so far, in order (`agent/attempts.jsonl`); empty when no agent ran.

        A torn last line (the worker is writing it) is left for the next read. Pi's words (`error`) and the
        paths it chose are redacted once more here, as a last net: a served answer never holds a secret.
        """
        data = self._record(run_id).read_bytes(layout.AGENT_ATTEMPTS) or b""
        attempts: list[AttemptRecord] = []
        for line in data.splitlines():
            try:
                attempt = AttemptRecord.model_validate_json(line)
            except ValidationError:
                continue
            attempts.append(attempt.model_copy(update={
                "error": self.redactor.redact_text(attempt.error) if attempt.error else attempt.error,
                "files_changed": [self.redactor.redact_text(path) for path in attempt.files_changed]}))
        return attempts

    def list_runs(self, *, limit: int = 50) -> list[RunState]:
        """The owner's newest runs, newest first: the first page of `runs_page`."""
        return self.runs_page(limit=limit).runs

    def runs_page(self, *, limit: int = 50, cursor: str | None = None) -> RunList:
        """One page of the owner's runs, newest first, with the cursor of the next page (None on the last).

        A page lists only the owner's index partitions it reads from (`runs_index`) and reads the states of
        about `limit` + 1 runs (with the rest of the UTC second the last of them was made in), first page or
        deep, however many runs the owner — or anyone sharing the bucket — has ever made. The first page this
        service serves indexes, once per bucket, the records written before the index existed.

        Raises:
            InvalidInput: `cursor` is not one a previous page of this owner gave.
        """
        owner = self.backend.owner
        after = RunsCursor.decode(cursor, owner) if cursor is not None else None
        if limit <= 0:
            return RunList(runs=[])
        if not self._runs_indexed:
            backfill(self.backend.bucket)
            self._runs_indexed = True
        return RunsIndex(self.backend.bucket, owner).page(self.state, limit, after)

    def report(self, run_id: str) -> str:
        text = self._record(run_id).read_text(layout.REPORT)
        if text is None:
            raise RunNotFinished(run_id, self.state(run_id).phase.value)
        return text

    # -- MCP task handles (the tasks extension; domain/task_handles.py) ------------------------------

    def create_task_handle(self, run_id: str, digest: str, tool: str) -> TaskHandle:
        """Store a task handle of the run under its secret's digest, and return it.

        Written before the handle is answered, so every server over the bucket resolves it from then on (the
        spec's "durably created"). A run of another owner answers `RunNotFound` (nothing is written).
        """
        handle = TaskHandle(tool=tool)
        self._record(run_id).write_model(layout.task_handle(digest), handle)
        self._task_handles[(run_id, digest)] = handle
        return handle

    def task_progress(self, run_id: str, digest: str) -> TaskProgress:
        """The run behind a task handle: the handle, and the run's status with its newest events.

        A poll costs what a `run_status` poll costs (on hf, 2 Hub requests): a handle never changes, so one found
        is kept, and the events are read from the newest one this service saw of the run (the first poll of a run
        with more than `MAX_EVENTS_PER_POLL` events shows its first page; the next one the newest).

        Raises:
            RunNotFound: no run of this owner has this id, or the run has no handle under this digest (a forged
                or guessed task id): the two are indistinguishable.
        """
        record = self._record(run_id)  # the owner check, on every poll
        handle = self._task_handles.get((run_id, digest))
        if handle is None:
            handle = record.read_model(layout.task_handle(digest), TaskHandle)
            if handle is None:
                raise RunNotFound(run_id)
            self._task_handles[(run_id, digest)] = handle
        seen = self._task_seqs.get(run_id, 0)
        view = self.run_status(run_id, max(0, seen - 1))
        self._task_seqs[run_id] = max(seen, view.last_seq)  # a stale (rate-limited) answer carries no events
        return TaskProgress(handle, view)

    # -- cancel ----------------------------------------------------------------------------------

    def cancel(self, run_id: str) -> RunState:
        """Stop a run's job and the Space it was building; the run ends `canceled`. A finished run is left as is.

        The state only; `cancel_run` also says whether this call stopped the run.
        """
        return self.cancel_run(run_id).state

    def cancel_run(self, run_id: str) -> CancelOutcome:
        """Stop a run's job and the Space it was building; the run ends `canceled` (`canceled=True`).

        A run that had already ended is left as it is (`canceled=False`).
        """
        record = self._record(run_id).as_guest()  # the worker owns the run's logs until its job is stopped
        state = self.state(run_id)
        if state.status in TERMINAL_STATUSES:
            return CancelOutcome(state, canceled=False)
        return CancelOutcome(reconcile.cancel(self.backend, record, state), canceled=True)

    # -- analysis, hardware, traces ----------------------------------------------------------------

    def analyze(self, model: str, *, task: str | None = None, allow_paid_fallback: bool = False) -> AnalysisView:
        model = parse_model_id(model)
        facts = self.backend.models.model_facts(model)
        analysis = analyze_card(facts, task_override=task)
        recommendation = recommend_runtime(analysis, allow_paid_fallback=allow_paid_fallback,
                                           zerogpu_allowed=self.backend.zerogpu_allowed, backend=self.backend.name)
        return AnalysisView(analysis=analysis, recommendation=recommendation)

    def _bills(self, spec: HardwareSpec) -> bool:
        """Whether asking for `spec` needs the user's consent to its price: a paid flavor, on a backend that bills.

        The local backend bills nothing: its Spaces run on this machine's CPU and paid flavors answer `not_available`.
        """
        return spec.paid and self.backend.name != "local"

    def hardware_price_to_confirm(self, run_id: str, flavor: str) -> float | None:
        """The hourly price the user must approve before `request_hardware(run_id, flavor)`, else None.

        None means no question is asked: a free or unknown flavor, a backend that bills nothing, a run without
        a Space yet (`request_hardware` refuses it before any cost arises), or a paid flavor without a published
        price (`request_hardware` then raises `CostNotConfirmed` until `confirm_cost`).
        """
        spec = flavor_spec(flavor)
        if spec is None or not self._bills(spec):
            return None
        return spec.hourly_usd if self.state(run_id).space.id else None

    def request_hardware(self, run_id: str, flavor: str, *, confirm_cost: bool = False) -> HardwareRequestView:
        """Ask for `flavor` on the run's Space; the outcome is recorded in `hardware_requests.jsonl`.

        Raises:
            CostNotConfirmed: a paid flavor, available on this backend, without `confirm_cost`.
        """
        record = self._record(run_id)
        state = self.state(run_id)
        if not state.space.id:
            raise FactoryError(f"run {run_id!r} has no Space yet (phase {state.phase.value}); wait until it is created")
        if self._worker_may_write(state):
            record = record.as_guest()
        spec = flavor_spec(flavor)
        hourly = spec.hourly_usd if spec else None
        if spec is None:
            outcome, detail = HardwareOutcome.NOT_AVAILABLE, f"unknown hardware flavor {flavor[:50]!r}"
        else:
            if self._bills(spec) and not confirm_cost:
                raise CostNotConfirmed(flavor, hourly)
            outcome, detail = self.backend.spaces.request_hardware(state.space.id, flavor)
        entry = HardwareRequestRecord(flavor=flavor[:50], outcome=outcome, detail=detail,
                                      hourly_cost_usd=hourly, source="tool")
        record.append_jsonl(layout.HARDWARE_REQUESTS, entry)
        record.append_event(state.phase, f"hardware request {flavor[:50]}: {outcome}",
                            data={"outcome": outcome})
        return HardwareRequestView(run_id=run_id, space_id=state.space.id, flavor=flavor[:50],
                                   outcome=outcome, detail=detail, hourly_cost_usd=hourly)

    def trace_kinds(self, run_id: str) -> list[str]:
        """The kinds of log the run has written so far, for `trace`'s `kind`."""
        return trace_pages.kinds_of(self._record(run_id))

    def trace(self, run_id: str, kind: str = "worker", cursor: int = 0,
              max_bytes: int = DEFAULT_TRACE_PAGE) -> TracePage:
        """A page of a redacted log or trace, cut at a line end when possible. Never reads `traces/raw/`.

        Raises:
            InvalidInput: `kind` is not a kind of log, or not one this run has written yet.
        """
        return trace_pages.page(self._record(run_id), self.redactor, kind, cursor, max_bytes)

    # -- app files and revisions (DESIGN §12) -------------------------------------------------------

    def app_files(self, run_id: str, path: str | None = None) -> AppFilesView:
        """The files of the app the run deployed (or generated, if it stopped before a Space), or one file's text.

        Raises:
            InvalidInput: `path` breaks the path rules, is not a file of the app, or is binary or larger than
                `MAX_APP_FILE_TEXT` (the message gives its size).
        """
        record = self._record(run_id)
        state = self.state(run_id)
        files = app_files(record, state.revision)
        view = AppFilesView(run_id=run_id, revision=state.revision, parent_run_id=state.parent_run_id,
                            space_id=state.space.id, files=files, total_bytes=sum(f.bytes for f in files))
        if path is None:
            return view
        return view.model_copy(update={"file": self._app_file_text(record, files, path)})

    def _app_file_text(self, record: RunRecord, files: list[AppFile], path: str) -> AppFileText:
        # The path is not echoed: it is the caller's own text, and it may hold anything (a token-shaped string).
        problem = path_problem(path)
        if problem is not None:
            raise InvalidInput(f"the path {problem}")
        entry = next((f for f in files if f.path == path), None)
        data = read_app_file(record, path) if entry is not None else None
        if entry is None or data is None:
            listed = "get_app_files(run_id) without a path lists them" if files else "it generated no app files"
            raise InvalidInput(f"the app of run {record.run_id!r} has no file at this path; {listed}")
        if len(data) > MAX_APP_FILE_TEXT:
            raise InvalidInput(f"the file at this path is {len(data)} bytes, more than the {MAX_APP_FILE_TEXT} bytes "
                               "shown as text; its sha256 is in the file list")
        try:
            if b"\0" in data:
                raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"the file at this path is a binary file ({len(data)} bytes); only text files are "
                               "shown") from None
        clean = self.redactor.redact_text(text)
        return AppFileText(path=path, bytes=len(data), sha256=entry.sha256, revision=entry.revision, text=clean,
                           redacted=clean != text)

    def revise(self, run_id: str, files: dict[str, str], remove: list[str] | None = None,
               note: str | None = None) -> RunState:
        """Start a revision of the run's app (a new run, revision n+1, on the same Space) and return its queued state.

        Everything is checked before anything is written (`revision_admission`); the job applies the change to the
        parent's app, commits it with `note` as the message, and rebuilds, validates and gates it.

        Raises:
            InvalidRevision: a path, size or text rule is broken, or the change changes nothing.
            RunStillGoing: the parent has not ended yet.
            SpaceMoved: the parent's Space has a commit the parent did not make.
        """
        parent = self._record(run_id)
        admitted = admit_revision(self.backend, parent, self.state(run_id), files, remove or [], note)
        asked, plan, target = admitted.parent, admitted.plan, admitted.target
        new_id = mint_run_id(asked.model)
        RunsIndex(self.backend.bucket, self.backend.owner).add(new_id)
        record = RunRecord(self.backend.bucket, new_id)
        options = asked.options.model_copy(update={"idempotency_key": None, "space_name": None})
        request = RunRequest(run_id=new_id, model=asked.model, mode="revise", agent="none", backend=self.backend.name,
                             owner=self.backend.owner, options=options, revision=admitted.revision,
                             parent_run_id=run_id)
        record.write_model(layout.REVISION, RevisionChange(
            parent_run_id=run_id, files={path: files[path] for path in plan.written}, remove=list(plan.removed),
            # The note becomes a commit message and events: redacted like every text the factory writes.
            note=self.redactor.redact_text(admitted.change.note) if admitted.change.note else None,
            parent_commit=target.commit if target else None))
        record.write_model(layout.REQUEST, request)
        record.write_state(RunState(run_id=new_id, model=asked.model, mode="revise", agent="none",
                                    backend=request.backend, owner=self.backend.owner, revision=request.revision,
                                    parent_run_id=run_id, space={"id": target.space_id} if target else {}))
        record.append_event(Phase.QUEUED, f"revision {request.revision} of run {run_id} queued on the "
                            f"{self.backend.name} backend: {plan.describe()}")
        return self._start_job(record, request)

    def _start_job(self, record: RunRecord, request: RunRequest) -> RunState:
        """Start the job of a written run; a job that cannot start fails the run with our words."""
        try:
            job = self.backend.jobs.launch(request.run_id)
        except (OSError, FactoryError) as exc:
            if isinstance(exc, FactoryError):  # our own words, for the user to act on (a missing scope, billing)
                message = self.redactor.redact_text(f"could not start the job: {exc}")
            else:  # an OSError's text holds server paths: the detail goes to the log, the run gets our words
                logger.exception("could not start the job of run %s", request.run_id)
                message = f"could not start the job on the {self.backend.name} backend; the server log has the details"
            record.append_event(Phase.QUEUED, message, level="error")
            return record.update_state(status=RunStatus.FAILED, error=message)
        request.job_id = job.id
        record.write_model(layout.REQUEST, request)
        # The job's worker may already own the run's logs: post, for it to fold in (record.py).
        record.as_guest().append_event(Phase.QUEUED, f"job {job.id} started", data={"job_id": job.id})
        return record.update_state(job={"id": job.id, "stage": job.stage, "url": job.url})
