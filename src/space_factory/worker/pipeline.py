"""The worker pipeline that runs inside a job (DESIGN §1, §5): analyse → recommend → generate → create
Space → upload → build → health → API → gate → report, leaving every artefact in the run record.

Every way out ends the run: with a gate (`finished`), or as `failed` with a clear error — never
left `running`. A cancel stops the job from outside; the service writes the `canceled` gate.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from space_factory.backends.base import Backend, SpaceRuntime
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.analysis import analyze_card
from space_factory.domain.backoff import backoff_delays
from space_factory.domain.errors import AgentUnavailable, FactoryError, NoTemplate, RateLimited
from space_factory.domain.gate import GateEvidence, build_gate
from space_factory.domain.hardware import is_paid
from space_factory.domain.ids import default_space_name, validate_space_name
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import (
    AttemptMode,
    AttemptRecord,
    Blocker,
    Gate,
    HardwareRequestRecord,
    ModelCardAnalysis,
    RunRequest,
    RuntimeRecommendation,
    TargetSpace,
    utcnow,
)
from space_factory.domain.stages import (
    SETTLED_SPACE_STAGES,
    SPACE_BUILD_ERROR_STAGES,
    SPACE_RUNTIME_ERROR_STAGES,
    SpaceStage,
)
from space_factory.domain.targets import SpaceTarget, admit, parse_app_url, parse_target
from space_factory.domain.tasks import task_spec
from space_factory.record import RunRecord, StateChanges
from space_factory.worker.agent.loop import AgentPlan, PiSession, agent_key, plan_agent, wants_repair
from space_factory.worker.agent.prompt import PromptFields, render_prompt
from space_factory.worker.agent.runner import PiOutcome
from space_factory.worker.agent.workspace import AgentWorkspace, AppTooLarge, DeclaredBlockers, files_changed
from space_factory.worker.checkup import check_app
from space_factory.worker.generate import generate_app
from space_factory.worker.origin import pin_app
from space_factory.worker.report import render_report
from space_factory.worker.revision import run_revision

logger = logging.getLogger(__name__)

_MODE_WORDS = {"write": "writes the app", "adapt": "adapts the template", "repair": "repairs the app",
               "template": "uses the template"}

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
        self.card_text = ""
        self.no_template: str | None = None
        self.hardware_requested = False
        self.agent_blockers: list[Blocker] = []

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
            elif self.request.mode == "revise":
                run_revision(self)  # worker/revision.py (DESIGN §12)
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
        self.stop_own_space(phase)
        final: StateChanges = {"status": RunStatus.FAILED, "error": clean}
        self.write_report(final)
        self.record.update_state(**final)  # last, as in `finish`
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
        final: StateChanges = {"status": RunStatus.FINISHED, "phase": Phase.DONE, "gate_status": gate.status}
        self.write_report(final)
        self.note(Phase.DONE, "done")
        # The terminal state is the run's last write: a follower that stops at terminal (CLI --wait, MCP follow,
        # a task, the dashboard) has every event and the report by then.
        self.record.update_state(**final)
        return RunStatus.FINISHED

    # -- build -----------------------------------------------------------------------------------

    def run_build(self) -> None:
        self.analyze()
        self.recommend()
        # Pi's sandboxed uid must reach its workspace under this directory, so it is traversable (0711) but not
        # listable; the factory home and the bucket stay closed to it.
        with tempfile.TemporaryDirectory(prefix="sf-workspace-") as tmp:
            scratch = Path(tmp)
            scratch.chmod(0o711)
            self.build_app(scratch)

    # -- agent ---------------------------------------------------------------------------------------

    def build_app(self, scratch: Path) -> None:
        """Generate the app, deploy it and gate it — with the coding agent in the loop when the plan says so
        (DESIGN §7, §11): Pi writes or adapts the app, the wrapper deploys and validates, and while the gate did
        not pass and attempts remain Pi repairs it with the evidence. The last attempt's evidence is the gate's."""
        assert self.analysis is not None
        workspace = AgentWorkspace(scratch / "app", self.redactor)
        has_template = self.generate(workspace.root)
        key = agent_key(self.settings, os.environ)
        plan = plan_agent(self.request.agent, has_template=has_template, custom_code=self.analysis.custom_code,
                          has_key=key is not None, hub=self.backend.name != "local")
        if plan.note:
            self.note(Phase.AGENT, plan.note, agent=self.request.agent)
        if not plan.uses_pi or key is None:
            if not has_template:
                self.block_without_app(self.no_template or "No template fits the model.")
                return
            if not plan.note:
                self.note(Phase.AGENT, f"coding agent: {self.request.agent} (the template is used as generated)")
            self.create_space()
            self.deploy_and_check(self.upload_workspace(workspace, scratch, 1))
            return
        self.agent_rounds(plan, workspace, scratch, key, has_template=has_template)

    def upload_workspace(self, workspace: AgentWorkspace, scratch: Path, n: int) -> SpaceRuntime:
        """Upload the app files of the workspace (not its data) to the run's Space."""
        folder = scratch / f"upload-{n}"
        folder.mkdir()
        try:
            workspace.export(folder)
        except AppTooLarge as exc:
            raise FactoryError(f"the app cannot be uploaded: {exc}") from None
        return self.upload_app(folder)

    def agent_rounds(self, plan: AgentPlan, workspace: AgentWorkspace, scratch: Path, key: str, *,
                     has_template: bool) -> None:
        """Up to `agent_attempts` rounds on one Space: Pi (or, first, the template) → deploy what changed →
        validate → gate, stopping at a gate another attempt cannot change or at the agent's declared blockers.
        Each round is a line of `agent/attempts.jsonl`; an attempt that changed nothing is not redeployed."""
        assert self.analysis is not None and self.recommendation is not None
        total = self.settings.agent_attempts
        self.create_space()
        assert self.target is not None
        workspace.write_inputs(card_text=self.card_text, analysis=self.analysis, plan=self.recommendation)
        session = PiSession(
            settings=self.settings, record=self.record, redactor=self.redactor, key=key,
            tools_dir=self.agent_tools_dir(), scratch=scratch,
            hidden=self.hidden_from_agent(), space_id=self.target.space_id, pi_deploys=plan.pi_deploys,
            note=self.agent_event)
        deployed = False
        gate: Gate | None = None
        for n in range(1, total + 1):
            started = utcnow()
            before = workspace.snapshot()
            outcome: PiOutcome | None = None
            mode: AttemptMode = "template"
            if n > 1 or plan.pi_first:
                mode = "repair" if deployed else ("adapt" if has_template else "write")
                if gate is not None and mode == "repair":
                    workspace.write_repair_evidence(gate=gate, test_result=self.evidence.test,
                                                    build_log_tail=self.evidence.build_log_tail,
                                                    run_log_tail=self.evidence.run_log_tail)
                self.step(Phase.AGENT, f"agent attempt {n}/{total}: Pi {_MODE_WORDS[mode]}", attempt=n,
                          attempts=total, mode=mode)
                prompt = render_prompt(PromptFields(
                    model=self.analysis.model, task=self.analysis.task, space_id=self.target.space_id, attempt=n,
                    attempts=total, mode=mode, hardware=self.recommendation.chosen, pi_deploys=plan.pi_deploys))
                self.record.write_text(layout.AGENT_PROMPT, prompt)
                try:
                    outcome = session.attempt(n, prompt, workspace.root)
                except AgentUnavailable as exc:
                    if self.request.agent != "auto":
                        raise
                    self.note(Phase.AGENT, f"{exc} — the template is used as generated", level="warning")
                    if not deployed and has_template:
                        mode, outcome = "template", None
                    else:
                        break
            changed = files_changed(before, workspace.snapshot())
            declared = workspace.declared_blockers() if outcome is not None else None
            if declared is not None:
                self.take_agent_blockers(declared)
            has_app = (workspace.root / "app.py").is_file()
            if has_app and (changed or not deployed):
                self.evidence = self.fresh_evidence()
                if outcome is not None and plan.pi_deploys and session.pushed:
                    self.step(Phase.UPLOADING, f"Pi pushed the app to {self.target.space_id} itself (pi-deploy)")
                    self.record_app_files(workspace)
                    runtime = self.backend.spaces.runtime(self.target.space_id)
                else:
                    if outcome is not None and plan.pi_deploys:
                        self.note(Phase.UPLOADING, "Pi did not push the app (pi-deploy): the factory uploads it",
                                  level="warning")
                    runtime = self.upload_workspace(workspace, scratch, n)
                self.deploy_and_check(runtime)
                deployed = True
            elif outcome is not None:
                self.note(Phase.AGENT, f"agent attempt {n}/{total}: nothing new to deploy", attempt=n,
                          level="warning")
            if deployed or self.evidence.blockers:
                gate = build_gate(self.evidence)  # what the evidence supports now (the agent's blockers count)
                self.note(Phase.AGENT, f"agent attempt {n}/{total}: gate {gate.status.value}", attempt=n,
                          gate_status=gate.status.value)
            self.record.append_jsonl(layout.AGENT_ATTEMPTS, AttemptRecord(
                n=n, mode=mode, started_at=started, ended_at=utcnow(),
                stop_reason=self.redactor.redact_text(outcome.stop_reason)[:64] if outcome and outcome.stop_reason
                else None,
                error=self.redactor.redact_text(outcome.error)[:2000] if outcome and outcome.error else None,
                timed_out=bool(outcome and outcome.timed_out), files_changed=changed[:500],
                blockers_declared=bool(declared and declared.blockers),
                gate_status=gate.status if gate is not None else None))
            if declared is not None and declared.blockers:
                break  # Pi's honest answer; a live pass still outranks it (the gate decides)
            if not plan.repairs or (gate is not None and not wants_repair(gate.status)) or self.record.is_terminal():
                break
        if not deployed and not self.evidence.blockers:
            self.block_without_app(self.no_template or "The coding agent wrote no app.py.")

    def agent_event(self, message: str, data: dict[str, object]) -> None:
        logger.info("[agent] %s", message)
        self.record.append_event(Phase.AGENT, self.redactor.redact_text(message), data=data)

    def take_agent_blockers(self, declared: DeclaredBlockers) -> None:
        """Pi's `TECHNICAL_BLOCKERS.json`, validated, becomes the run's (a later attempt's replaces it)."""
        if declared.problem is not None:
            self.note(Phase.AGENT, f"ignored the agent's blockers: {declared.problem}", level="warning")
        self.agent_blockers = declared.blockers
        self.evidence.blockers = list(self.agent_blockers)
        if declared.blockers:
            self.record.write_json(layout.BLOCKERS, {"blockers": [b.model_dump() for b in declared.blockers]})
            self.note(Phase.AGENT, f"the agent declared {len(declared.blockers)} blocker(s): "
                      + "; ".join(b.title for b in declared.blockers[:3]), level="warning")

    def fresh_evidence(self) -> GateEvidence:
        """Evidence for a new deploy: what holds for the whole run is kept, what the last deploy saw is not."""
        old = self.evidence
        return GateEvidence(
            blockers=list(self.agent_blockers), space_id=old.space_id, needs_gpu=old.needs_gpu,
            hardware_flavor=old.hardware_flavor, hardware_outcome=old.hardware_outcome,
            hardware_detail=old.hardware_detail,
            durations_ms={k: v for k, v in old.durations_ms.items() if k == "analyze"})

    def record_app_files(self, workspace: AgentWorkspace) -> None:
        """What Pi pushed itself (pi-deploy), as far as the workspace shows it, into the record's `generated/`."""
        for name in workspace.app_files():
            data = workspace.read_app_file(name)
            if data is not None:
                self.record.bucket.write(self.record.key(f"{layout.GENERATED}/{name}"), data)

    def agent_tools_dir(self) -> Path:
        """Where Pi is installed: the configured dir; in an HF job its scratch space (the job's home is root's,
        which Pi's own user could not enter); else the factory's data dir."""
        if self.settings.agent_tools_dir is None and self.backend.name == "hf":
            return Path(tempfile.gettempdir()) / f"space-factory-agent-tools-{os.getuid()}"
        return self.settings.pi_tools_dir

    def hidden_from_agent(self) -> list[Path]:
        """What the sandbox must keep from Pi: the bucket (every run's record) and the factory's data dir.

        The Pi install lives in the data dir by default (`<home>/agent-tools`), so then the data dir is not hidden
        whole: every other entry on the way down to the install is, and the dirs on that way become traversable
        but not listable (0711) where the worker may change them (as root).
        """
        home, tools = self.settings.home.absolute(), self.agent_tools_dir().absolute()
        root = getattr(self.record.bucket, "root", None)
        hidden = [root.absolute()] if isinstance(root, Path) else []
        if not tools.is_relative_to(home) or tools == home:
            return [home, *hidden]
        level = home
        for part in tools.relative_to(home).parts:
            if level.is_dir():
                hidden += [child for child in sorted(level.iterdir()) if child.name != part]
                if os.geteuid() == 0:
                    level.chmod(0o711)
            level = level / part
        return hidden

    def analyze(self) -> None:
        self.step(Phase.ANALYZING, f"reading the model card, config and files of {self.request.model}")
        started = time.monotonic()
        facts = self.backend.models.model_facts(self.request.model)
        self.card_text = facts.card_text  # for the coding agent, as a data file only
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
        """The task template's app into `workspace`; False (and a warning event) when no template fits."""
        assert self.analysis is not None and self.recommendation is not None
        self.step(Phase.GENERATING, f"generating a Gradio app for task {self.analysis.task or 'unknown'}")
        try:
            app = generate_app(self.analysis, self.recommendation, workspace)
        except NoTemplate as exc:
            self.no_template = str(exc)
            self.note(Phase.GENERATING, f"no template for task {self.analysis.task or 'unknown'!r}", level="warning")
            return False
        self.note(Phase.GENERATING, f"wrote {', '.join(app.files)} from the {app.template} template",
                  files=list(app.files))
        return True

    def block_without_app(self, reason: str) -> None:
        """No template and no agent-written app: the run's honest end is a factory blocker."""
        assert self.analysis is not None
        blocker = Blocker(
            kind="no_app",
            title=f"no template for task {self.analysis.task or 'unknown'!r}",
            detail=f"{reason} Pass a task with --task (space-factory build MODEL --task TASK) if the card is "
                   "wrong, build with --agent pi to let the coding agent write the app, or wire the app by hand "
                   "and check it with space-factory validate.",
            source="factory")
        self.record.write_json(layout.BLOCKERS, {"blockers": [blocker.model_dump()]})
        self.evidence.blockers.append(blocker)
        self.note(Phase.GENERATING, blocker.title, level="warning")

    def record_app(self, folder: Path) -> None:
        """The app as uploaded, into the record's `generated/`."""
        for name in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()):
            self.record.bucket.write(self.record.key(f"{layout.GENERATED}/{name}"), (folder / name).read_bytes())

    def create_space(self) -> SpaceRuntime:
        """Create the run's private Space (once per run) and let it read the model when that needs a token."""
        assert self.recommendation is not None and self.analysis is not None
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
        # Before the upload: the app downloads its model as soon as it starts.
        if self.backend.spaces.grant_model_access(space_id, self.analysis.model):
            self.note(Phase.CREATING_SPACE, f"{self.analysis.model} needs a token to download (gated or private): "
                      f"{space_id} got the owner's token as its HF_TOKEN secret, never in a file")
        return runtime

    def upload_app(self, folder: Path) -> SpaceRuntime:
        """Upload the whole `folder` to the run's Space (again, for a repair: the Space rebuilds); its runtime."""
        assert self.target is not None
        space_id = self.target.space_id
        self.step(Phase.UPLOADING, f"uploading the app to {space_id}")
        self.record_app(folder)
        commit = self.backend.spaces.upload(space_id, folder, run_id=self.request.run_id)
        if commit is not None:
            self.target.commit = commit
            self.record.write_model(layout.TARGET_SPACE, self.target)
        return self.backend.spaces.runtime(space_id)

    def deploy_and_check(self, runtime: SpaceRuntime) -> None:
        """Wait for the build of what was just deployed, then check the live app; the evidence lands on
        `self.evidence`, the Space's logs in the record."""
        runtime = self.wait_for_build(runtime)
        if runtime.stage not in SPACE_BUILD_ERROR_STAGES:
            if not self.hardware_requested:
                self.hardware_requested = True
                self.request_hardware_if_needed()
            if runtime.stage not in SPACE_RUNTIME_ERROR_STAGES and runtime.url:
                self.checkup(runtime.url, space_id=self.target.space_id if self.target else None)
        self.collect_space_logs()

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
        spec = task_spec(self.analysis.task, chat_template=self.analysis.chat_template)
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

    def write_report(self, final: StateChanges) -> None:
        """Write report.md for the state the run is about to end in (`final` applied to the stored state)."""
        state = self.record.state()
        if state is None:
            return
        if state.status not in TERMINAL_STATUSES:  # canceled meanwhile: the report says what the record says
            state = state.model_copy(update=dict(final))
        gate = self.record.read_model(layout.GATE, Gate)
        self.record.write_text(layout.REPORT, render_report(
            state, analysis=self.analysis, recommendation=self.recommendation, target=self.target, gate=gate))
