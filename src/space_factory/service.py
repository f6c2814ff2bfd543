"""The Factory service: what the MCP tools and the CLI share (launch, status, gate, hardware, traces).

It talks to one `Backend` bound to one owner; a run of another owner answers "not found". Methods are
synchronous (backends do blocking file, process and HTTP work); async callers run them in a worker
thread with `anyio.to_thread.run_sync`. The rules both front ends follow live here once: how a run is
followed, when a paid flavor needs the user's consent, what a cancel did, a gate or the run's progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from space_factory.backends.base import Backend, JobStatus, SpaceRuntime
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.analysis import analyze_card
from space_factory.domain.errors import (
    BackendError,
    CostNotConfirmed,
    FactoryError,
    InvalidInput,
    InvalidTarget,
    NoZeroGpuSlot,
    RateLimited,
    RunNotFinished,
    RunNotFound,
    TokenScopeMissing,
)
from space_factory.domain.gate import GateEvidence, build_gate
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.hardware import ZEROGPU_FLAVOR, HardwareSpec, flavor_spec
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.ids import mint_run_id, parse_model_id, validate_run_id, validate_space_name
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.polling import STALE_POLL_SECONDS, follow_wait, next_poll_seconds
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import (
    AgentName,
    BuildOptions,
    Gate,
    HardwareRequestRecord,
    Mode,
    RunRequest,
    RunState,
)
from space_factory.domain.stages import JobStage
from space_factory.domain.targets import (
    AppUrl,
    SpaceTarget,
    Target,
    admit,
    loopback_only,
    parse_app_url,
    parse_target,
    space_id_candidates,
)
from space_factory.domain.views import AnalysisView, HardwareRequestView, RunList, RunStatusView, TracePage
from space_factory.record import RunRecord
from space_factory.runs_index import MAX_RUNS_CURSOR as MAX_RUNS_CURSOR  # the tool's bound
from space_factory.runs_index import RunsCursor, RunsIndex, backfill, run_order

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_POLL = 500
# A launch that lost an idempotency key's claim waits this long for the winner to write its run (milliseconds,
# normally; a few Hub writes on the hf backend).
CLAIMED_RUN_WAIT_SECONDS = 30.0
CLAIM_POLL_SECONDS = 0.05
MAX_TRACE_PAGE = 256 * 1024
# The trace page sizes, named once. An agent's page lands in its model's context, so the MCP tool defaults to
# 16 KiB (a value in its snapshotted schema); a person at a terminal (the CLI's --max-bytes) and a direct
# caller of `Factory.trace` get 64 KiB.
AGENT_TRACE_PAGE = 16 * 1024
DEFAULT_TRACE_PAGE = 64 * 1024


def _line_start(record: RunRecord, key: str, cursor: int) -> int:
    """The start of the line holding byte `cursor`: a page never starts inside a line, wherever the caller points.

    A cursor deeper than MAX_TRACE_PAGE into one line is left alone: only paging through that line gives one.
    """
    start = max(0, cursor - MAX_TRACE_PAGE)
    before = record.bucket.read_range(key, start, cursor - start)
    if b"\n" in before:
        return start + before.rindex(b"\n") + 1
    return 0 if cursor < MAX_TRACE_PAGE else cursor


@dataclass(frozen=True)
class GateAnswer:
    """`Factory.gate_or_progress`: the run's state, its gate once it has one, else when to ask again."""

    state: RunState
    gate: Gate | None = None  # None while the run is going, or when it failed before a gate was written
    next_poll_seconds: float | None = None  # set while the run is still going


@dataclass(frozen=True)
class CancelOutcome:
    """`Factory.cancel_run`: the run's state, and whether this request stopped it (False: it had already ended)."""

    state: RunState
    canceled: bool


