"""A fake MCP Apps host: Claude Desktop at the wire, for the dashboard's MCP App in a real Chromium.

The host page (served from 127.0.0.1) renders the `ui://` view in a sandboxed iframe (`allow-scripts` only: an
opaque origin, no storage, no cookies, the host's CSP inherited by the srcdoc document) and speaks the MCP Apps
bridge (ext-apps spec, JSON-RPC 2.0 over postMessage): it answers `ui/initialize`, pushes the tool's input and
result once the view says `ui/notifications/initialized`, and proxies the view's `tools/call` and
`resources/read` to the real server through `McpWire` (a real SDK client over streamable HTTP, per request).
Every message the view sent is kept in `window.fakeHost.seen` for the test to read.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import httpx2
from mcp import Client
from mcp.client.extension import advertise
from mcp.client.streamable_http import streamable_http_client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from tests.browser.pages import Served, serve_pages

# What a host like Claude's enforces on a view whose resource asks for no extra domains (ext-apps spec, default CSP).
VIEW_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self'; media-src 'self' data:; connect-src 'self'; frame-src 'self'")

HOST_HTML = b"""<!doctype html><meta charset=utf-8><title>fake MCP host</title>
<h1>A chat</h1><p>The assistant called get_gate.</p>
<iframe id=view sandbox=allow-scripts title="MCP App" style="width:100%;height:800px;border:1px solid #ccc"></iframe>
<script src=/host.js></script>"""

HOST_JS = b"""'use strict';
const frame = document.getElementById('view');
const seen = [];
window.fakeHost = { seen, proxied: [], initialized: false };
let tool = null;
const post = (message) => frame.contentWindow.postMessage(message, '*');

async function proxy(method, params) {
  window.fakeHost.proxied.push({ method, params });
  const answer = await fetch('/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                       body: JSON.stringify({ method, params }) });
  return answer.json();
}

window.addEventListener('message', async (event) => {
  if (event.source !== frame.contentWindow) return;
  const message = event.data;
  if (!message || message.jsonrpc !== '2.0') return;
  seen.push(message);
  if (message.method === 'ui/initialize') {
    post({ jsonrpc: '2.0', id: message.id, result: {
      protocolVersion: (message.params && message.params.protocolVersion) || '2026-01-26',
      hostInfo: { name: 'fake-host', version: '1.0.0' },
      hostCapabilities: { serverTools: {}, serverResources: {}, logging: {} },
      hostContext: { theme: 'light', displayMode: 'inline', platform: 'desktop', locale: 'en-US',
                     toolInfo: { tool: tool.tool } } } });
  } else if (message.method === 'ui/notifications/initialized') {
    window.fakeHost.initialized = true;
    post({ jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: { arguments: tool.arguments } });
    post({ jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: tool.result });
  } else if (message.id !== undefined && message.method) {
    const answer = (message.method === 'tools/call' || message.method === 'resources/read')
      ? await proxy(message.method, message.params)
      : { error: { code: -32601, message: 'the fake host does not implement ' + message.method } };
    post({ jsonrpc: '2.0', id: message.id, ...answer });
  }
});

(async () => {
  tool = await (await fetch('/tool.json')).json();
  frame.srcdoc = await (await fetch('/view.html')).text();
})();
"""


class Wire(Protocol):
    """Where the host sends the view's requests."""

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]: ...


def _wire(value: Any) -> Any:
    """An SDK result as the JSON the wire carries (camelCase aliases, no nulls)."""
    return value.model_dump(by_alias=True, exclude_none=True, mode="json")


@dataclass(frozen=True)
class McpWire:
    """The real server, reached with a real SDK client over streamable HTTP that declares MCP Apps support
    (as a host that renders views does); one short-lived client per operation, so any thread may call."""

    base: str
    token: str

    def run(self, operation: Callable[[Client], Awaitable[Any]]) -> Any:
        async def with_client() -> Any:
            headers = {"Authorization": f"Bearer {self.token}"}
            async with (httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
                        Client(streamable_http_client(f"{self.base}/mcp", http_client=http), mode="auto",
                               extensions=[advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]) as client):
                return await operation(client)

        return anyio.run(with_client)

    def tool(self, name: str) -> dict[str, Any]:
        """A tool's definition from tools/list, as the wire carries it."""

        async def listed(client: Client) -> list[Any]:
            return list((await client.list_tools()).tools)

        found = [t for t in self.run(listed) if t.name == name]
        assert found, f"the server lists no tool {name!r}"
        return dict(_wire(found[0]))

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        async def called(client: Client) -> Any:
            return await client.call_tool(name, arguments)

        return dict(_wire(self.run(called)))

    def read_resource(self, uri: str) -> dict[str, Any]:
        async def read(client: Client) -> Any:
            return await client.read_resource(uri)

        return dict(_wire(self.run(read)))

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """What the host replies to a view's request it proxies: `{"result": …}` or `{"error": …}`."""
        try:
            if method == "tools/call":
                return {"result": self.call_tool(str(params["name"]), dict(params.get("arguments") or {}))}
            return {"result": self.read_resource(str(params["uri"]))}
        except Exception as error:  # the view sees a JSON-RPC error, the test sees it in `proxied`
            return {"error": {"code": -32603, "message": f"{type(error).__name__}: {error}"}}


@dataclass
class HostedCall:
    """The tool call the chat made, which the host renders the view for."""

    tool: dict[str, Any]
    arguments: dict[str, Any]
    result: dict[str, Any]
    proxied: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@contextmanager
def fake_host(view_html: str, call: HostedCall, wire: Wire) -> Iterator[str]:
    """Serve the host page for `call` with `view_html` as its view; yield the host page's URL."""

    def rpc(body: bytes) -> Served:
        request = json.loads(body)
        call.proxied.append((str(request["method"]), dict(request.get("params") or {})))
        answer = wire.answer(str(request["method"]), dict(request.get("params") or {}))
        return Served(json.dumps(answer).encode(), "application/json")

    tool = {"tool": call.tool, "arguments": call.arguments, "result": call.result}
    pages = {"/": Served(HOST_HTML, headers={"Content-Security-Policy": VIEW_CSP}),
             "/host.js": Served(HOST_JS, "text/javascript"),
             "/tool.json": Served(json.dumps(tool).encode(), "application/json"),
             "/view.html": Served(view_html.encode(), "text/html; charset=utf-8")}
    with serve_pages(pages, {"/rpc": rpc}) as base:
        yield f"{base}/"
