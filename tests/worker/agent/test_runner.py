"""run_pi with the real Pi CLI on real Node against the scripted model: what it writes and runs, how each failure
of the model server shows, the wall-clock bound, and the environment Pi is given."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pytest

from space_factory.domain.errors import AgentUnavailable
from space_factory.worker.agent.install import PiInstall
from space_factory.worker.agent.proxy import DUMMY_KEY
from space_factory.worker.agent.runner import PiInvocation, PiOutcome, environment, run_pi
from tests.support.scripted_model import Fault, ScriptedModel, Text, bash, write

MODEL = "scripted-model"


def attempt(install: PiInstall, model: ScriptedModel, root: Path, *, timeout: float = 90.0,
            env: Mapping[str, str] | None = None) -> PiOutcome:
    return run_pi(install, PiInvocation(workspace=root / "ws", prompt="Build the app.", base_url=model.base_url,
                                        model=MODEL, timeout=timeout, session_dir=root / "sessions",
                                        agent_dir=root / "agent", env=env or {}))


def tagged_processes(tag: str) -> list[int]:
    """Live processes whose environment holds `SF_TEST_TAG=<tag>` (every tool child inherits Pi's env)."""
    found = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if f"SF_TEST_TAG={tag}".encode() in (proc_dir / "environ").read_bytes().split(b"\0"):
                found.append(int(proc_dir.name))
        except OSError:
            continue
    return found


def test_pi_writes_the_file_and_runs_bash_and_the_attempt_is_ok(pi_install: PiInstall, tmp_path: Path) -> None:
    steps = [write("app.py", "def add(a, b):\n    return a + b\n"), bash("echo $((6 * 7)) > ran.txt; cat ran.txt"),
             Text("All done.")]
    with ScriptedModel(steps) as model:
        outcome = attempt(pi_install, model, tmp_path)
    assert outcome.ok, outcome.error
    assert (outcome.stop_reason, outcome.error, outcome.timed_out, outcome.returncode) == ("stop", None, False, 0)
    assert (tmp_path / "ws" / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (tmp_path / "ws" / "ran.txt").read_text() == "42\n"
    assert len(model.requests) == 3
    assert model.requests[2].tool_results[-1].strip() == "42"
    first = model.requests[0]
    assert first.path == "/v1/chat/completions"
    assert first.authorization == f"Bearer {DUMMY_KEY}"
    assert first.body["model"] == MODEL and first.body["stream"] is True
    assert {tool["function"]["name"] for tool in first.body["tools"]} == {"read", "write", "edit", "bash"}
    assert outcome.session_file is not None and outcome.session_file.parent == tmp_path / "sessions"
    assert outcome.session_file.read_text().startswith('{"type":"session"')
    last = json.loads(outcome.stdout.splitlines()[-1])
    assert last == {"type": "agent_settled", "aborted": False}
    assert outcome.started_at <= outcome.ended_at and outcome.first_request_s is None


def test_an_http_500_fails_the_attempt_with_the_servers_error(pi_install: PiInstall, tmp_path: Path) -> None:
    with ScriptedModel([Fault("http500")]) as model:
        outcome = attempt(pi_install, model, tmp_path)
    assert not outcome.ok and not outcome.timed_out
    assert outcome.returncode == 0  # json mode exits 0 on a model failure: the verdict comes from the messages
    assert outcome.stop_reason == "error"
    assert outcome.error is not None and outcome.error.startswith("500") and "scripted boom" in outcome.error
    assert len(model.requests) == 1  # no retries
    assert outcome.session_file is not None


def test_a_malformed_frame_fails_the_attempt_and_its_partial_tool_call_never_runs(pi_install: PiInstall,
                                                                                  tmp_path: Path) -> None:
    with ScriptedModel([Fault("malformed")]) as model:
        outcome = attempt(pi_install, model, tmp_path)
    assert not outcome.ok and outcome.stop_reason == "error"
    assert outcome.error is not None and "malformed" in outcome.error
    assert not (tmp_path / "ws" / "x.py").exists()


@pytest.mark.parametrize("fault", ["hang", "stall"])
def test_a_silent_server_is_bounded_and_nothing_pi_started_survives(fault: Literal["hang", "stall"],
                                                                    pi_install: PiInstall, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    # The background sleep is in a session of its own (Pi's bash tool detaches every command), so only the
    # runner's sweep can end it.
    steps = [bash("sleep 600 >/dev/null 2>&1 & echo started"), Fault(fault, seconds=120)]
    with ScriptedModel(steps) as model:
        outcome = attempt(pi_install, model, tmp_path, timeout=10.0, env={"SF_TEST_TAG": tag})
        assert len(model.requests) == 2 and not model.closed  # ended by the runner, not by the server giving up
    assert outcome.timed_out and not outcome.ok and outcome.returncode is None
    assert outcome.error is not None and "did not finish within 10 s" in outcome.error
    assert tagged_processes(tag) == []
    assert b'"type":"session"' in outcome.stdout


def test_a_clean_exit_still_ends_what_the_tools_left_running(pi_install: PiInstall, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    with ScriptedModel([bash("nohup sleep 600 >/dev/null 2>&1 & echo started"), Text("done")]) as model:
        outcome = attempt(pi_install, model, tmp_path, env={"SF_TEST_TAG": tag})
    assert outcome.ok, outcome.error
    assert "started" in model.requests[1].tool_results[-1]
    assert tagged_processes(tag) == []


def test_pi_gets_no_token_even_when_the_worker_has_one(pi_install: PiInstall, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hf_" + "Zq7" * 11 + "x"
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("SOME_WORKER_SETTING", "worker-only-value")
    with ScriptedModel([bash("env"), Text("done")]) as model:
        outcome = attempt(pi_install, model, tmp_path)
    assert outcome.ok, outcome.error
    seen = model.requests[1].tool_results[-1]
    assert "PI_CODING_AGENT_DIR=" in seen  # the env really was printed
    assert secret not in seen and "HF_TOKEN" not in seen and "worker-only-value" not in seen
    assert secret.encode() not in outcome.stdout
    assert all(secret not in json.dumps(request.body) for request in model.requests)


def test_a_command_that_cannot_start_makes_the_agent_unavailable(pi_install: PiInstall, tmp_path: Path) -> None:
    broken = replace(pi_install, node=tmp_path / "no-node")
    with ScriptedModel([]) as model, pytest.raises(AgentUnavailable, match="Pi could not be started"):
        attempt(broken, model, tmp_path)


def test_a_real_secret_in_the_extra_env_is_refused(pi_install: PiInstall, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hf_" + "Kp4" * 11 + "y"
    monkeypatch.setenv("HF_TOKEN", secret)
    call = PiInvocation(workspace=tmp_path, prompt="p", base_url="http://127.0.0.1:9/v1", model=MODEL, timeout=1,
                        session_dir=tmp_path, agent_dir=tmp_path, env={"HF_TOKEN": secret})
    with pytest.raises(ValueError, match="HF_TOKEN") as refused:
        environment(pi_install, call, tmp_path, tmp_path, "tag")
    assert secret not in str(refused.value)
    dummy = PiInvocation(workspace=tmp_path, prompt="p", base_url="http://127.0.0.1:9/v1", model=MODEL, timeout=1,
                         session_dir=tmp_path, agent_dir=tmp_path, env={"HF_TOKEN": "dummy", "PATH": "/extra"})
    env = environment(pi_install, dummy, tmp_path, tmp_path, "tag")
    assert env["HF_TOKEN"] == "dummy" and env["PATH"].startswith(f"/extra:{pi_install.bin_dir}:")


@dataclass
class _FakeSandbox:
    """What run_pi needs of `isolation.Sandbox`: prepare the writable dirs, wrap the command, Popen kwargs."""

    uid: int | None = None
    prepared: list[Path] = field(default_factory=list)

    def prepare(self, paths_writable: list[Path]) -> None:
        self.prepared.extend(paths_writable)
        if self.uid is not None:
            for path in paths_writable:
                for entry in [path, *path.rglob("*")]:
                    os.chown(entry, self.uid, self.uid)

    def wrap(self, cmd: list[str]) -> list[str]:
        return ["/usr/bin/env", "SF_WRAPPED=yes", *cmd]

    def popen_kwargs(self) -> dict[str, Any]:
        return {} if self.uid is None else {"user": self.uid, "group": self.uid, "extra_groups": []}


def _sandboxed(install: PiInstall, model: ScriptedModel, root: Path, sandbox: _FakeSandbox) -> PiOutcome:
    return run_pi(install, PiInvocation(workspace=root / "ws", prompt="Build the app.", base_url=model.base_url,
                                        model=MODEL, timeout=90, session_dir=root / "sessions",
                                        agent_dir=root / "agent", sandbox=sandbox))  # type: ignore[arg-type]


def test_the_sandbox_prepares_the_dirs_and_wraps_the_command(pi_install: PiInstall, tmp_path: Path) -> None:
    sandbox = _FakeSandbox()
    with ScriptedModel([bash("echo wrapped=$SF_WRAPPED"), Text("done")]) as model:
        outcome = _sandboxed(pi_install, model, tmp_path, sandbox)
    assert outcome.ok, outcome.error
    assert "wrapped=yes" in model.requests[1].tool_results[-1]
    assert set(sandbox.prepared) >= {tmp_path / "ws", tmp_path / "sessions", tmp_path / "agent"}


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
def test_pi_runs_as_an_unprivileged_uid_from_the_shared_install(pi_install: PiInstall) -> None:
    nobody = 65534
    root = Path(tempfile.mkdtemp(prefix="sf-pi-uid-"))
    root.chmod(0o711)  # traversable, as the run's scratch dir is; pytest's own tmp dirs are 0700
    try:
        with ScriptedModel([write("app.py", "x = 1\n"), bash("id -u"), Text("done")]) as model:
            outcome = _sandboxed(pi_install, model, root, _FakeSandbox(uid=nobody))
        assert outcome.ok, outcome.error
        assert model.requests[2].tool_results[-1].strip() == str(nobody)
        assert (root / "ws" / "app.py").stat().st_uid == nobody
    finally:
        shutil.rmtree(root, ignore_errors=True)