def validate_target(target: str, backend: str) -> Target:
    """A validation target, parsed once (`domain.targets.parse_target`) and held to `backend`'s address rule.

    Nothing has connected anywhere yet when this refuses a target.

    Raises:
        InvalidTarget: not an http(s) app URL or a Space id, or not one this backend may check.
    """
    return admit(parse_target(target), backend)


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

    def _claim_key(self, key: str, run_id: str) -> str:
        """Claim idempotency `key` for `run_id` (create-if-absent on the bucket); return the run id that holds it.

        Raises:
            BackendError: the key's claim is unreadable.
        """
        held = self.backend.bucket.create(self._idempotency_key(key), json.dumps({"run_id": run_id}).encode())
        if held is None:
            return run_id
        try:
            return validate_run_id(json.loads(held)["run_id"])
        except (ValueError, KeyError, TypeError):
            raise BackendError("this idempotency key's record in the bucket is unreadable; launch with another "
                               "idempotency_key") from None

    def _claimed_state(self, run_id: str) -> RunState:
        """The state of the run that holds an idempotency key, once its launch has written it.

        Raises:
            BackendError: the claim's run never appeared (its launch died between the claim and the record).
        """
        deadline = time.monotonic() + CLAIMED_RUN_WAIT_SECONDS
        delay = CLAIM_POLL_SECONDS
        while True:
            try:
                return self.state(run_id)
            except RunNotFound:
                if time.monotonic() > deadline:
                    raise BackendError(f"run {run_id!r} holds this idempotency key, but its launch never wrote it; "
                                       "launch with another idempotency_key") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)  # a bucket read is a Hub request on the hf backend

    # -- launch ----------------------------------------------------------------------------------

    def launch(self, model: str, *, options: BuildOptions | None = None, agent: AgentName = "none",
               mode: Mode = "build") -> RunState:
        """Start a run and return its queued state at once; the job does the work.

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
        if mode == "build" and not (options.idempotency_key and self.backend.bucket.read(
                self._idempotency_key(options.idempotency_key)) is not None):
            self._admit_zerogpu(model, options)
        run_id = mint_run_id(model)
        if options.idempotency_key:
            # Claimed before the record exists: of concurrent launches with one key, one makes its run and
            # every other answers that run, never a second one.
            winner = self._claim_key(options.idempotency_key, run_id)
            if winner != run_id:
                return self._claimed_state(winner)
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
        try:
            job = self.backend.jobs.launch(run_id)
        except (OSError, FactoryError) as exc:
            if isinstance(exc, FactoryError):  # our own words, for the user to act on (a missing scope, billing)
                message = self.redactor.redact_text(f"could not start the job: {exc}")
            else:  # an OSError's text holds server paths: the detail goes to the log, the run gets our words
                logger.exception("could not start the job of run %s", run_id)
                message = f"could not start the job on the {self.backend.name} backend; the server log has the details"
            record.append_event(Phase.QUEUED, message, level="error")
            return record.update_state(status=RunStatus.FAILED, error=message)
        request.job_id = job.id
        record.write_model(layout.REQUEST, request)
        # The job's worker may already own the run's logs: post, for it to fold in (record.py).
        record.as_guest().append_event(Phase.QUEUED, f"job {job.id} started", data={"job_id": job.id})
        return record.update_state(job={"id": job.id, "stage": job.stage, "url": job.url})

    def _admit_zerogpu(self, model: str, options: BuildOptions) -> None:
        """Refuse, before any run or job exists, a build that needs a ZeroGPU slot the owner no longer has.

        Slots are counted first (one Hub request); the model is read only when none is left, to tell whether the
        build would run on ZeroGPU. A count or a model the Hub cannot give lets the launch go on: the worker
        reports the model, and the gate the hardware the Space actually got.

        Raises:
            NoZeroGpuSlot: every slot is taken and the build would need one.
        """
        if self.backend.hosting is None:
            return
        try:
            reason = self.backend.hosting.zerogpu_slots().refusal()
        except BackendError:
            logger.warning("could not count the ZeroGPU Spaces of %s; launching anyway", self.backend.owner)
            return
        if reason is not None and self._needs_zerogpu(model, options):
            raise NoZeroGpuSlot(reason)

    def _needs_zerogpu(self, model: str, options: BuildOptions) -> bool:
        """Whether the build would run on ZeroGPU: asked for, or planned with no other GPU to fall back on."""
        if options.hardware is not None:  # a requested flavor is the plan's primary
            return options.hardware == ZEROGPU_FLAVOR
        try:
            analysis = analyze_card(self.backend.models.model_facts(model), task_override=options.task)
        except FactoryError:
            return False
        with_slot, without_slot = (
            recommend_runtime(analysis, allow_paid_fallback=options.allow_paid_fallback, zerogpu_allowed=allowed,
                              backend=self.backend.name) for allowed in (True, False))
        fallback = flavor_spec(without_slot.chosen)
        return with_slot.chosen == ZEROGPU_FLAVOR and (fallback is None or not fallback.is_gpu)

    def validate(self, target: str, *, task: str | None = None, idempotency_key: str | None = None) -> RunState:
        """Start a validation-only run against a running app URL or Space id.

        The run id and `state.model` are made from the parsed target only; on the hf backend a
        `*.hf.space` URL becomes its Space's id, and the URL checked is the one the Hub gives for it.
        """
        parsed = validate_target(target, self.backend.name)
        runtime = None
        if isinstance(parsed, AppUrl) and self.backend.name == "hf":
            found: list[SpaceRuntime] = []
            for candidate in space_id_candidates(parsed):
                try:
                    found.append(self.backend.spaces.runtime(candidate))
                except (RateLimited, TokenScopeMissing):
                    raise
                except BackendError:  # no such Space, or not one the token sees
                    continue
            own = [rt for rt in found if rt.url and parse_app_url(rt.url).same_origin(parsed)]
            matches = own or found
            if len(matches) != 1:
                raise InvalidTarget(parsed.url, "several Spaces could have this URL; pass the Space id" if matches
                                    else "no Space the token can see has this URL; pass the Space id")
            runtime = matches[0]
            parsed = SpaceTarget(runtime.space_id)
        if isinstance(parsed, SpaceTarget):
            runtime = runtime or self.backend.spaces.runtime(parsed.space_id)
            if not runtime.url:
                raise InvalidTarget(parsed.space_id,
                                    f"the Space is {runtime.stage}, not running, so it has no URL to check")
            app = parse_app_url(runtime.url)  # the Space host's word, read with the same parser
            target_url = (loopback_only(app) if self.backend.name == "local" else app).url
        else:
            target_url = parsed.url
        options = BuildOptions(task=task, target=target_url, idempotency_key=idempotency_key)
        return self.launch(parsed.text, options=options, mode="validate")

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
            return self._reconcile(record, state, job)
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

    def _reconcile(self, record: RunRecord, state: RunState, job: JobStatus) -> RunState:
        fresh = record.state()  # the worker may have finished between our two reads
        if fresh is not None and fresh.status in TERMINAL_STATUSES:
            return fresh
        if job.stage == JobStage.CANCELED:
            return self._stop_run_space(record, self._write_canceled(record, "the job was canceled"),
                                        "its run's job was canceled")
        reason = job.message or f"the job ended ({job.stage}) without finishing the run"
        message = self.redactor.redact_text(f"job {job.id} ended without a final state: {reason}")
        try:
            # The job process may be gone while its worker still runs: end the whole job so nothing lingers.
            self.backend.jobs.cancel(job.id)
        except (OSError, FactoryError):
            logger.warning("could not end job %s after it failed", job.id)
        record.append_event(state.phase, message, level="error", data={"job_stage": job.stage})
        failed = record.update_state(status=RunStatus.FAILED, error=message, job={"stage": job.stage})
        # A Space the dead worker started goes on building and would serve, unwatched, for ever: stop it.
        return self._stop_run_space(record, failed, "its run failed before a gate was written")

    def _stop_run_space(self, record: RunRecord, state: RunState, why: str) -> RunState:
        """Stop the Space a build run created, for a run that ended without finishing; return the new state.

        Only a build run's Space is the run's to stop: a validation run checks someone's app and never touches it.
        """
        space_id = state.space.id
        if state.mode != "build" or not space_id:
            return state
        try:
            stopped = self.backend.spaces.stop(space_id)
            runtime = self.backend.spaces.runtime(space_id)
        except (OSError, FactoryError):
            logger.warning("could not stop the Space %s of run %s", space_id, record.run_id)
            record.append_event(state.phase, f"could not stop the Space {space_id}; stop it from its settings page",
                                level="warning")
            return state
        if stopped:
            record.append_event(state.phase, f"stopped the Space {space_id}: {why}", level="warning",
                                data={"space_stage": runtime.stage})
        return record.update_state(force=True, space={"stage": runtime.stage, "url": runtime.url})

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
        if state.status is RunStatus.FAILED:
            return GateAnswer(state)
        gate = self._record(run_id).read_model(layout.GATE, Gate)
        return GateAnswer(state, gate, None if gate else next_poll_seconds(state))

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
        page: list[RunState] = []
        # Runs of a later second than the cursor's were all served already: the walk starts at the cursor's second.
        for run_id in RunsIndex(self.backend.bucket, owner).newest_first(None if after is None else after.run_id[:15]):
            # One run past the limit says whether a next page exists; within one second the ids' order says
            # nothing, so read on through the second of the last run read before stopping.
            if len(page) > limit and run_id[:15] != page[-1].run_id[:15]:
                break
            if after is not None and run_id == after.run_id:  # the last run the previous page served
                continue
            try:
                state = self.state(run_id)
            except RunNotFound:  # an entry whose launch never wrote the record, or a misfiled one: not a run of ours
                continue
            if after is None or run_order(state) < after.order:
                page.append(state)
        page.sort(key=run_order, reverse=True)
        more = len(page) > limit
        page = page[:limit]
        return RunList(runs=page, next_cursor=RunsCursor.after(page[-1], owner).encode() if more else None)

    def report(self, run_id: str) -> str:
        text = self._record(run_id).read_text(layout.REPORT)
        if text is None:
            raise RunNotFinished(run_id, self.state(run_id).phase.value)
        return text

    # -- cancel ----------------------------------------------------------------------------------

    def _write_canceled(self, record: RunRecord, why: str) -> RunState:
        state = record.update_state(status=RunStatus.CANCELED, gate_status=GateStatus.CANCELED, error=None)
        if record.read_bytes(layout.GATE) is None:
            gate = build_gate(GateEvidence(canceled=True, space_id=state.space.id, space_url=state.space.url))
            record.write_model(layout.GATE, gate)
        record.append_event(state.phase, f"run canceled: {why}", level="warning")
        return state

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
        # Canceled first, so a worker that looks at its state stops writing; then stop the job and the Space.
        state = self._write_canceled(record, "canceled by request")
        if state.job.id:
            self.backend.jobs.cancel(state.job.id)
        # In every phase: a Space cut off mid-build would be left half made, one cut off mid-check would serve
        # unverified. Not once the worker has written its own gate: that Space is what the run delivered.
        delivered = record.read_model(layout.GATE, Gate)
        if delivered is None or delivered.status is GateStatus.CANCELED:
            state = self._stop_run_space(record, state, "its run was canceled")
        # A bucket without locks (hf) lets a worker that was still running overwrite the state between our
        # writes: with the job stopped, settle it once more — unless the worker had already written its gate.
        gate = record.read_model(layout.GATE, Gate)
        if gate is not None and gate.status is not GateStatus.CANCELED:
            return CancelOutcome(record.update_state(force=True, job={"stage": JobStage.CANCELED}), canceled=True)
        if gate is None:
            record.write_model(layout.GATE, build_gate(GateEvidence(canceled=True, space_id=state.space.id,
                                                                    space_url=state.space.url)))
        return CancelOutcome(record.update_state(force=True, status=RunStatus.CANCELED,
                                                 gate_status=GateStatus.CANCELED, error=None,
                                                 job={"stage": JobStage.CANCELED}), canceled=True)

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
        record = self._record(run_id)
        kinds = [k for k, rel in layout.TRACE_KINDS.items() if record.bucket.size(record.key(rel)) is not None]
        agent = record.bucket.list(record.key(layout.REDACTED_TRACES))
        return kinds + [f"agent:{name.removesuffix('.jsonl')}" for name in agent if name.endswith(".jsonl")]

    def trace(self, run_id: str, kind: str = "worker", cursor: int = 0,
              max_bytes: int = DEFAULT_TRACE_PAGE) -> TracePage:
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
