"""`space-factory validate`: gate any running Gradio app, by URL or by Space id — the same validation code
the build pipeline uses, so an echo or a constant never passes (issue: foundation §8; DESIGN §6)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.cli_helpers import cli
from tests.support.ports import free_port
from tests.support.tokens import fake_token
from tests.support.waiting import wait_until

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


@pytest.fixture(scope="module")
def scaffold_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain Gradio app with no /health route whose endpoints fake inference."""
    folder = tmp_path_factory.mktemp("scaffold")
    (folder / "app.py").write_text(ECHO_APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            return httpx.get(url + "config", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    try:
        wait_until(up, 120, "the scaffold app")
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
    mcp = {c["name"]: c for c in gate["checks"]}["mcp"]
    assert mcp["status"] == "passed" and gate["how_to_call"]["mcp"]["tool"].endswith("_predict"), mcp


def test_an_echo_app_is_health_only_never_passed(scaffold_app: str) -> None:
    code, gate, _ = cli("validate", scaffold_app, "--task", "text-generation")
    assert code == 3
    assert gate["status"] == "health_only"
    checks = {c["name"]: c for c in gate["checks"]}
    assert checks["health"]["status"] == "passed"  # no /health route: Gradio's /config stood in
    assert checks["output_valid"]["status"] == "failed" and "echo" in checks["output_valid"]["detail"]
    # DESIGN §13: a plain Gradio app (no mcp_server) serves no MCP endpoint; the check says so, the gate is the API's.
    assert checks["mcp"]["status"] == "failed" and checks["mcp"]["detail"].startswith("not served: "), checks["mcp"]
    assert gate["evidence"]["mcp"]["failure"] == "not_served" and gate["how_to_call"]["mcp"] is None


def test_a_constant_classifier_is_health_only_never_passed(scaffold_app: str) -> None:
    code, gate, _ = cli("validate", scaffold_app, "--task", "text-classification")
    assert code == 3
    assert gate["status"] == "health_only"
    assert "constant" in {c["name"]: c for c in gate["checks"]}["output_valid"]["detail"]


def test_an_app_that_is_not_there_is_runtime_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACE_FACTORY_VALIDATE_TIMEOUT", "3")
    code, gate, _ = cli("validate", f"http://127.0.0.1:{free_port()}/", "--task", "fill-mask")
    assert code == 3
    assert gate["status"] == "runtime_failed"


def test_validate_refuses_a_url_with_credentials() -> None:
    code, payload, _ = cli("validate", "http://user:pw@127.0.0.1:9/")
    assert code == 1 and payload["type"] == "InvalidTarget"


def test_an_odd_spelling_of_loopback_is_checked_at_the_address_it_means(scaffold_app: str) -> None:
    """`0x7f000001` is 127.0.0.1: the CLI goes through the same target parser as validate_space (issue 8)."""
    code, gate, _ = cli("validate", scaffold_app.replace("127.0.0.1", "0x7f000001"), "--task", "text-generation")
    assert code == 3 and gate["status"] == "health_only"
    assert gate["space"]["url"] == scaffold_app


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/",
                                    "http://2130706433:9/?token={token}", "http://127.0.0.1:9/#access_token={token}",
                                    "http://metadata.google.internal/"])
def test_validate_refuses_what_the_tool_refuses_and_echoes_no_secret(target: str) -> None:
    """The CLI and validate_space share the parser: the same refusals, before anything connects."""
    token = fake_token()
    code, payload, stderr = cli("validate", target.format(token=token))
    assert code == 1 and payload["type"] == "InvalidTarget"
    assert token[3:15] not in payload["error"] + stderr
