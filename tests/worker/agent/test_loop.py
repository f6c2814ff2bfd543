"""The agent loop: who writes the app, when Pi repairs, which key the proxy holds, how traces land — and the
pipeline's rounds with a fake Pi and a fake Space host (what is deployed when, what each attempt records, which
gate the run ends with). The real Pi runs in tests/e2e/test_agent_local.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import SecretStr

from space_factory.backends.base import Backend, SpaceRuntime
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.errors import AgentUnavailable
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.phases import TERMINAL_STATUSES
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import (
    ApiSchema,
    HealthResult,
    ModelCardAnalysis,
    OutputVerdict,
    PredictCall,
    RunRequest,
    RunState,
    RuntimeRecommendation,
    TestResult,
)
from space_factory.domain.stages import SpaceStage
from space_factory.record import RunRecord
from space_factory.worker import pipeline as pipeline_module
from space_factory.worker.agent.loop import AgentPlan, TraceFiler, agent_key, plan_agent, wants_repair
from space_factory.worker.agent.runner import PiOutcome
from space_factory.worker.pipeline import Pipeline

TOKEN = "hf_" + "Qwertyuiopasdfghjklzxcvbnm1234"


@pytest.mark.parametrize(("agent", "has_template", "custom_code", "plan"), [
    ("none", True, False, AgentPlan(pi_first=False, repairs=False)),
    ("none", False, True, AgentPlan(pi_first=False, repairs=False)),
    ("pi", True, False, AgentPlan(pi_first=True, repairs=True)),
    ("pi", False, False, AgentPlan(pi_first=True, repairs=True)),
    ("pi-deploy", True, False, AgentPlan(pi_first=True, repairs=True, pi_deploys=True)),
])
def test_explicit_agents(agent: str, has_template: bool, custom_code: bool, plan: AgentPlan) -> None:
    assert plan_agent(agent, has_template=has_template, custom_code=custom_code, has_key=True) == plan  # type: ignore[arg-type]


@pytest.mark.parametrize(("has_template", "custom_code", "pi_first"), [
    (True, False, False),  # the template first, Pi repairs if its gate does not pass
    (False, False, True),  # no template fits: Pi writes the app
    (True, True, True),  # custom code: Pi adapts the template
])
def test_auto_picks_pi_when_the_template_cannot_do_it_alone(has_template: bool, custom_code: bool,
                                                            pi_first: bool) -> None:
    plan = plan_agent("auto", has_template=has_template, custom_code=custom_code, has_key=True)
    assert plan.pi_first is pi_first and plan.repairs and not plan.pi_deploys and plan.note


def test_without_a_key_auto_stays_with_the_template_and_pi_fails_clearly() -> None:
    plan = plan_agent("auto", has_template=True, custom_code=True, has_key=False)
    assert not plan.uses_pi and plan.note and "no key" in plan.note
    for agent in ("pi", "pi-deploy"):
        with pytest.raises(AgentUnavailable, match="SPACE_FACTORY_AGENT_API_KEY"):
            plan_agent(agent, has_template=True, custom_code=False, has_key=False)  # type: ignore[arg-type]


def test_pi_deploy_without_a_hub_lets_the_factory_upload() -> None:
    plan = plan_agent("pi-deploy", has_template=True, custom_code=False, has_key=True, hub=False)
    assert plan.pi_first and not plan.pi_deploys and plan.note and "without a Hub" in plan.note


@pytest.mark.parametrize(("status", "again"), [
    (None, True), (GateStatus.BUILD_FAILED, True), (GateStatus.RUNTIME_FAILED, True), (GateStatus.HEALTH_ONLY, True),
    (GateStatus.FULL_INFERENCE_PASSED, False), (GateStatus.TECHNICAL_BLOCKER, False),
    (GateStatus.FULL_INFERENCE_CANDIDATE_HEALTH_PASSED, False), (GateStatus.MANUAL_HARDWARE_REQUIRED, False),
    (GateStatus.CANCELED, False),
])
def test_only_gates_an_attempt_can_change_are_repaired(status: GateStatus | None, again: bool) -> None:
    assert wants_repair(status) is again


def test_the_key_is_the_agent_key_else_the_hf_token_for_the_router_only(tmp_path: Path) -> None:
    router = Settings(home=tmp_path)
    other = Settings(home=tmp_path, agent_base_url="https://api.example.com/v1")
    assert agent_key(router, {"HF_TOKEN": TOKEN}) == TOKEN
    assert agent_key(router, {}) is None
    # The user's HF token never goes to a third-party endpoint.
    assert agent_key(other, {"HF_TOKEN": TOKEN}) is None
    keyed = Settings(home=tmp_path, agent_base_url="https://api.example.com/v1", agent_api_key=SecretStr("sk-x1"))
    assert agent_key(keyed, {"HF_TOKEN": TOKEN}) == "sk-x1"


def test_settings_read_the_agent_fields_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACE_FACTORY_AGENT_API_KEY", "sk-from-env")
    monkeypatch.setenv("SPACE_FACTORY_AGENT_ATTEMPTS", "2")
    monkeypatch.setenv("SPACE_FACTORY_AGENT_TIMEOUT", "5")
    settings = Settings(home=tmp_path)
    assert settings.agent_api_key is not None and settings.agent_api_key.get_secret_value() == "sk-from-env"
    assert "sk-from-env" not in repr(settings)
    assert (settings.agent_attempts, settings.agent_timeout) == (2, 5.0)
    assert settings.pi_tools_dir == tmp_path / "agent-tools"
    monkeypatch.setenv("SPACE_FACTORY_AGENT_TOOLS_DIR", str(tmp_path / "shared"))
    assert Settings(home=tmp_path).pi_tools_dir == tmp_path / "shared"


def test_traces_land_raw_and_redacted_and_stdout_is_appended(tmp_path: Path) -> None:
    record = RunRecord(DirectoryBucket(tmp_path / "bucket"), "20261201-000000-test-abcdef")
    filer = TraceFiler(record, Redactor([TOKEN]))
    session = tmp_path / "s.jsonl"
    session.write_text(json.dumps({"type": "message", "message": {"content": [{"text": f"env: HF_TOKEN={TOKEN}"}]}})
                       + "\n")
    assert filer.session(1, session) is False
    assert TOKEN in (record.read_text(f"{layout.RAW_TRACES}/attempt-1.jsonl") or "")
    redacted = record.read_text(f"{layout.REDACTED_TRACES}/attempt-1.jsonl") or ""
    assert TOKEN not in redacted and "[REDACTED]" in redacted
    filer.stdout(1, f'{{"type":"tool","text":"{TOKEN}"}}\n'.encode())
    filer.stdout(2, b'{"type":"agent_settled","aborted":false}')
    out = record.read_text(layout.PI_OUTPUT) or ""
    assert "=== agent attempt 1 ===" in out and "=== agent attempt 2 ===" in out and TOKEN not in out
    assert filer.session(3, None) is False  # Pi wrote no session: an empty trace, not a missing one
    assert record.read_text(f"{layout.REDACTED_TRACES}/attempt-3.jsonl") == ""


def test_a_trace_the_rescan_cannot_clean_is_withheld(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = RunRecord(DirectoryBucket(tmp_path / "bucket"), "20261201-000000-test-abcdef")
    redactor = Redactor()
    monkeypatch.setattr(redactor, "findings", lambda text: ["still secret"])
    session = tmp_path / "s.jsonl"
    session.write_text('{"type": "message"}\n')
    assert TraceFiler(record, redactor).session(1, session) is True
    line = json.loads(record.read_text(f"{layout.REDACTED_TRACES}/attempt-1.jsonl") or "{}")
    assert line["type"] == "withheld"


# -- the rounds -------------------------------------------------------------------------------------

ROUNDS_RUN_ID = "20261201-000000-tiny-abcdef"
GOOD = "# real inference\n"
Script = Callable[[Path], None]


class FakeSpaces:
    """Records uploads; the app 'works' when its app.py holds GOOD."""

    def __init__(self) -> None:
        self.uploads: list[dict[str, str]] = []
        self.created: list[str] = []

    def create(self, space_id: str, *, hardware: str | None, private: bool = True) -> SpaceRuntime:
        self.created.append(space_id)
        return SpaceRuntime(space_id, SpaceStage.NO_APP_FILE, hardware="cpu-basic")

    def upload(self, space_id: str, folder: Path, *, run_id: str) -> str | None:
        self.uploads.append({p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()})
        return f"commit-{len(self.uploads)}"

    def runtime(self, space_id: str) -> SpaceRuntime:
        return SpaceRuntime(space_id, SpaceStage.RUNNING, hardware="cpu-basic", url="http://127.0.0.1:1")

    def grant_model_access(self, space_id: str, model: str) -> bool:
        return False

    def logs(self, space_id: str, kind: str) -> str:
        return f"{kind} log"

    def stop(self, space_id: str) -> bool:
        return True


class FakeSession:
    """Plays Pi: attempt n runs `scripts[n]` on the workspace; `ok` False when the script is None."""

    instances: ClassVar[list[FakeSession]] = []

    def __init__(self, scripts: dict[int, Script | None], **kwargs: object) -> None:
        self.scripts = scripts
        self.prompts: list[str] = []
        self.pushed = False
        FakeSession.instances.append(self)

    def attempt(self, n: int, prompt: str, workspace: Path) -> PiOutcome:
        self.prompts.append(prompt)
        script = self.scripts.get(n)
        if script is not None:
            script(workspace)
        now = datetime.now(UTC)
        return PiOutcome(ok=script is not None, stop_reason="stop" if script else "error",
                         error=None if script else "500: scripted boom", timed_out=False, returncode=0, stdout=b"",
                         session_file=None, started_at=now, ended_at=now)


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Pipeline, FakeSpaces]]:
    def build(agent: str, scripts: dict[int, Script | None], *, task: str = "text-generation",
              custom_code: bool = False, key: str | None = "sk-test", attempts: int = 3) -> tuple[Pipeline, FakeSpaces]:
        FakeSession.instances.clear()
        monkeypatch.setattr(pipeline_module, "PiSession", lambda **kw: FakeSession(scripts, **kw))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        settings = Settings(home=tmp_path / "home", agent_api_key=key, agent_attempts=attempts)
        record = RunRecord(DirectoryBucket(tmp_path / "bucket"), ROUNDS_RUN_ID)
        request = RunRequest(run_id=ROUNDS_RUN_ID, model="factory-test/tiny", agent=agent, owner="tester")  # type: ignore[arg-type]
        record.write_state(RunState(run_id=ROUNDS_RUN_ID, model=request.model, owner="tester"))
        spaces = FakeSpaces()
        backend = Backend(name="local", owner="tester", bucket=record.bucket, jobs=None,  # type: ignore[arg-type]
                          spaces=spaces, models=None)  # type: ignore[arg-type]
        p = Pipeline(record, request, backend, settings, Redactor())
        p.analysis = ModelCardAnalysis(model="factory-test/tiny", task=task, custom_code=custom_code,
                                       has_template=task == "text-generation")
        p.recommendation = RuntimeRecommendation(primary="cpu-basic")
        monkeypatch.setattr(p, "checkup", lambda url, *, space_id: _check(p, spaces))
        return p, spaces
    return build


def _check(p: Pipeline, spaces: FakeSpaces) -> None:
    good = GOOD in spaces.uploads[-1].get("app.py", "")
    p.evidence.health = HealthResult(ok=True, url="http://127.0.0.1:1", status_code=200, attempts=1)
    p.evidence.api = ApiSchema(ok=True, chosen="/predict")
    p.evidence.test = TestResult(ok=good, api_name="/predict", call=PredictCall(output_excerpt="x"),
                                 verdict=OutputVerdict(ok=good, kind="text", detail="real" if good else "placeholder"))


def attempts(p: Pipeline) -> list[dict[str, object]]:
    text = p.record.read_text(layout.AGENT_ATTEMPTS) or ""
    return [json.loads(line) for line in text.splitlines()]


def fix(workspace: Path) -> None:
    (workspace / "app.py").write_text((workspace / "app.py").read_text() + GOOD)


def write_app(workspace: Path) -> None:
    (workspace / "app.py").write_text("app\n" + GOOD)
    (workspace / "helpers").mkdir()
    (workspace / "helpers/__init__.py").write_text("")


def run(p: Pipeline, tmp_path: Path) -> str:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    p.build_app(scratch)
    return p.finish().value


def test_auto_deploys_the_template_first_and_pi_repairs_it(make: Callable[..., tuple[Pipeline, FakeSpaces]],
                                                           tmp_path: Path) -> None:
    p, spaces = make("auto", {2: fix})
    assert run(p, tmp_path) == "finished"
    assert [(a["n"], a["mode"], a["gate_status"]) for a in attempts(p)] == [
        (1, "template", "health_only"), (2, "repair", "full_inference_passed")]
    assert len(spaces.uploads) == 2 and spaces.created == [p.target.space_id]  # one Space, uploaded again
    assert p.target is not None and p.target.commit == "commit-2"
    assert "attempt 2 of 3" in FakeSession.instances[0].prompts[0]
    gate = p.record.read_json(layout.GATE)
    assert gate is not None and gate["status"] == "full_inference_passed"


def test_auto_without_a_key_keeps_the_template_and_says_so(make: Callable[..., tuple[Pipeline, FakeSpaces]],
                                                           tmp_path: Path) -> None:
    p, spaces = make("auto", {2: fix}, key=None)
    run(p, tmp_path)
    assert not FakeSession.instances and len(spaces.uploads) == 1
    assert any("no key" in e.message for e in p.record.events())


def test_pi_without_a_key_fails_the_run(make: Callable[..., tuple[Pipeline, FakeSpaces]], tmp_path: Path) -> None:
    p, _ = make("pi", {}, key=None)
    with pytest.raises(AgentUnavailable):
        p.build_app(tmp_path)


def test_no_template_pi_writes_the_app_and_everything_it_created_is_uploaded(
        make: Callable[..., tuple[Pipeline, FakeSpaces]], tmp_path: Path) -> None:
    p, spaces = make("auto", {1: write_app}, task="image-to-image")
    run(p, tmp_path)
    [attempt] = attempts(p)
    assert attempt["mode"] == "write" and attempt["gate_status"] == "full_inference_passed"
    assert attempt["files_changed"] == ["app.py", "helpers/__init__.py"]
    assert set(spaces.uploads[0]) == {"app.py", "helpers/__init__.py"}  # no .factory/ data
    assert p.record.read_text(f"{layout.GENERATED}/helpers/__init__.py") == ""
    assert "No template fits" in (p.record.read_text(layout.AGENT_PROMPT) or "")


def test_a_failed_pi_attempt_still_deploys_the_untouched_template_once(
        make: Callable[..., tuple[Pipeline, FakeSpaces]], tmp_path: Path) -> None:
    p, spaces = make("pi", {1: None, 2: None, 3: None})
    run(p, tmp_path)
    rows = attempts(p)
    assert [(a["mode"], a["gate_status"]) for a in rows] == [
        ("adapt", "health_only"), ("repair", "health_only"), ("repair", "health_only")]
    assert all(a["error"] == "500: scripted boom" for a in rows)
    assert len(spaces.uploads) == 1  # attempts that changed nothing are not redeployed


def test_custom_code_makes_auto_adapt_first(make: Callable[..., tuple[Pipeline, FakeSpaces]], tmp_path: Path) -> None:
    p, _ = make("auto", {1: fix}, custom_code=True)
    run(p, tmp_path)
    assert [(a["mode"], a["gate_status"]) for a in attempts(p)] == [("adapt", "full_inference_passed")]


def test_declared_blockers_end_the_loop_and_a_live_pass_outranks_them(
        make: Callable[..., tuple[Pipeline, FakeSpaces]], tmp_path: Path) -> None:
    def declare(workspace: Path) -> None:
        fix(workspace)
        (workspace / "TECHNICAL_BLOCKERS.json").write_text(json.dumps({"blockers": [{"title": "needs an H100"}]}))

    p, spaces = make("pi", {1: declare})
    run(p, tmp_path)
    [attempt] = attempts(p)
    assert attempt["blockers_declared"] is True
    gate = p.record.read_json(layout.GATE)
    assert gate is not None and gate["status"] == "full_inference_passed"
    assert [b["source"] for b in gate["blockers"]] == ["agent"]
    assert "TECHNICAL_BLOCKERS.json" not in spaces.uploads[0]


def test_no_app_at_all_ends_with_the_factory_blocker(make: Callable[..., tuple[Pipeline, FakeSpaces]],
                                                     tmp_path: Path) -> None:
    p, spaces = make("pi", {1: None, 2: None}, task="image-to-image", attempts=2)
    run(p, tmp_path)
    assert not spaces.uploads and [a["gate_status"] for a in attempts(p)] == [None, None]
    gate = p.record.read_json(layout.GATE)
    assert gate is not None and gate["status"] == "technical_blocker"
    assert [b["source"] for b in gate["blockers"]] == ["factory"]


def _watch_terminal_write(p: Pipeline, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """What the record holds at the moment the run's state turns terminal (a follower stops reading then)."""
    seen: dict[str, object] = {}
    write_state = p.record.write_state

    def observed(state: RunState) -> None:
        if state.status in TERMINAL_STATUSES and not seen:
            seen["events"] = [event.message for event in p.record.events(0)]
            seen["report"] = p.record.read_text(layout.REPORT) or ""
        write_state(state)

    monkeypatch.setattr(p.record, "write_state", observed)
    return seen


def test_a_finished_runs_terminal_state_is_written_after_its_last_event_and_its_report(
        make: Callable[..., tuple[Pipeline, FakeSpaces]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, _ = make("none", {})
    seen = _watch_terminal_write(p, monkeypatch)
    assert run(p, tmp_path) == "finished"
    events = [event.message for event in p.record.events(0)]
    assert seen["events"] == events and events[-1] == "done"
    assert "**Status:** finished (phase done)" in str(seen["report"])


def test_a_failed_runs_terminal_state_is_written_after_its_last_event_and_its_report(
        make: Callable[..., tuple[Pipeline, FakeSpaces]], monkeypatch: pytest.MonkeyPatch) -> None:
    p, _ = make("none", {})
    seen = _watch_terminal_write(p, monkeypatch)
    assert p.fail("the model could not be loaded").value == "failed"
    events = [event.message for event in p.record.events(0)]
    assert seen["events"] == events and events[-1] == "the model could not be loaded"
    assert "**Status:** failed" in str(seen["report"])
