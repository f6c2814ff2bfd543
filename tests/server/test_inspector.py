"""An outside client: the MCP Inspector CLI (`npx @modelcontextprotocol/inspector@2.12.0 --cli`) lists the tools
and calls analyze_model, over stdio and over streamable HTTP with a bearer token (DESIGN §10.3; issue 3).

Needs Node (npx) and the npm registry the first time; skipped with the reason when npx is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HF_HOME
from tests.server.transports import BEARER, ROOT, http_server, server_env
from tests.support.tiny_models import install_into_cache

pytestmark = pytest.mark.e2e
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
MODEL = "factory-test/inspector-card"
CARD = "---\npipeline_tag: fill-mask\nlibrary_name: transformers\nlicense: mit\n---\n\n# card only\n"


@pytest.fixture(scope="module")
def npx() -> str:
    path = shutil.which("npx")
    if path is None:
        pytest.skip("npx (Node.js) is not installed")
    return path


@pytest.fixture(scope="module")
def card_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    src = tmp_path_factory.mktemp("inspector-card")
    (src / "README.md").write_text(CARD)
    (src / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}))
    install_into_cache(src, MODEL, HF_HOME)
    return MODEL


def inspector(npx: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    done = subprocess.run([npx, "-y", INSPECTOR, "--cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    try:
        payload = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        payload = None
    return done.returncode, payload, done.stdout + done.stderr


def stdio_target() -> list[str]:
    env_args = [arg for name, value in server_env().items() for arg in ("-e", f"{name}={value}")]
    return [*env_args, "--", sys.executable, "-m", "space_factory", "serve"]


def test_the_inspector_lists_the_tools_over_stdio(npx: str) -> None:
    code, payload, output = inspector(npx, "--method", "tools/list", "--format", "json", "-q", *stdio_target())
    assert code == 0, output[-3000:]
    tools = {t["name"]: t for t in payload["result"]["tools"]}
    assert len(tools) == 11 and tools["get_gate"]["annotations"]["readOnlyHint"] is True
    assert "outputSchema" in tools["launch_build"]


def test_the_inspector_calls_analyze_model_over_stdio(npx: str, card_model: str) -> None:
    code, payload, output = inspector(npx, "--method", "tools/call", "--tool-name", "analyze_model",
                                      "--tool-arg", f"model={card_model}", "--format", "json", "-q", *stdio_target())
    assert code == 0, output[-3000:]
    result = payload["result"]
    assert result.get("isError") in (None, False)
    assert result["structuredContent"]["analysis"]["task"] == "fill-mask"


def test_the_inspector_reports_a_tool_error_with_its_exit_code(npx: str) -> None:
    code, payload, output = inspector(npx, "--method", "tools/call", "--tool-name", "analyze_model",
                                      "--tool-arg", "model=not-a-model-id", "--format", "json", "-q", *stdio_target())
    assert code == 5, output[-3000:]  # the Inspector's exit code for isError results
    assert "invalid model id" in json.dumps(payload)


def test_the_inspector_lists_the_tools_over_http_with_a_bearer_token(npx: str, tmp_path: Path) -> None:
    with http_server() as base:
        code, payload, output = inspector(npx, "--server-url", f"{base}/mcp", "--transport", "http",
                                          "--header", f"Authorization: Bearer {BEARER}",
                                          "--method", "tools/list", "--format", "json", "-q")
        assert code == 0, output[-3000:]
        assert len(payload["result"]["tools"]) == 11
        code, _, output = inspector(npx, "--server-url", f"{base}/mcp", "--transport", "http",
                                    "--method", "tools/list", "--format", "json", "-q", "--stored-auth-only")
        assert code != 0 and BEARER not in output
