"""The gate's `mcp` check (DESIGN §13): the app's endpoint called as an MCP tool, judged like the API's output.

`tools/list` and one `tools/call` of the chosen endpoint's tool, with the API check's sample, over streamable HTTP
with the factory's own MCP client (mcp 2, which opens the session of the older version Gradio's mcp 1 server
speaks: `mode="auto"` tries discovery, then `initialize`). Everything goes to the app's one origin (`worker.origin`):
the same pinned address, the same headers (a private Space's token) and a guard refusing any other origin, redirects
and file downloads included. Every wait is bounded. The result is only evidence beside the API check: nothing here
changes the gate's status.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import anyio
import httpx2

from space_factory.domain.excerpts import describe_type, excerpt
from space_factory.domain.mcp_content import McpOutput, mcp_output
from space_factory.domain.mcp_surface import McpCheck, McpFailure, mcp_url, tool_for_endpoint
from space_factory.domain.schemas import ApiEndpoint, OutputVerdict, PredictCall
from space_factory.domain.targets import AppUrl
from space_factory.domain.tasks import InputSlot
from space_factory.worker.origin import OriginGuard, PinnedApp
from space_factory.worker.samples import Sample

__all__ = ["DEFAULT_SESSION_TIMEOUT", "check_mcp"]

DEFAULT_SESSION_TIMEOUT = 30.0
MAX_TOOLS_KEPT = 50
MAX_SCHEMA_BYTES = 1024 * 1024
MAX_FILE_BYTES = 32 * 1024 * 1024

Judge = Callable[[object, Mapping[str, bytes]], OutputVerdict]


class _AsyncOriginGuard(httpx2.Auth):
    """`worker.origin.OriginGuard` for the MCP client's httpx2: each request, connection and redirect hop is held to
    the app's origin (httpcore2's async `trace` hook is checked before each connect and each request's headers)."""

    def __init__(self, origin: AppUrl) -> None:
        self.guard = OriginGuard(origin)

    def _require(self, scheme: str, host: str, port: int | None) -> None:
        if not self.guard.allows(scheme, host, port):
            raise httpx2.ConnectError(f"refused a request for {scheme}://{host}:{port}: the check talks only to "
                                      f"{self.guard.origin.origin}")

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        if (target := self.guard.trace_target(event, info)) is not None:
            self._require(*target)

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        self._require(request.url.scheme, request.url.host, request.url.port)
        request.extensions = {**request.extensions, "trace": self._trace}
        yield request


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _reason(exc: BaseException) -> str:
    """The innermost error of an exception (task groups wrap the transport's), in one short line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _arguments(endpoint: ApiEndpoint, slots: Mapping[str, str], sample: Sample) -> dict[str, object]:
    """The API check's inputs by parameter name (Gradio's tool schema uses the API's names); a file as a data: URL,
    which Gradio's MCP server saves and hands to the endpoint like an upload."""
    chosen = slots or ({endpoint.parameters[0].name: InputSlot.TEXT.value} if endpoint.parameters else {})
    arguments: dict[str, object] = {}
    for name, slot in chosen.items():
        value = sample.value(InputSlot(slot)) if slots else (sample.file if sample.file is not None else sample.text)
        if value is None:
            continue
        if isinstance(value, str):
            arguments[name] = value
        else:
            mime = mimetypes.guess_type(value.name)[0] or "application/octet-stream"
            arguments[name] = f"data:{mime};base64,{base64.b64encode(value.read_bytes()).decode('ascii')}"
    return arguments


async def _get(http: httpx2.AsyncClient, url: str, *, limit: int) -> tuple[int, bytes | None]:
    """GET `url`: the status, and the body when it is at most `limit` bytes."""
    async with http.stream("GET", url) as response:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                return response.status_code, None
        return response.status_code, bytes(body)


def _on_origin(url: str, app: PinnedApp) -> str | None:
    """`url` rewritten to dial the pinned address, when it is on the app's own origin; None for any other origin."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError):
        return None
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    for origin in (app.url, app.dial):
        if (parsed.scheme, parsed.host.lower(), port) == (origin.scheme, origin.host, origin.port):
            return str(parsed.copy_with(scheme=app.dial.scheme, host=app.dial.host, port=app.dial.port))
    return None


async def _fetch_files(http: httpx2.AsyncClient, app: PinnedApp, output: McpOutput) -> None:
    """Add the bytes of each file URL the output names, from the app's origin only (bounded), to `output.files`."""
    for url in output.urls:
        dial = _on_origin(url, app)
        if dial is None:
            continue  # another origin never gets the request (nor the token); the judge says it had no bytes
        try:
            status, body = await _get(http, dial, limit=MAX_FILE_BYTES)
        except httpx2.HTTPError:
            continue
        if status == 200 and body is not None:
            output.files[url] = body


