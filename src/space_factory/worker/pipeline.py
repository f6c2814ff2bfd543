"""The worker pipeline that runs inside a job (DESIGN §1, §5): analyse → recommend → generate → create
Space → upload → build → health → API → gate → report, leaving every artefact in the run record.

Every way out ends the run: with a gate (`finished`), or as `failed` with a clear error — never
left `running`. A cancel stops the job from outside; the service writes the `canceled` gate.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from space_factory.backends.base import Backend, SpaceRuntime
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.analysis import analyze_card
from space_factory.domain.backoff import backoff_delays
from space_factory.domain.errors import FactoryError, RateLimited
from space_factory.domain.gate import GateEvidence, build_gate
from space_factory.domain.hardware import is_paid
from space_factory.domain.ids import default_space_name, validate_space_name
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import (
    Blocker,
    Gate,
    HardwareRequestRecord,
    ModelCardAnalysis,
    RunRequest,
    RuntimeRecommendation,
    TargetSpace,
)
from space_factory.domain.stages import (
    SETTLED_SPACE_STAGES,
    SPACE_BUILD_ERROR_STAGES,
    SPACE_RUNTIME_ERROR_STAGES,
    SpaceStage,
)
from space_factory.domain.targets import SpaceTarget, admit, parse_app_url, parse_target
from space_factory.domain.tasks import task_spec
from space_factory.record import RunRecord
from space_factory.worker.checkup import check_app
from space_factory.worker.generate import NoTemplate, generate_app
from space_factory.worker.origin import pin_app
from space_factory.worker.report import render_report

logger = logging.getLogger(__name__)

# A build is watched quickly at first and after each stage change, then every BUILD_POLL_CEILING_SECONDS: a
# 5-minute build costs about 60 runtime reads instead of 600 (issue 13, the Hub's request budget).
BUILD_POLL_SECONDS = 0.5
BUILD_POLL_CEILING_SECONDS = 5.0
# After a read the Hub still refused (429) once the client's own retries were spent: let its window pass.
RATE_LIMITED_WAIT_SECONDS = 30.0
_LOG_TAIL = 4000


class Pipeline:
    """One run of the worker.

    Args:
        record: the run's record (the worker's only output).
        request: what was asked (`request.json`).
        backend: where Spaces are made and models are read.
        settings: timeouts.
        redactor: cleans every log and message before it is stored.
    """

    def __init__(self, record: RunRecord, request: RunRequest, backend: Backend, settings: Settings,
                 redactor: Redactor) -> None:
        self.record = record
        self.request = request
        self.backend = backend
        self.settings = settings
        self.redactor = redactor
        self.evidence = GateEvidence()
        self.analysis: ModelCardAnalysis | None = None
        self.recommendation: RuntimeRecommendation | None = None
        self.target: TargetSpace | None = None

    # -- helpers ---------------------------------------------------------------------------------

    def step(self, phase: Phase, message: str, **data: object) -> None:
        logger.info("[%s] %s", phase.value, message)
        self.record.mark_running(phase, self.redactor.redact_text(message), **data)

    def note(self, phase: Phase, message: str, *, level: str = "info", **data: object) -> None:
        logger.info("[%s] %s", phase.value, message)
        self.record.append_event(phase, self.redactor.redact_text(message), level=level,  # type: ignore[arg-type]
                                 data=dict(data))

    def timed(self, name: str, started: float) -> None:
        self.evidence.durations_ms[name] = int((time.monotonic() - started) * 1000)

    # -- entry -----------------------------------------------------------------------------------

    def run(self) -> RunStatus:
        """Run every phase; return the run's final status. Raises nothing a run could record."""
        try:
            self.step(Phase.STARTING, f"worker started for {self.request.model} ({self.request.mode})",
                      backend=self.backend.name)
            if self.request.mode == "validate":
                self.run_validation()
            else:
                self.run_build()
            return self.finish()
        except FactoryError as exc:
            return self.fail(str(exc))
        except Exception:
            # The exception's text may hold server paths: the traceback goes to worker.log, the run gets our words.
            logger.exception("worker crashed")
            return self.fail("internal error in the worker: a bug, not a problem with the model. The worker log "
                             "has the details (fetch_trace_redacted kind 'worker', or space-factory trace RUN_ID).")

    def fail(self, message: str) -> RunStatus:
        clean = self.redactor.redact_text(message)
        state = self.record.state()
        phase = state.phase if state else Phase.STARTING
        self.record.append_event(phase, clean, level="error")
        self.collect_space_logs()
        self.record.update_state(status=RunStatus.FAILED, error=clean)
        self.stop_own_space(phase)
        self.write_report()
        return RunStatus.FAILED

    def stop_own_space(self, phase: Phase) -> None:
        """A failed run leaves nothing running: stop the Space this run created (a validation run made none)."""
        if self.target is None:
            return
        try:
            if self.backend.spaces.stop(self.target.space_id):
                self.note(phase, f"stopped {self.target.space_id}: the run failed", level="warning")
        except (OSError, FactoryError):
            logger.warning("could not stop the Space of a failed run")

    def finish(self) -> RunStatus:
        if self.record.is_terminal():  # canceled from outside while we worked
            state = self.record.state()
            return state.status if state else RunStatus.CANCELED
        self.step(Phase.GATING, "classifying the outcome with the full-inference gate")
        self.collect_space_logs()
        gate = build_gate(self.evidence)
        self.record.write_model(layout.GATE, gate)
        self.note(Phase.GATING, f"gate: {gate.status.value} — {gate.summary}", gate_status=gate.status.value)
        self.step(Phase.REPORTING, "writing report.md")
        self.record.update_state(status=RunStatus.FINISHED, phase=Phase.DONE, gate_status=gate.status)
        self.write_report()
        self.note(Phase.DONE, "done")
        return RunStatus.FINISHED

    # -- build -----------------------------------------------------------------------------------

    def run_build(self) -> None:
        self.analyze()
        self.recommend()
        with tempfile.TemporaryDirectory(prefix="sf-workspace-") as tmp:
            workspace = Path(tmp) / "app"
            if not self.generate(workspace):
                return
            self.note(Phase.AGENT, f"coding agent: {self.request.agent} (the template is used as generated)")
            runtime = self.create_and_upload(workspace)
        runtime = self.wait_for_build(runtime)
        if runtime.stage in SPACE_BUILD_ERROR_STAGES:
            return
        self.request_hardware_if_needed()
        if runtime.stage in SPACE_RUNTIME_ERROR_STAGES or not runtime.url:
            return
        self.checkup(runtime.url, space_id=self.target.space_id if self.target else None)

    def analyze(self) -> None:
        self.step(Phase.ANALYZING, f"reading the model card, config and files of {self.request.model}")
        started = time.monotonic()
        facts = self.backend.models.model_facts(self.request.model)
        self.analysis = analyze_card(facts, task_override=self.request.options.task)
        self.timed("analyze", started)
        self.record.write_model(layout.ANALYSIS, self.analysis)
        a = self.analysis
        self.note(Phase.ANALYZING, f"task {a.task or 'unknown'} ({a.task_source}), library {a.library or 'unknown'}, "
                  f"{a.params if a.params is not None else '?'} parameters",
                  task=a.task, params=a.params, has_template=a.has_template)

    def recommend(self) -> None:
        assert self.analysis is not None
        self.step(Phase.RECOMMENDING, "choosing hardware (ZeroGPU first, paid GPU only when allowed)")
        self.recommendation = recommend_runtime(
            self.analysis, requested=self.request.options.hardware,
            allow_paid_fallback=self.request.options.allow_paid_fallback,
            zerogpu_allowed=self.backend.zerogpu_allowed, backend=self.backend.name)
        self.record.write_model(layout.RECOMMENDATION, self.recommendation)
        r = self.recommendation
        self.evidence.needs_gpu = r.needs_gpu
        self.note(Phase.RECOMMENDING, f"primary {r.primary}, fallback {r.fallback or 'none'}",
                  primary=r.primary, fallback=r.fallback, needs_gpu=r.needs_gpu)

    def generate(self, workspace: Path) -> bool:
        assert self.analysis is not None and self.recommendation is not None
        self.step(Phase.GENERATING, f"generating a Gradio app for task {self.analysis.task or 'unknown'}")
        try:
            app = generate_app(self.analysis, self.recommendation, workspace)
        except NoTemplate as exc:
            blocker = Blocker(
                title=f"no template for task {self.analysis.task or 'unknown'!r}",
                detail=f"{exc} Pass a task with --task (space-factory build MODEL --task TASK) if the card is "
                       "wrong, or wire the app by hand and check it with space-factory validate.",
                source="factory")
            self.record.write_json(layout.BLOCKERS, {"blockers": [blocker.model_dump()]})
            self.evidence.blockers.append(blocker)
            self.note(Phase.GENERATING, blocker.title, level="warning")
            return False
        for name in sorted(p.relative_to(workspace).as_posix() for p in workspace.rglob("*") if p.is_file()):
            self.record.bucket.write(self.record.key(f"{layout.GENERATED}/{name}"), (workspace / name).read_bytes())
        self.note(Phase.GENERATING, f"wrote {', '.join(app.files)} from the {app.template} template",
                  files=list(app.files))
        return True

    def create_and_upload(self, workspace: Path) -> SpaceRuntime:
        assert self.recommendation is not None
        name = validate_space_name(self.request.options.space_name) if self.request.options.space_name \
            else default_space_name(self.request.model, self.request.run_id)
        space_id = f"{self.backend.owner}/{name}"
        self.step(Phase.CREATING_SPACE, f"creating the private Space {space_id}")
        hardware = self.recommendation.chosen
        runtime = self.backend.spaces.create(space_id, hardware=hardware, private=True)
        self.target = TargetSpace(space_id=space_id, private=True, hardware_requested=hardware,
                                  hardware_current=runtime.hardware)
        self.record.write_model(layout.TARGET_SPACE, self.target)
        self.evidence.space_id = space_id
        self.record.update_state(space={"id": space_id, "stage": runtime.stage, "hardware": runtime.hardware})
        assert self.analysis is not None
        # Before the upload: the app downloads its model as soon as it starts.
        if self.backend.spaces.grant_model_access(space_id, self.analysis.model):
            self.note(Phase.CREATING_SPACE, f"{self.analysis.model} needs a token to download (gated or private): "
                      f"{space_id} got the owner's token as its HF_TOKEN secret, never in a file")
        self.step(Phase.UPLOADING, f"uploading the app to {space_id}")
        self.backend.spaces.upload(space_id, workspace, run_id=self.request.run_id)
        return self.backend.spaces.runtime(space_id)

    def wait_for_build(self, runtime: SpaceRuntime) -> SpaceRuntime:
        self.step(Phase.BUILDING, f"waiting for {runtime.space_id} to build and start")
        started = time.monotonic()
        deadline = started + self.settings.space_startup_timeout
        last_stage = None
        delays = backoff_delays(BUILD_POLL_SECONDS, BUILD_POLL_CEILING_SECONDS)
        while True:
            try:
                runtime = self.backend.spaces.runtime(runtime.space_id)
            except RateLimited:
                if time.monotonic() + RATE_LIMITED_WAIT_SECONDS > deadline:
                    raise
                self.note(Phase.BUILDING, f"the Hub is rate-limiting this token; reading the Space again in "
                          f"{RATE_LIMITED_WAIT_SECONDS:.0f} s", level="warning")
                time.sleep(RATE_LIMITED_WAIT_SECONDS)
                continue
            if runtime.stage != last_stage:
                last_stage = runtime.stage
                delays = backoff_delays(BUILD_POLL_SECONDS, BUILD_POLL_CEILING_SECONDS)  # a new stage: look soon
                self.record.update_state(space={"stage": runtime.stage, "url": runtime.url,
                                                "hardware": runtime.hardware})
                self.note(Phase.BUILDING, f"Space stage {runtime.stage}", stage=runtime.stage)
            if runtime.stage in SETTLED_SPACE_STAGES:
                break
            remaining = deadline - time.monotonic()
            if remaining < 0:
                self.note(Phase.BUILDING, f"the Space did not start within {self.settings.space_startup_timeout:.0f} s",
                          level="error")
                break
            time.sleep(min(next(delays), remaining + 0.01))
        self.timed("build", started)
        self.evidence.space_stage = runtime.stage
        self.evidence.space_url = runtime.url
        # What the Hub granted, known once the Space runs; a local Space runs on this machine's CPU by design.
        if runtime.stage == SpaceStage.RUNNING and self.backend.name != "local":
            self.evidence.space_hardware_requested = runtime.requested_hardware
            self.evidence.space_hardware_current = runtime.hardware
        if runtime.message:
            level = "info" if runtime.stage == SpaceStage.RUNNING else "warning"
            self.note(Phase.BUILDING, runtime.message, level=level)
        return runtime

    def request_hardware_if_needed(self) -> None:
        r, target = self.recommendation, self.target
        if r is None or target is None:
            return
        wanted = r.chosen
        if not r.needs_gpu or not wanted or wanted == target.hardware_current:
            return
        self.step(Phase.REQUESTING_HARDWARE, f"requesting {wanted} for {target.space_id}")
        result = self.backend.spaces.request_hardware(target.space_id, wanted)
        record = HardwareRequestRecord(flavor=wanted, outcome=result.outcome, detail=result.detail,
                                       hourly_cost_usd=r.hourly_cost_usd if is_paid(wanted) else None)
        self.record.append_jsonl(layout.HARDWARE_REQUESTS, record)
        self.evidence.hardware_flavor, self.evidence.hardware_outcome = wanted, result.outcome
        self.evidence.hardware_detail = result.detail
        self.note(Phase.REQUESTING_HARDWARE, f"hardware {wanted}: {result.outcome} — {result.detail}",
                  outcome=result.outcome)

    # -- validation ------------------------------------------------------------------------------

    def run_validation(self) -> None:
        # `Factory.validate` parsed and admitted the target; the worker reads it with the same parser.
        target = parse_target(self.request.model)
        space_id = target.space_id if isinstance(target, SpaceTarget) else None
        url = self.request.options.target or ""
        if space_id is not None:
            # The Space's own host as its host reports it now: the one place a private Space's token may go.
            url = self.backend.spaces.runtime(space_id).url or url
        task = self.request.options.task
        self.analysis = ModelCardAnalysis(model=self.request.model, task=task,
                                          task_source="override" if task else "unknown")
        self.evidence.space_id = space_id
        self.evidence.space_url = url
        self.evidence.space_stage = SpaceStage.RUNNING
        self.record.update_state(space={"id": space_id, "url": url})
        self.checkup(url, space_id=space_id, health_timeout=self.settings.validate_timeout)

    def checkup(self, url: str, *, space_id: str | None, health_timeout: float | None = None) -> None:
        """The live check of the app at `url` (`worker.checkup`); its evidence lands on `self.evidence`.

        `space_id` names the Space whose own host `url` is: only then do the backend's auth headers (a
        private Space's token) go with the requests. A URL without a Space passes the edge's address rule.
        """
        assert self.analysis is not None
        spec = task_spec(self.analysis.task)
        app = parse_app_url(url)
        if space_id is None:
            admit(app, self.backend.name)
        pinned = pin_app(app, loopback_only=self.backend.name == "local",
                         headers=self.backend.spaces.auth_headers() if space_id is not None else None)
        self.step(Phase.VALIDATING_HEALTH, f"checking GET /health on {url}")
        started = time.monotonic()

        def crash_reason() -> str | None:
            if space_id is None:
                return None
            runtime = self.backend.spaces.runtime(space_id)
            return f"the Space is {runtime.stage}" if runtime.stage in SPACE_RUNTIME_ERROR_STAGES else None

        def on_step(phase: str, message: str) -> None:
            self.step(Phase(phase), message)

        evidence = check_app(
            pinned, spec, self.analysis.sample_inputs, evidence=self.evidence, redactor=self.redactor,
            health_timeout=health_timeout or self.settings.space_startup_timeout,
            predict_timeout=self.settings.predict_timeout, space_id=space_id, crash_reason=crash_reason,
            on_step=on_step)
        self.timed("health", started)
        health = evidence.health
        assert health is not None  # check_app always records the health step
        self.record.write_model(layout.HEALTH, health)
        if evidence.api is not None:
            self.record.write_model(layout.API_SCHEMA, evidence.api)
        if evidence.test is not None:
            self.record.write_model(layout.TEST_RESULT, evidence.test)
            if evidence.test.call is not None:
                evidence.durations_ms["predict"] = evidence.test.call.latency_ms or 0
        if space_id is not None and not health.ok:
            evidence.space_stage = self.backend.spaces.runtime(space_id).stage
        verdict = evidence.test.verdict if evidence.test else None
        self.note(Phase.VALIDATING_API, f"health {'ok' if health.ok else 'failed'}; "
                  f"output {'valid' if verdict and verdict.ok else 'not verified'}"
                  + (f": {verdict.detail}" if verdict else ""))

    # -- records ---------------------------------------------------------------------------------

    def collect_space_logs(self) -> None:
        space_id = self.evidence.space_id
        if space_id is None:
            return
        for kind, key in (("build", layout.SPACE_BUILD_LOG), ("run", layout.SPACE_RUN_LOG)):
            try:
                text = self.redactor.redact_text(self.backend.spaces.logs(space_id, kind))
            except (OSError, ValueError, FactoryError):
                continue
            self.record.write_text(key, text)
            tail = text[-_LOG_TAIL:]
            if kind == "build":
                self.evidence.build_log_tail = tail
            else:
                self.evidence.run_log_tail = tail

    def write_report(self) -> None:
        state = self.record.state()
        if state is None:
            return
        gate = self.record.read_model(layout.GATE, Gate)
        self.record.write_text(layout.REPORT, render_report(
            state, analysis=self.analysis, recommendation=self.recommendation, target=self.target, gate=gate))
