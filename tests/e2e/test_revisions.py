"""Revisions end to end on the local backend (issue 10; DESIGN §12): the calling agent reads the deployed app,
changes it and gets a new gate on the same Space, through the MCP in-memory client and the CLI.

One base build of the tiny GPT-2 serves the module; every revision is made on top of it (or of the revision
before), so each costs a Space restart, not a build.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from gradio_client import Client as GradioClient
from mcp import Client

from space_factory.domain import layout
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import BuildOptions, Gate, GateCheck, GateSpace
from space_factory.record import RunRecord
from space_factory.service import Factory
from space_factory.worker.generate import generate_app
from tests.conftest import FACTORY_HOME
from tests.e2e.cli_helpers import cli, run_dir
from tests.support.runs import wait_terminal
from tests.tools.helpers import call, call_error, make_app, make_factory, write_run

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
RUN_TIMEOUT = 600
V1_RETURN = 'return str(outputs[0]["generated_text"])'


@pytest.fixture(scope="module")
def factory() -> Factory:
    """The tester's factory over the session's shared home, where the CLI's runs live too."""
    return make_factory(FACTORY_HOME)


@pytest.fixture(scope="module")
def base_run(factory: Factory, tiny_models: dict[str, str]) -> Iterator[str]:
    """One template build of the tiny GPT-2 whose gate passes: the parent of this module's revisions."""
    state = factory.launch(tiny_models["tiny-gpt2"], options=BuildOptions(), agent="none")
    state = wait_terminal(factory, state.run_id, RUN_TIMEOUT)
    assert state.gate_status is GateStatus.FULL_INFERENCE_PASSED, factory.trace(state.run_id).text[-3000:]
    yield state.run_id


async def finished(client: Client, factory: Factory, launched: dict[str, Any]) -> dict[str, Any]:
    """Follow a revision to its end; its gate view."""
    state = await anyio.to_thread.run_sync(wait_terminal, factory, launched["run_id"], RUN_TIMEOUT)
    assert state.status is RunStatus.FINISHED, (state, factory.trace(state.run_id).text[-3000:])
    return await call(client, "get_gate", {"run_id": launched["run_id"]})


def build_log(run_id: str) -> str:
    return (run_dir(FACTORY_HOME, run_id) / layout.SPACE_BUILD_LOG).read_text()


async def test_an_agent_reads_revises_breaks_and_restores_the_app_on_one_space(
        factory: Factory, base_run: str) -> None:
    """build passes → a revision that changes the output format passes on the same Space and the live app answers
    the new way, without a venv rebuild → a revision that raises is health_only → restoring the files passes again;
    an older run's revision is refused once the Space has moved on."""
    async with Client(make_app(factory)) as client:
        listing = await call(client, "get_app_files", {"run_id": base_run})
        assert {"app.py", "requirements.txt", "README.md"} <= {f["path"] for f in listing["files"]}
        v1 = (await call(client, "get_app_files", {"run_id": base_run, "path": "app.py"}))["file"]["text"]
        assert V1_RETURN in v1
        space_id = listing["space_id"]

        v2 = v1.replace(V1_RETURN, 'return "[v2] " + str(outputs[0]["generated_text"])')
        launched = await call(client, "revise_build", {"run_id": base_run, "files": {"app.py": v2},
                                                       "note": "prefix the output with [v2]", "wait_seconds": 5})
        assert launched["state"]["revision"] == 2 and launched["state"]["parent_run_id"] == base_run
        gate = await finished(client, factory, launched)
        second = launched["run_id"]
        assert gate["gate_status"] == "full_inference_passed", gate["message"]
        assert gate["revision"] == 2 and gate["parent_run_id"] == base_run
        assert gate["message"].startswith(f"Revision 2 (of run {base_run})")
        assert gate["gate"]["space"]["id"] == space_id and gate["gate"]["evidence"]["revision"]["revision"] == 2
        url = gate["gate"]["space"]["url"]
        answer = await anyio.to_thread.run_sync(
            lambda: GradioClient(url, verbose=False).predict("the cat sat", api_name="/predict"))
        assert str(answer).startswith("[v2] "), answer
        assert "reusing the environment" in build_log(second) and "creating the environment" not in build_log(second)
        files = await call(client, "get_app_files", {"run_id": second})
        revisions = {f["path"]: (f["revision"], f["run_id"]) for f in files["files"]}
        assert revisions["app.py"] == (2, second) and revisions["requirements.txt"] == (1, base_run)
        report = (run_dir(FACTORY_HOME, second) / layout.REPORT).read_text()
        assert f"factory://runs/{base_run}/report.md" in report

        broken = v2.replace('    if not prompt or not prompt.strip():',
                            '    raise RuntimeError("this revision broke predict")\n    if not prompt:')
        launched = await call(client, "revise_build", {"run_id": second, "files": {"app.py": broken}})
        gate = await finished(client, factory, launched)
        third = launched["run_id"]
        assert gate["gate_status"] == "health_only" and gate["revision"] == 3, gate["message"]
        assert "now runs this revision's code" in gate["message"] and second in gate["message"]

        older = await call_error(client, "revise_build", {"run_id": second, "files": {"app.py": v1}})
        assert "changed since run" in older and "nothing was changed" in older

        restored = (await call(client, "get_app_files", {"run_id": second, "path": "app.py"}))["file"]["text"]
        launched = await call(client, "revise_build", {"run_id": third, "files": {"app.py": restored},
                                                       "note": "restore revision 2"})
        gate = await finished(client, factory, launched)
        assert gate["gate_status"] == "full_inference_passed" and gate["revision"] == 4, gate["message"]
        assert gate["gate"]["space"]["id"] == space_id
        runs = await call(client, "list_runs", {"limit": 10})
        chain = {r["run_id"]: (r["revision"], r["parent_run_id"]) for r in runs["runs"]}
        assert chain[launched["run_id"]] == (4, third) and chain[third] == (3, second) and chain[base_run] == (1, None)


