"""A Space as an MCP tool: `how_to_call.mcp`, the tool of an endpoint, and the gate's `mcp` row (DESIGN §13).

Client syntax checked against the clients' docs (docs/architecture.md, "Every Space is an MCP server"): Claude Code
`claude mcp add --transport http [--header …] <name> <url>`, Cursor `mcp.json` `mcpServers.<name>.url/headers` with
`${env:…}`, VS Code `.vscode/mcp.json` `servers.<name>` with `type: http` and `inputs` (`promptString`, `password`).
"""

from __future__ import annotations

import json

import pytest

from space_factory.domain.gate import GateEvidence, build_gate, classify_gate, mcp_gate_check
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.mcp_surface import McpCheck, McpFailure, mcp_access, server_name, tool_for_endpoint
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import ApiEndpoint, ApiSchema, HealthResult, OutputVerdict, PredictCall, TestResult
from space_factory.domain.targets import parse_app_url

LOCAL = parse_app_url("http://127.0.0.1:7860/")
HUB = parse_app_url("https://me-tiny-gpt2-demo-1a2b3c.hf.space")
SPACE = "me/tiny-gpt2-demo-1a2b3c"
TOOL = "tiny_gpt2_demo_1a2b3c_predict"


def test_a_private_space_gets_a_placeholder_header_and_client_snippets_that_only_reference_the_token() -> None:
    """DESIGN §9: no token in any result; the snippets read it from HF_TOKEN (Cursor, Claude Code) or a prompt."""
    access = mcp_access(HUB, TOOL, space_id=SPACE, private=True)
    assert access is not None
    assert access.url == "https://me-tiny-gpt2-demo-1a2b3c.hf.space/gradio_api/mcp/"
    assert access.tool == TOOL and access.headers == {"Authorization": "Bearer <your HF token>"}
    assert access.clients.claude_code == (
        'claude mcp add --transport http --header "Authorization: Bearer $HF_TOKEN" tiny-gpt2-demo-1a2b3c '
        "https://me-tiny-gpt2-demo-1a2b3c.hf.space/gradio_api/mcp/")
    assert json.loads(access.clients.cursor) == {"mcpServers": {"tiny-gpt2-demo-1a2b3c": {
        "url": access.url, "headers": {"Authorization": "Bearer ${env:HF_TOKEN}"}}}}
    vscode = json.loads(access.clients.vscode)
    assert vscode["servers"] == {"tiny-gpt2-demo-1a2b3c": {
        "type": "http", "url": access.url, "headers": {"Authorization": "Bearer ${input:hf-token}"}}}
    assert vscode["inputs"] == [{"type": "promptString", "id": "hf-token", "description": "Hugging Face token",
                                 "password": True}]
    assert access.note is not None and "HF_TOKEN" in access.note and TOOL in access.note


def test_a_local_space_needs_no_header_and_its_note_says_the_url_is_loopback() -> None:
    """The local backend's Spaces answer on 127.0.0.1 with no auth; the snippets carry no header."""
    access = mcp_access(LOCAL, TOOL, space_id=SPACE, private=False)
    assert access is not None and access.headers == {}
    assert access.url == "http://127.0.0.1:7860/gradio_api/mcp/"
    assert access.clients.claude_code == f"claude mcp add --transport http tiny-gpt2-demo-1a2b3c {access.url}"
    assert json.loads(access.clients.cursor) == {"mcpServers": {"tiny-gpt2-demo-1a2b3c": {"url": access.url}}}
    assert json.loads(access.clients.vscode) == {"servers": {"tiny-gpt2-demo-1a2b3c": {"type": "http",
                                                                                      "url": access.url}}}
    assert access.note is not None and "loopback" in access.note


@pytest.mark.parametrize("tool", ["", "a b", "x" * 129, "tool\n", 'p"; rm -rf /', "ghp_" + "a" * 36 + "!"])
def test_a_tool_name_that_is_not_a_plain_name_is_not_offered(tool: str) -> None:
    """The name comes from the app (untrusted); it reaches a shell command and JSON only as a plain name."""
    assert mcp_access(LOCAL, tool, space_id=SPACE, private=False) is None


