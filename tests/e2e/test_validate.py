"""`space-factory validate`: gate any running Gradio app, by URL or by Space id — the same validation code
the build pipeline uses, so an echo or a constant never passes (issue: foundation §8; DESIGN §6)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_helpers import cli, wait_for

pytestmark = pytest.mark.e2e

ECHO_APP = '''
import os
import gradio as gr

def predict(prompt: str) -> str:
    """Returns the prompt unchanged: a scaffold, not a model."""
    return prompt

def classify(text: str) -> dict:
    """Always the same answer, whatever the input."""
    return {"POSITIVE": 0.9, "NEGATIVE": 0.1}

with gr.Blocks() as demo:
    box = gr.Textbox()
    out = gr.Textbox()
    label = gr.Label()
    gr.Button("echo").click(predict, box, out, api_name="predict")
    gr.Button("classify").click(classify, box, label, api_name="classify")

demo.launch(server_name="127.0.0.1", server_port=int(os.environ["PORT"]))
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def scaffold_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain Gradio app with no /health route whose endpoints fake inference."""
    folder = tmp_path_factory.mktemp("scaffold")
    (folder / "app.py").write_text(ECHO_APP)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            return httpx.get(url + "config", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    try:
        wait_for(up, timeout=120, what="the scaffold app")
        assert proc.poll() is None, "the scaffold app exited"
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_validate_by_space_id_passes_a_factory_built_space(tiny_models: dict[str, str]) -> None:
    code, state, _ = cli("build", tiny_models["tiny-bert-cls"], "--wait")
    assert code == 0, state
    code, gate, _ = cli("validate", state["space"]["id"], "--task", "text-classification")
    assert code == 0, gate
    assert gate["status"] == "full_inference_passed"
    assert gate["space"]["id"] == state["space"]["id"]


def test_an_echo_app_is_health_only_never_passed(scaffold_app: str) -> None:
    code, gate, _ = cli("validate", scaffold_app, "--task", "text-generation")
    assert code == 3
    assert gate["status"] == "health_only"
    checks = {c["name"]: c for c in gate["checks"]}
    assert checks["health"]["status"] == "passed"  # no /health route: Gradio's /config stood in
    assert checks["output_valid"]["status"] == "failed" and "echo" in checks["output_valid"]["detail"]


def test_a_constant_classifier_is_health_only_never_passed(scaffold_app: str) -> None:
    code, gate, _ = cli("validate", scaffold_app, "--task", "text-classification")
    assert code == 3
    assert gate["status"] == "health_only"
    assert "constant" in {c["name"]: c for c in gate["checks"]}["output_valid"]["detail"]


def test_an_app_that_is_not_there_is_runtime_failed(tmp_path: Path) -> None:
    env_timeout = os.environ.get("SPACE_FACTORY_VALIDATE_TIMEOUT")
    os.environ["SPACE_FACTORY_VALIDATE_TIMEOUT"] = "3"
    try:
        code, gate, _ = cli("validate", f"http://127.0.0.1:{_free_port()}/", "--task", "fill-mask")
    finally:
        if env_timeout is None:
            os.environ.pop("SPACE_FACTORY_VALIDATE_TIMEOUT")
        else:
            os.environ["SPACE_FACTORY_VALIDATE_TIMEOUT"] = env_timeout
    assert code == 3
    assert gate["status"] == "runtime_failed"


def test_validate_refuses_a_url_with_credentials() -> None:
    code, payload, _ = cli("validate", "http://user:pw@127.0.0.1:9/")
    assert code == 1 and payload["type"] == "InvalidTarget"