async def test_the_cli_lists_reads_and_revises_and_a_requirements_change_rebuilds_the_venv(
        factory: Factory, base_run: str, tmp_path: Path) -> None:
    """`space-factory files` / `revise --file … --wait --json`: a requirements.txt change rebuilds the environment
    (the build log says so); a local file that is not UTF-8 is refused before anything starts."""
    code, listing, _ = cli("files", base_run)
    assert code == 0 and "app.py" in [f["path"] for f in listing["files"]]
    code, text, _ = cli("files", base_run, "requirements.txt")
    requirements = text["file"]["text"]
    # The latest revision of the Space: the other test may have moved it on from the base run.
    latest = max((r for r in factory.list_runs(limit=20) if r.space.id == listing["space_id"]),
                 key=lambda r: r.revision)
    local = tmp_path / "requirements.txt"
    local.write_text(requirements + f"# revised by the test {uuid.uuid4().hex[:8]}\n")
    bad = tmp_path / "latin1.py"
    bad.write_bytes("café = 1\n".encode("latin-1"))
    code, refused, _ = cli("revise", latest.run_id, "--file", f"app.py={bad}")
    assert code == 1 and "not UTF-8 text" in refused["error"]

    code, state, stderr = cli("revise", latest.run_id, "--file", f"requirements.txt={local}", "--note",
                              "new requirements", "--wait", timeout=RUN_TIMEOUT)
    assert code == 0 and state["gate_status"] == "full_inference_passed", stderr[-3000:]
    assert state["revision"] == latest.revision + 1 and state["parent_run_id"] == latest.run_id
    log = build_log(state["run_id"])
    assert "creating the environment" in log and "pip install -r requirements.txt" in log
    events = [json.loads(line) for line in (run_dir(FACTORY_HOME, state["run_id"]) / "events.jsonl").read_text()
              .splitlines()]
    assert any("requirements.txt changed" in e["message"] for e in events)


async def test_a_technical_blocker_run_revised_with_a_working_app_gets_a_space_that_passes(
        factory: Factory, tiny_models: dict[str, str], tmp_path: Path) -> None:
    """A run that ended technical_blocker before any Space (no template, no agent) gets its app from the calling
    agent: the revision creates the Space, and the gate passes."""
    model = tiny_models["tiny-gpt2"]
    view = factory.analyze(model)
    blocker = Gate(status=GateStatus.TECHNICAL_BLOCKER, summary="Real inference cannot be wired: no template.",
                   checks=[GateCheck(name="build", status=CheckStatus.SKIPPED, detail="no Space was built")],
                   space=GateSpace())
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=blocker, model=model)
    record = RunRecord(factory.backend.bucket, run_id)
    record.write_model(layout.ANALYSIS, view.analysis)
    record.write_model(layout.RECOMMENDATION, view.recommendation)
    app = generate_app(view.analysis, view.recommendation, tmp_path / "app")  # the calling agent's app
    files = {name: (tmp_path / "app" / name).read_text() for name in app.files}
    async with Client(make_app(factory)) as client:
        empty = await call(client, "get_app_files", {"run_id": run_id})
        assert empty["files"] == [] and empty["space_id"] is None
        launched = await call(client, "revise_build", {"run_id": run_id, "files": files, "note": "write the app"})
        gate = await finished(client, factory, launched)
        assert gate["gate_status"] == "full_inference_passed", gate["message"]
        assert gate["gate"]["space"]["id"].startswith("tester/") and gate["revision"] == 2
        listed = await call(client, "get_app_files", {"run_id": launched["run_id"]})
    assert {f["revision"] for f in listed["files"]} == {2} and listed["space_id"] == gate["gate"]["space"]["id"]
