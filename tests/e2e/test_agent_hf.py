"""`pi-deploy` on the hf backend against the Hub emulator (issue 9; DESIGN §7, §9, §11).

The emulator runs the job (the worker from the shipped wheel), the worker runs real Pi, and Pi pushes the app
itself with the real `hf` CLI through the worker's Hub proxy, holding only a dummy token: the push to the run's
Space goes through, a push to any other repo is refused. The wrapper then waits for the build and gates it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import cli
from tests.hub_emulator.fixtures import ALICE, client_env
from tests.hub_emulator.server import HubEmulator
from tests.support.reachable import interpreter_reachable
from tests.support.scripted_model import Request, ScriptedModel, Text, ToolCall, bash

pytestmark = pytest.mark.e2e

AGENT_KEY = "sk-test-agent-key-" + "0a1b2c3d4e5f6789"
OTHER_SPACE = "alice/not-this-runs-space"
_SPACE_RE = re.compile(r"of the Hugging Face Space `([^`]+)`")


@pytest.fixture
def job_tools_dir(pi_tools_env: Path) -> Iterator[Path]:
    """Where a worker in an HF job installs Pi (its scratch space), pointed at the tests' shared install."""
    path = Path(tempfile.gettempdir()) / f"space-factory-agent-tools-{os.getuid()}"
    made = not path.exists() and not path.is_symlink()
    if made:
        path.symlink_to(pi_tools_env)
    yield path
    if made:
        path.unlink()


def pusher(request: Request) -> ToolCall | Text:
    """Pi, scripted: push the app to the Space named in its instructions, then try another repo."""
    prompt = next((json.dumps(m.get("content")) for m in request.messages if m.get("role") == "user"), "")
    found = _SPACE_RE.search(prompt)
    space = found.group(1) if found else "missing/space"
    steps = [bash(f'hf upload {space} . --repo-type space --exclude ".factory/*" 2>&1; echo "push-exit=$?"'),
             bash(f"hf upload {OTHER_SPACE} . --repo-type space 2>&1; echo \"other-exit=$?\"")]
    turn = len(request.tool_results)
    return steps[turn] if turn < len(steps) else Text("Pushed the app.")


def test_pi_deploy_pushes_only_to_the_runs_own_space(hub: HubEmulator, tiny_models: dict[str, str],
                                                     job_tools_dir: Path) -> None:
    with ScriptedModel([], then=pusher) as model, interpreter_reachable():
        env = {**client_env(hub, ALICE.token), "SPACE_FACTORY_AGENT_BASE_URL": model.base_url,
               "SPACE_FACTORY_AGENT_API_KEY": AGENT_KEY, "SPACE_FACTORY_AGENT_MODEL": "scripted-model",
               "SPACE_FACTORY_AGENT_ATTEMPTS": "1", "SPACE_FACTORY_AGENT_TIMEOUT": "240"}
        code, state, stderr = cli("build", tiny_models["tiny-gpt2"], "--backend", "hf", "--agent", "pi-deploy",
                                  "--wait", env=env, timeout=900)
    assert state is not None, stderr[-3000:]
    record = hub.root / "buckets" / "alice" / "space-factory-runs" / "runs" / state["run_id"]
    events = [json.loads(line)["message"] for line in (record / "events.jsonl").read_text().splitlines()]
    assert state["gate_status"] == "full_inference_passed", (state.get("error"), events[-15:])
    space_id = state["space"]["id"]

    results = [r for request in model.requests for r in request.tool_results]
    push = next(r for r in results if "push-exit=" in r)
    other = next(r for r in results if "other-exit=" in r)
    assert "push-exit=0" in push, push
    assert "other-exit=0" not in other and "403" in other and OTHER_SPACE not in hub.spaces, other
    assert any("Pi pushed the app" in m for m in events), events

    repo = hub.root / "repos" / space_id
    assert (repo / "app.py").is_file() and not (repo / ".factory").exists()
    [attempt] = [json.loads(line) for line in (record / "agent/attempts.jsonl").read_text().splitlines()]
    assert attempt["mode"] == "adapt" and attempt["gate_status"] == "full_inference_passed"

    # The key reached the model server only through the proxy; the token never reached Pi or the model server.
    for request in model.requests:
        assert request.authorization == f"Bearer {AGENT_KEY}"
        assert ALICE.token not in json.dumps(request.body) and AGENT_KEY not in json.dumps(request.body)
    # The agent's key travels to the job as a secret, never in its spec's plain parts.
    [spec] = [json.loads(r.body) for r in hub.hub_requests() if r.method == "POST" and r.path == "/api/jobs/alice"]
    assert spec["secrets"].get("SPACE_FACTORY_AGENT_API_KEY") == AGENT_KEY
    for part in ("command", "arguments", "environment", "labels"):
        assert AGENT_KEY not in json.dumps(spec.get(part)) and ALICE.token not in json.dumps(spec.get(part)), part
    assert code == 0