def test_server_names_are_the_space_name_made_safe() -> None:
    """The client-side server name: the Space's name part, outside [A-Za-z0-9_-] written '-'."""
    assert server_name("me/odd.name with space") == "odd-name-with-space"
    assert server_name("") == server_name(None) == "gradio-app"


def test_the_endpoint_tool_is_found_by_gradio_schema_first_then_by_name() -> None:
    """Gradio names a tool after the function; its /gradio_api/mcp/schema maps tools to endpoints."""
    tools = ["space_predict", "space_other"]
    assert tool_for_endpoint("/predict", tools, {}) == "space_predict"
    assert tool_for_endpoint("/predict", ["predict"], {}) == "predict"
    assert tool_for_endpoint("/predict", tools, {"space_other": "predict"}) == "space_other"
    assert tool_for_endpoint("/predict", ["space_run"], {}) is None
    assert tool_for_endpoint("/my-endpoint", ["s_my_endpoint"], {}) == "s_my_endpoint"


def _passed_evidence(**changes: object) -> GateEvidence:
    api = ApiSchema(ok=True, endpoints=[ApiEndpoint(api_name="/predict")], chosen="/predict")
    verdict = OutputVerdict(ok=True, kind="text", detail="generated 12 characters beyond the prompt")
    test = TestResult(ok=True, api_name="/predict", call=PredictCall(output_type="str"), verdict=verdict)
    base: dict[str, object] = {"space_stage": "RUNNING", "api": api, "test": test,
                               "health": HealthResult(ok=True, url="http://127.0.0.1:7860/health", status_code=200)}
    base.update(changes)
    return GateEvidence(**base)  # type: ignore[arg-type]


FAILURES = [McpCheck(ok=False, url="u", failure=failure, detail="what failed") for failure in McpFailure]


@pytest.mark.parametrize("mcp", [None, *FAILURES], ids=["absent", *(f.value for f in McpFailure)])
def test_the_mcp_check_never_changes_the_gate_status_and_says_what_failed(mcp: McpCheck | None) -> None:
    """DESIGN §13: an app whose MCP surface fails or is absent is still judged by its API."""
    for evidence in (_passed_evidence(mcp=mcp), _passed_evidence(mcp=mcp, test=None)):
        without = classify_gate(_passed_evidence(test=evidence.test))
        assert classify_gate(evidence) == without
    row = build_gate(_passed_evidence(mcp=mcp)).checks[-1]
    assert row.name == "mcp"
    if mcp is None:
        assert row.status is CheckStatus.SKIPPED
    else:
        assert row.status is CheckStatus.FAILED and row.detail == f"{mcp.failure.value.replace('_', ' ')}: what failed"


def test_a_passed_mcp_check_is_a_passed_row_beside_the_api_rows_and_in_the_evidence() -> None:
    """The row follows output_valid; the evidence keeps the whole check (redacted by the checkup)."""
    mcp = McpCheck(ok=True, url="http://127.0.0.1:7860/gradio_api/mcp/", tool="s_predict", detail="ok",
                   duration_ms=40)
    gate = build_gate(_passed_evidence(mcp=mcp))
    assert gate.status is GateStatus.FULL_INFERENCE_PASSED
    assert [c.name for c in gate.checks][-2:] == ["output_valid", "mcp"]
    assert mcp_gate_check(mcp).status is CheckStatus.PASSED and gate.checks[-1].duration_ms == 40
    assert gate.evidence["mcp"]["tool"] == "s_predict"


def test_the_redactor_would_mangle_the_snippets_so_they_are_added_after_it() -> None:
    """Why the checkup builds how_to_call.mcp after redacting: `Bearer ${env:HF_TOKEN}` looks like a token."""
    access = mcp_access(HUB, TOOL, space_id=SPACE, private=True)
    assert access is not None and Redactor().redact_text(access.clients.cursor) != access.clients.cursor
