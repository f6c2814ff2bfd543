"""Calling a built Space as an MCP tool exactly as its gate's `how_to_call.mcp` says (DESIGN §13), with the
factory's own MCP client (mcp 2) against Gradio's server (mcp 1), and the inputs the e2e tests send."""

from __future__ import annotations

import ast
import base64
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.media_samples import png_bytes, wav_bytes

PLACEHOLDER = "<your HF token>"


async def call_as_told(mcp: dict[str, Any], arguments: dict[str, object], *, token: str | None = None) -> Any:
    """`tools/call` of `mcp["tool"]` at `mcp["url"]` with `mcp["headers"]`, the placeholder replaced by `token`.

    Returns:
        The `CallToolResult`, and the tool names tools/list gave, as a tuple.
    """
    headers = {name: value.replace(PLACEHOLDER, token or PLACEHOLDER) for name, value in mcp["headers"].items()}
    async with (httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
                Client(streamable_http_client(mcp["url"], http_client=http)) as client):
        tools = [tool.name for tool in (await client.list_tools()).tools]
        return await client.call_tool(mcp["tool"], arguments), tools




def arguments_for(how_to_call: dict[str, Any], test_result: dict[str, Any]) -> dict[str, object]:
    """One value per parameter of `how_to_call`: the API check's own text (it fits the task: a fill-mask text holds
    the mask), or a data: URL of a small PNG or WAV for a file parameter."""
    described = test_result["call"]["inputs"][0]
    text = ast.literal_eval(described) if described.startswith(("'", '"')) else "Hello there."
    arguments: dict[str, object] = {}
    for parameter in how_to_call["parameters"]:
        if parameter["component"] == "Image":
            arguments[parameter["name"]] = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
        elif parameter["component"] == "Audio":
            wav = wav_bytes(frames=16000, rate=16000)  # one second at the rate speech models expect
            arguments[parameter["name"]] = "data:audio/wav;base64," + base64.b64encode(wav).decode()
        elif not parameter["has_default"]:
            arguments[parameter["name"]] = text
    return arguments
