"""End to end on the local backend: a real build of each tiny model through the `space-factory` command,
served by real Gradio, called by real gradio_client, gated (DESIGN §4-§6; issue: foundation)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from tests.conftest import FACTORY_HOME
from tests.e2e.cli_helpers import cli, run_dir
from tests.support.mcp_calls import arguments_for, call_as_told

pytestmark = pytest.mark.e2e

TASK_MODELS = [
    ("tiny-gpt2", "text-generation"),
    ("tiny-t5", "text2text-generation"),
    ("tiny-bert-cls", "text-classification"),
    ("tiny-bert-ner", "token-classification"),
    ("tiny-bert-mlm", "fill-mask"),
    ("tiny-st", "sentence-similarity"),
    ("tiny-vit", "image-classification"),
    ("tiny-wav2vec2", "automatic-speech-recognition"),
]

RECORD_FILES = ["request.json", "state.json", "events.jsonl", "model_card_analysis.json",
                "runtime_recommendation.json", "target_space.json", "generated/app.py", "generated/requirements.txt",
                "generated/README.md", "tests/health.json", "tests/api_schema.json", "tests/test_result.json",
                "inference_gate.json", "logs/worker.log", "logs/space_build.log", "logs/space_run.log", "report.md"]


def assert_record_consistent(folder: Path, state: dict, expected_gate: str) -> dict:
    for name in RECORD_FILES:
        assert (folder / name).is_file(), f"missing {name} in the run record"
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    gate = json.loads((folder / "inference_gate.json").read_text())
    stored = json.loads((folder / "state.json").read_text())
    assert stored["status"] == state["status"] == "finished"
    assert stored["phase"] == "done"
    assert stored["gate_status"] == gate["status"] == expected_gate
    assert gate["space"]["id"] == stored["space"]["id"]
    assert expected_gate in (folder / "report.md").read_text()
    return gate


@pytest.mark.parametrize(("name", "task"), TASK_MODELS, ids=[t for _, t in TASK_MODELS])
def test_build_of_each_template_task_passes_the_full_inference_gate(tiny_models: dict[str, str], name: str,
                                                                     task: str) -> None:
    """Every template task builds into a running local Space whose API returns valid output (§6)."""
    code, state, stderr = cli("build", tiny_models[name], "--wait")
    assert state is not None, stderr
    assert code == 0, (state, stderr)
    assert state["gate_status"] == "full_inference_passed"
    folder = run_dir(FACTORY_HOME, state["run_id"])
    gate = assert_record_consistent(folder, state, "full_inference_passed")
    analysis = json.loads((folder / "model_card_analysis.json").read_text())
    assert analysis["task"] == task
    assert {c["name"]: c["status"] for c in gate["checks"]} == {
        "build": "passed", "health": "passed", "api_schema": "passed", "predict": "passed", "output_valid": "passed",
        "mcp": "passed"}
    assert gate["how_to_call"]["api_name"] == "/predict"
    assert "gradio_client" in gate["how_to_call"]["python"]
    # DESIGN §13: the same endpoint is an MCP tool, named as Gradio names it on a Space (SPACE_ID set locally too),
    # and how_to_call.mcp alone is enough to call it with the factory's own client.
    mcp = gate["how_to_call"]["mcp"]
    prefix = state["space"]["id"].split("/")[-1].replace("-", "_")
    assert mcp["tool"] == f"{prefix}_predict" and mcp["headers"] == {}
    assert mcp["url"] == state["space"]["url"].rstrip("/") + "/gradio_api/mcp/"
    assert gate["evidence"]["mcp"]["protocol_version"] and gate["evidence"]["mcp"]["verdict"]["ok"] is True
    result = json.loads((folder / "tests/test_result.json").read_text())
    answer, tools = anyio.run(call_as_told, mcp, arguments_for(gate["how_to_call"], result))
    assert mcp["tool"] in tools and not answer.is_error and answer.content, answer
    health = json.loads((folder / "tests/health.json").read_text())
    assert health["body"]["model"] == tiny_models[name] and health["body"]["model_loaded"] is True
    assert state["space"]["id"].startswith("tester/") and state["space"]["url"].startswith("http://127.0.0.1:")