async def _tool_endpoints(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Gradio's `/gradio_api/mcp/schema`: tool name → endpoint name; empty when the app does not serve it."""
    try:
        status, body = await _get(http, url + "schema", limit=MAX_SCHEMA_BYTES)
        items = json.loads(body or b"null") if status == 200 else None
    except (httpx2.HTTPError, ValueError):
        return {}
    if not isinstance(items, list):
        return {}
    found: dict[str, str] = {}
    for item in items:
        meta = item.get("meta") if isinstance(item, dict) else None
        if isinstance(meta, dict) and isinstance(item.get("name"), str) and isinstance(meta.get("endpoint_name"), str):
            found[item["name"]] = meta["endpoint_name"]
    return found


async def _check(app: PinnedApp, endpoint: ApiEndpoint, arguments: dict[str, object], sample: Sample,
                 judge: Judge, result: McpCheck, call_timeout: float) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    dial_url = mcp_url(app.dial)
    async with httpx2.AsyncClient(headers=dict(app.headers), auth=_AsyncOriginGuard(app.dial), trust_env=False,
                                  follow_redirects=False,
                                  timeout=httpx2.Timeout(DEFAULT_SESSION_TIMEOUT, read=call_timeout)) as http:
        try:
            # The status only: a GET may open a server's event stream, whose body never ends.
            async with http.stream("GET", dial_url, headers={"Accept": "text/html"}) as response:
                status = response.status_code
        except httpx2.HTTPError as exc:
            result.failure, result.detail = McpFailure.NOT_SERVED, f"GET {result.url} failed: {_reason(exc)}"
            return
        if status == 404:
            result.failure = McpFailure.NOT_SERVED
            result.detail = f"GET {result.url} answered 404: the app serves no MCP endpoint (mcp_server=True)"
            return
        stage = McpFailure.TOOLS_LIST_FAILED
        try:
            async with Client(streamable_http_client(dial_url, http_client=http), mode="auto",
                              read_timeout_seconds=call_timeout) as client:
                result.protocol_version = client.protocol_version
                listed = [tool.name for tool in (await client.list_tools()).tools]
                result.tools = listed[:MAX_TOOLS_KEPT]
                tool = tool_for_endpoint(endpoint.api_name, listed, await _tool_endpoints(http, dial_url))
                if tool is None:
                    result.failure = McpFailure.TOOL_MISSING
                    result.detail = (f"tools/list named {len(listed)} tool(s), none for {endpoint.api_name} "
                                     f"({', '.join(listed[:5]) or 'none'})")
                    return
                result.tool, stage = tool, McpFailure.CALL_ERROR
                started = time.monotonic()
                answer = await client.call_tool(tool, arguments)
                latency = _ms(started)
        except Exception as exc:  # a session that fails, a timeout, a transport error: all are evidence
            result.failure, result.detail = stage, _reason(exc)
            if stage is McpFailure.CALL_ERROR:
                result.call = PredictCall(inputs=[sample.describe()], error=result.detail)
            return
        blocks = [block.model_dump(mode="json", by_alias=True) for block in answer.content]
        if answer.is_error:
            text = next((str(b.get("text")) for b in blocks if b.get("type") == "text"), "")
            error = text.strip().splitlines()[0][:300] if text.strip() else "the tool answered isError"
            result.call = PredictCall(inputs=[sample.describe()], latency_ms=latency, error=error)
            result.failure, result.detail = McpFailure.CALL_ERROR, error
            return
        output = mcp_output(blocks, [r.component for r in endpoint.returns])
        await _fetch_files(http, app, output)
    result.call = PredictCall(inputs=[sample.describe()], output_excerpt=excerpt(output.value),
                              output_type=describe_type(output.value), latency_ms=latency)
    result.verdict = judge(output.value, output.files)
    note = f" ({output.note})" if output.note else ""
    if not result.verdict.ok:
        result.failure, result.detail = McpFailure.OUTPUT_REFUSED, result.verdict.detail + note
        return
    result.ok = True
    result.detail = (f"tools/list named {len(listed)} tool(s); {tool} answered in {latency} ms: "
                     f"{result.verdict.detail}{note}")


def check_mcp(app: PinnedApp, endpoint: ApiEndpoint, slots: Mapping[str, str], sample: Sample, *, judge: Judge,
              call_timeout: float) -> McpCheck:
    """List the app's MCP tools, call the tool of `endpoint` with `sample`, and judge its output with `judge`.

    Args:
        app: the app, pinned (its headers go to its origin only).
        endpoint: the API endpoint the API check called; `slots` maps its parameters to the sample's inputs.
        judge: the API's judgement of an output (given the output and its files' bytes).
        call_timeout: seconds the tool call may take (the API check's predict timeout); opening the session
            and listing the tools get `DEFAULT_SESSION_TIMEOUT` more.

    Returns:
        What the check saw; `failure` names the step that stopped it. It never raises for what the app does.
    """
    started = time.monotonic()
    result = McpCheck(ok=False, url=mcp_url(app.url))
    arguments = _arguments(endpoint, slots, sample)

    async def run() -> None:
        with anyio.move_on_after(DEFAULT_SESSION_TIMEOUT * 2 + call_timeout) as scope:
            await _check(app, endpoint, arguments, sample, judge, result, call_timeout)
        if scope.cancelled_caught and not result.failure and not result.ok:
            result.failure = McpFailure.CALL_ERROR if result.tool else McpFailure.TOOLS_LIST_FAILED
            result.detail = "the MCP check timed out"

    anyio.run(run)
    result.duration_ms = _ms(started)
    return result
