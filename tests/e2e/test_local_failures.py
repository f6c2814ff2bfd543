"""Failure paths of a local build end to end: each ends with the right gate or a clear `failed` state,
never a run left `running` (issue: foundation; DESIGN §5-§6)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.conftest import FACTORY_HOME, HF_HOME
from tests.e2e.cli_helpers import cli, run_dir
from tests.support.processes import processes_mentioning
from tests.support.tiny_models import install_into_cache
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def snapshot_of(repo_id: str) -> Path:
    repo = HF_HOME / "hub" / ("models--" + repo_id.replace("/", "--"))
    return repo / "snapshots" / (repo / "refs" / "main").read_text()


def variant(tmp_path: Path, base: str, name: str, edit) -> str:
    """Copy an installed tiny model, let `edit` change the copy, install it as `factory-test/<name>`."""
    folder = tmp_path / name
    shutil.copytree(snapshot_of(base), folder)
    edit(folder)
    repo_id = f"factory-test/{name}"
    install_into_cache(folder, repo_id, HF_HOME)
    return repo_id


def test_a_model_missing_from_the_cache_fails_the_run_with_a_clear_error(tiny_models: dict[str, str]) -> None:
    code, state, _ = cli("build", "factory-test/not-in-the-cache", "--wait")
    assert code == 1
    assert state["status"] == "failed"
    assert "model not found" in state["error"] and "factory-test/not-in-the-cache" in state["error"]
    folder = run_dir(FACTORY_HOME, state["run_id"])
    assert not (folder / "inference_gate.json").exists()
    assert "failed" in (folder / "report.md").read_text()


def test_an_invalid_model_id_is_refused_before_any_run_starts() -> None:
    code, payload, _ = cli("build", "../../etc/passwd")
    assert code == 1
    assert payload["type"] == "InvalidModelId"


def test_a_model_of_unknown_task_ends_with_a_technical_blocker_and_no_space(
        tiny_models: dict[str, str], tmp_path: Path) -> None:
    def unknown(folder: Path) -> None:
        (folder / "README.md").write_text("---\nlicense: mit\n---\n# mystery model\n")
        config = json.loads((folder / "config.json").read_text())
        config["architectures"] = ["MysteryNetForTeleportation"]
        config["model_type"] = "mysterynet"
        (folder / "config.json").write_text(json.dumps(config))

    model = variant(tmp_path, tiny_models["tiny-bert-cls"], "mystery-task", unknown)
    code, state, _ = cli("build", model, "--wait")
    assert code == 3
    assert state["gate_status"] == "technical_blocker"
    folder = run_dir(FACTORY_HOME, state["run_id"])
    blockers = json.loads((folder / "TECHNICAL_BLOCKERS.json").read_text())["blockers"]
    assert blockers and blockers[0]["source"] == "factory"
    assert state["space"]["id"] is None and not (folder / "target_space.json").exists()


def test_a_task_without_a_template_is_never_faked(tiny_models: dict[str, str]) -> None:
    """A task no template covers (image-to-image) ends as a technical blocker (exit 3), never a stand-in app: with
    no agent key `auto` cannot call the coding agent, and `none` never does."""
    code, state, _ = cli("build", tiny_models["tiny-gpt2"], "--task", "image-to-image", "--wait")
    assert code == 3
    assert state["gate_status"] == "technical_blocker"
    code, state, _ = cli("build", tiny_models["tiny-gpt2"], "--task", "image-to-image", "--agent", "none", "--wait")
    assert code == 3
    assert state["gate_status"] == "technical_blocker"


def test_an_app_that_crashes_at_start_is_runtime_failed_with_its_log(
        tiny_models: dict[str, str], tmp_path: Path) -> None:
    def corrupt(folder: Path) -> None:
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])

    model = variant(tmp_path, tiny_models["tiny-bert-cls"], "broken-weights", corrupt)
    code, state, _ = cli("build", model, "--wait")
    assert code == 3
    assert state["gate_status"] == "runtime_failed"
    folder = run_dir(FACTORY_HOME, state["run_id"])
    gate = json.loads((folder / "inference_gate.json").read_text())
    assert gate["evidence"]["run_log_tail"], "the app's log must be attached to the gate"
    assert "Traceback" in (folder / "logs/space_run.log").read_text()


def test_a_predict_that_raises_is_health_only(tiny_models: dict[str, str], tmp_path: Path) -> None:
    """A widget prompt past the model's positions makes predict raise: the app is up, the gate only health_only."""
    long_prompt = " ".join(["the cat sat on the mat"] * 60)  # far past the tiny GPT-2's 128 positions

    def long_widget(folder: Path) -> None:
        card = (folder / "README.md").read_text()
        card = card.replace("- text: the cat sat", f"- text: {long_prompt}")
        assert long_prompt in card
        (folder / "README.md").write_text(card)

    model = variant(tmp_path, tiny_models["tiny-gpt2"], "overlong-prompt", long_widget)
    code, state, _ = cli("build", model, "--wait")
    assert code == 3
    assert state["gate_status"] == "health_only"
    folder = run_dir(FACTORY_HOME, state["run_id"])
    result = json.loads((folder / "tests/test_result.json").read_text())
    assert result["ok"] is False and result["call"]["error"]


def test_cancel_during_the_build_ends_canceled_with_no_process_left(tiny_models: dict[str, str]) -> None:
    code, state, _ = cli("build", tiny_models["tiny-bert-mlm"])
    assert code == 0
    run_id = state["run_id"]

    def building() -> dict | None:
        _, view, _ = cli("status", run_id)
        return view if view["state"]["space"]["id"] else None

    space_id = wait_until(building, 120, "the Space to be created")["state"]["space"]["id"]
    code, state, _ = cli("cancel", run_id)
    assert code == 0 and state["status"] == "canceled"
    _, gate, _ = cli("gate", run_id)
    assert gate["status"] == "canceled"
    assert processes_mentioning(run_id) == []
    space_folder = FACTORY_HOME / "spaces" / space_id
    wait_until(lambda: processes_mentioning(str(space_folder)) == [], 30, "the Space's processes to end")
    _, view, _ = cli("status", run_id)
    assert view["state"]["status"] == "canceled" and view["terminal"] is True


def test_kill_9_of_the_worker_makes_status_report_failed(tiny_models: dict[str, str]) -> None:
    _, state, _ = cli("build", tiny_models["tiny-bert-ner"])
    run_id = state["run_id"]
    worker_pids = wait_until(lambda: [p for p in processes_mentioning(f"worker {run_id}")
                                      if "job_process" not in Path(f"/proc/{p}/cmdline").read_text()],
                             60, "the worker process")
    os.kill(worker_pids[0], signal.SIGKILL)

    def settled() -> dict | None:
        _, view, _ = cli("status", run_id)
        return view if view["terminal"] else None

    view = wait_until(settled, 60, "the run to settle")
    assert view["state"]["status"] == "failed"
    assert "SIGKILL" in view["state"]["error"]
