"""A generated Space as an MCP server (DESIGN §13): Gradio's `/gradio_api/mcp/`, its tools, the gate's `mcp` check,
and the client configuration `how_to_call.mcp` gives. Pure.

Gradio (6.31, `gradio/mcp.py`) names each endpoint's tool after its Python function, prefixed on a Space (`SYSTEM`
is `spaces` and `SPACE_ID` is set, as the Hub and both of our backends set them) with the Space's name and `_`, every
character outside `[A-Za-z0-9]` written `_`. The check therefore reads the names from `tools/list` rather than
guessing them, and maps the API's endpoint to its tool by Gradio's own `/gradio_api/mcp/schema` (each tool's
`meta.endpoint_name`) when the app serves it, else by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from space_factory.domain.schemas import McpAccess, McpClients, OutputVerdict, PredictCall
from space_factory.domain.targets import AppUrl, is_loopback

__all__ = [
    "MCP_PATH",
    "TOKEN_ENV",
    "McpCheck",
    "McpFailure",
    "mcp_access",
    "mcp_url",
    "server_name",
    "tool_for_endpoint",
]

MCP_PATH = "gradio_api/mcp"
TOKEN_ENV = "HF_TOKEN"
# What the placeholder header says; a client snippet refers to the token by `TOKEN_ENV` or a prompt instead.
TOKEN_PLACEHOLDER = "Bearer <your HF token>"
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_VSCODE_INPUT = "hf-token"


class McpFailure(StrEnum):
    """Where the MCP check stopped, in the order it goes."""

    NOT_SERVED = "not_served"
    TOOLS_LIST_FAILED = "tools_list_failed"
    TOOL_MISSING = "tool_missing"
    CALL_ERROR = "call_error"
    OUTPUT_REFUSED = "output_refused"


class McpCheck(BaseModel):
    """What the gate's `mcp` check saw (beside the API check; it never decides the gate status)."""

    model_config = ConfigDict(extra="ignore")

    ok: bool
    url: str = Field(description="The MCP endpoint checked.")
    failure: McpFailure | None = None
    detail: str = ""
    protocol_version: str | None = Field(None, description="The MCP version the session agreed on.")
    tools: list[str] = Field(default_factory=list, description="The tool names tools/list gave (at most 50).")
    tool: str | None = Field(None, description="The tool of the API check's endpoint.")
    call: PredictCall | None = None
    verdict: OutputVerdict | None = None
    duration_ms: int = 0


def mcp_url(app: AppUrl) -> str:
    """The app's MCP endpoint, under its base path, with the trailing slash Gradio prints.

        >>> from space_factory.domain.targets import parse_app_url
        >>> mcp_url(parse_app_url("http://127.0.0.1:7860"))
        'http://127.0.0.1:7860/gradio_api/mcp/'
    """
    return app.join(MCP_PATH) + "/"


def tool_for_endpoint(api_name: str, tools: Sequence[str], endpoints: Mapping[str, str]) -> str | None:
    """The listed tool that calls the endpoint `api_name` ("/predict"), or None.

    Args:
        tools: the names tools/list gave.
        endpoints: tool name → endpoint name, from Gradio's `/gradio_api/mcp/schema` (empty when unavailable).

    Example:
        >>> tool_for_endpoint("/predict", ["me_predict", "me_other"], {})
        'me_predict'
        >>> tool_for_endpoint("/predict", ["me_run", "me_other"], {"me_run": "predict"})
        'me_run'
    """
    wanted = api_name.lstrip("/")
    by_schema = [name for name in tools if endpoints.get(name, "").lstrip("/") == wanted]
    if by_schema:
        return by_schema[0]
    # Gradio names the tool after the function; the templates' function and endpoint are both `predict`.
    sanitized = re.sub(r"[^A-Za-z0-9]", "_", wanted)
    return next((name for name in tools if name == sanitized or name.endswith("_" + sanitized)), None)


def server_name(space_id: str | None) -> str:
    """The name the client configuration gives the server: the Space's name, or `gradio-app` for a bare URL.

        >>> server_name("me/tiny-gpt2-demo-1a2b3c"), server_name(None)
        ('tiny-gpt2-demo-1a2b3c', 'gradio-app')
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "-", (space_id or "").rsplit("/", 1)[-1]).strip("-")
    return name[:64] or "gradio-app"


def mcp_access(app: AppUrl, tool: str, *, space_id: str | None, private: bool) -> McpAccess | None:
    """`how_to_call.mcp`: the endpoint, the tool, the headers and ready client configuration.

    Args:
        app: the app's URL as the gate names it (our parsed value, never the app's words).
        tool: the tool's name as tools/list gave it; a name outside `[A-Za-z0-9_-]{1,128}` is not offered.
        space_id: the Space, for the server's name in the snippets.
        private: the Space answers only with the owner's token (the check sent one).

    Returns:
        None when `tool` is not a plain tool name (the app's text, untrusted).
    """
    if not _TOOL_NAME.fullmatch(tool):
        return None
    url = mcp_url(app)
    name = server_name(space_id)
    if private:
        headers = {"Authorization": TOKEN_PLACEHOLDER}
        claude = (f'claude mcp add --transport http --header "Authorization: Bearer ${TOKEN_ENV}" {name} {url}')
        cursor = {"mcpServers": {name: {"url": url, "headers": {"Authorization": f"Bearer ${{env:{TOKEN_ENV}}}"}}}}
        vscode: dict[str, object] = {
            "inputs": [{"type": "promptString", "id": _VSCODE_INPUT, "description": "Hugging Face token",
                        "password": True}],
            "servers": {name: {"type": "http", "url": url,
                               "headers": {"Authorization": f"Bearer ${{input:{_VSCODE_INPUT}}}"}}},
        }
        note = (f"A private Space answers only with its owner's token: set {TOKEN_ENV} (Claude Code reads it when the "
                "command runs, Cursor when it starts); VS Code asks for it once.")
    else:
        headers = {}
        claude = f"claude mcp add --transport http {name} {url}"
        cursor = {"mcpServers": {name: {"url": url}}}
        vscode = {"servers": {name: {"type": "http", "url": url}}}
        note = ("This URL is loopback (the local backend): it answers on this machine only and needs no token."
                if _loopback(app) else "This app needs no token.")
    note += f" Call the tool {tool!r} with the API's parameters by name; a file input takes an http(s) or data: URL."
    return McpAccess(url=url, tool=tool, headers=headers, note=note,
                     clients=McpClients(claude_code=claude, cursor=json.dumps(cursor, indent=2),
                                        vscode=json.dumps(vscode, indent=2)))


def _loopback(app: AppUrl) -> bool:
    return app.host == "localhost" if app.address is None else is_loopback(app.address)
