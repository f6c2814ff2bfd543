"""End to end on the local backend for the coverage tasks of issue 11 (text and generation): a chat model, a
vision-language model, a captioner, a text-to-image pipeline, a zero-shot NLI head and a QA head — each built from
a tiny random-weight model through the `space-factory` command, served by real Gradio, called by real
gradio_client (sample and probe), gated `full_inference_passed` with a consistent record."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import FACTORY_HOME, HF_HOME, ROOT
from tests.e2e.cli_helpers import cli, models_on_demand, run_dir
from tests.e2e.test_local_build import assert_record_consistent

pytestmark = pytest.mark.e2e

# model name (tests.support.coverage_models) → (task in the analysis, the verdict's kind, chat template found)
CASES = {
    "tiny-chat-llama": ("text-generation", "chat", True),
    "tiny-llava": ("image-text-to-text", "text", True),
    "tiny-blip": ("image-to-text", "text", False),
    "tiny-sd": ("text-to-image", "image", False),
    "tiny-nli": ("zero-shot-classification", "zero_shot", False),
    "tiny-bert-qa": ("question-answering", "answer", False),
}


@pytest.fixture(scope="session")
def coverage_models() -> Callable[[str], str]:
    """Builds a coverage model into the session's HF cache the first time a test asks for it: name → repo id."""
    return models_on_demand("tests.support.coverage_models", HF_HOME, ROOT)


@pytest.mark.parametrize("name", list(CASES), ids=[CASES[n][0] for n in CASES])
def test_each_coverage_task_builds_and_passes_the_full_inference_gate(coverage_models: Callable[[str], str],
                                                                     name: str) -> None:
    """Issue 11: the template is chosen from the analysis, the app answers both calls, the judge accepts them."""
    task, kind, chat = CASES[name]
    repo = coverage_models(name)
    code, state, stderr = cli("build", repo, "--wait")
    assert state is not None, stderr
    assert code == 0, (state, stderr)
    folder = run_dir(FACTORY_HOME, state["run_id"])
    gate = assert_record_consistent(folder, state, "full_inference_passed")
    analysis = json.loads((folder / "model_card_analysis.json").read_text())
    assert (analysis["task"], analysis["chat_template"], analysis["has_template"]) == (task, chat, True)
    assert {c["name"]: c["status"] for c in gate["checks"]} == {
        "build": "passed", "health": "passed", "api_schema": "passed", "predict": "passed", "output_valid": "passed",
        "mcp": "passed"}, gate["evidence"].get("mcp")
    result = json.loads((folder / "tests/test_result.json").read_text())
    assert result["verdict"]["ok"] is True and result["verdict"]["kind"] == kind, result["verdict"]
    assert result["probe"]["error"] is None and result["probe"]["inputs"] != result["call"]["inputs"]
    assert gate["how_to_call"]["api_name"] == "/predict"
    app = (folder / "generated/app.py").read_text()
    assert ("gr.ChatInterface(" in app) is chat if task == "text-generation" else "gr.Interface(" in app
    health = json.loads((folder / "tests/health.json").read_text())
    assert health["body"]["model"] == repo and health["body"]["model_loaded"] is True
