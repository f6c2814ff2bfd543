"""The run dashboard over HTTP (issue 12, DESIGN §13): `/runs`, a page for people, behind the same bearer auth as /mcp.

- `GET /runs`, `GET /runs/{run_id}`: the page shell, static HTML holding no data (no token is needed to load it).
- `GET /runs/static/{name}`: its script and style sheet, from a fixed allow-list read from the package at import;
  nothing from the request ever reaches the filesystem.
- `GET /runs/api/...`: JSON behind the server's own token verifier (the SDK's `RequireAuthMiddleware`, exactly as
  /mcp: a refusal is the same 401 with `WWW-Authenticate`), the token read from the `Authorization` header only.
  Each endpoint answers the structured result of the tool it names, built by the same function for the same
  caller (`API_ENDPOINTS`), so the page sees what an agent sees, redacted alike, and another owner's run is
  "not found" (404).

Every answer carries a strict CSP (no inline script: the page loads its script from /runs/static), `nosniff` and
`no-referrer`; API answers are `no-store`. Only `serve --transport http` registers these routes: on stdio there is
no web page (the MCP App, `dashboard_app`, still works there).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, cast

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from space_factory.domain.errors import FactoryError, InvalidInput, RateLimited, RunNotFound
from space_factory.domain.ids import RUN_ID_PATTERN
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import RunId
from space_factory.server.auth import HttpAuth, current_caller
from space_factory.service import AGENT_TRACE_PAGE, Factory
from space_factory.tools.common import FactoryProvider, internal_error
from space_factory.tools.files import AppPath, app_files_answer
from space_factory.tools.gate import gate_view
from space_factory.tools.params import Cursor, Limit, MaxBytes, SinceSeq, TraceKind
from space_factory.tools.runs import RunsCursorParam

__all__ = ["API_ENDPOINTS", "PAGE_CSP", "TOKEN_STORAGE_KEY", "ApiEndpoint", "page_file", "register"]

_redactor = Redactor()
_RUN_ID = re.compile(RUN_ID_PATTERN)

# Where the page keeps the token: this tab's sessionStorage (dashboard.js), never a URL or a cookie.
TOKEN_STORAGE_KEY = "space-factory-token"
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_COMMON_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                   "Referrer-Policy": "no-referrer"}
_PAGE_HEADERS = {**_COMMON_HEADERS, "Cache-Control": "no-cache"}
_API_HEADERS = {**_COMMON_HEADERS, "Cache-Control": "no-store"}

# The files the package ships under server/static/, by the name a request may ask for, with their media types.
_STATIC_TYPES = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}


@functools.cache
def page_file(name: str) -> str:
    """The text of one of the page's shipped files: `dashboard.html`, `dashboard.js` or `dashboard.css`."""
    return files("space_factory.server").joinpath("static", name).read_text(encoding="utf-8")


_STATIC = {name: page_file(name).encode() for name in _STATIC_TYPES}  # read once, at import
_SHELL = page_file("dashboard.html").encode()


class _Query(BaseModel):
    """An endpoint's parameters, typed as the tool's: the same bounds and patterns, checked once, here."""

    model_config = ConfigDict(extra="forbid")


class _RunsQuery(_Query):
    limit: Limit = 20
    cursor: RunsCursorParam = None


class _RunQuery(_Query):
    run_id: RunId


class _StatusQuery(_RunQuery):
    since_seq: SinceSeq = 0


class _FilesQuery(_RunQuery):
    path: AppPath = None


class _TraceQuery(_RunQuery):
    kind: TraceKind = "worker"
    cursor: Cursor = 0
    max_bytes: MaxBytes = AGENT_TRACE_PAGE


@dataclass(frozen=True)
class ApiEndpoint:
    """One `/runs/api` endpoint: the tool whose structured result it answers, and the function both call."""

    path: str
    tool: str
    query: type[_Query]
    answer: Callable[[Factory, Any], BaseModel]


API_ENDPOINTS = (
    ApiEndpoint("/runs/api/runs", "list_runs", _RunsQuery,
                lambda f, q: f.runs_page(limit=q.limit, cursor=q.cursor)),
    ApiEndpoint("/runs/api/runs/{run_id}/status", "get_run_status", _StatusQuery,
                lambda f, q: f.run_status(q.run_id, q.since_seq)),
    ApiEndpoint("/runs/api/runs/{run_id}/gate", "get_gate", _RunQuery, lambda f, q: gate_view(f, q.run_id)),
    ApiEndpoint("/runs/api/runs/{run_id}/files", "get_app_files", _FilesQuery,
                lambda f, q: app_files_answer(f, q.run_id, q.path)),
    ApiEndpoint("/runs/api/runs/{run_id}/trace", "fetch_trace_redacted", _TraceQuery,
                lambda f, q: f.trace(q.run_id, q.kind, q.cursor, q.max_bytes)),
)


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": _redactor.redact_text(message)}, status_code=status, headers=_API_HEADERS)


def _invalid(exc: ValidationError) -> JSONResponse:
    # Field and rule only: the rejected value is the caller's own input and may be anything (STYLE R6).
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}" for e in exc.errors())
    return _problem(400, f"invalid parameters: {problems}")


def _api_handler(endpoint: ApiEndpoint, provider: FactoryProvider) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        given: dict[str, str] = dict(request.query_params)
        if set(given) & set(request.path_params):
            return _problem(400, "invalid parameters: the run id goes in the path only")
        try:
            query = endpoint.query.model_validate({**given, **request.path_params})
        except ValidationError as exc:
            return _invalid(exc)
        caller = current_caller()  # the verified subject of this request's bearer token, as the tools see it
        try:
            factory = provider(caller.subject, caller.token)
        except FactoryError as exc:
            return _problem(403, str(exc))
        except Exception:
            return _problem(500, internal_error("factory provider"))
        try:
            view = await anyio.to_thread.run_sync(functools.partial(endpoint.answer, factory, query))
        except RunNotFound as exc:
            return _problem(404, str(exc))
        except InvalidInput as exc:
            return _problem(400, str(exc))
        except RateLimited as exc:
            return _problem(429, str(exc))
        except FactoryError as exc:
            return _problem(409, str(exc))
        except Exception:
            return _problem(500, internal_error(endpoint.tool))
        return JSONResponse(view.model_dump(mode="json", by_alias=True), headers=_API_HEADERS)

    return handle


class _WithHeaders:
    """Adds fixed headers to every response of an ASGI app (the SDK's 401 included)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _shell(request: Request) -> Response:
    run_id = request.path_params.get("run_id")
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        return Response("not found\n", status_code=404, media_type="text/plain", headers=_PAGE_HEADERS)
    return Response(_SHELL, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    body = _STATIC.get(name)  # the allow-list is the lookup: a name it lacks (`..`, encoded or not) is a 404
    if body is None:
        return Response("not found\n", status_code=404, media_type="text/plain", headers=_PAGE_HEADERS)
    return Response(body, media_type=_STATIC_TYPES[name], headers=_PAGE_HEADERS)


def register(app: MCPServer[Any], provider: FactoryProvider, http_auth: HttpAuth) -> None:
    """Add the dashboard's routes to the HTTP server; its API answers behind `http_auth`'s verifier.

    `MCPServer.custom_route` routes are not authenticated by the SDK; the API routes are wrapped in the SDK's
    `RequireAuthMiddleware`, which reads the identity the server's `AuthenticationMiddleware` (built from the same
    verifier as /mcp) put on the request.
    """
    app.custom_route("/runs", methods=["GET"])(_shell)
    app.custom_route("/runs/{run_id}", methods=["GET"])(_shell)
    app.custom_route("/runs/static/{name}", methods=["GET"])(_static)
    metadata_url = build_resource_metadata_url(AnyHttpUrl(http_auth.resource_url))
    for endpoint in API_ENDPOINTS:
        guarded = RequireAuthMiddleware(request_response(_api_handler(endpoint, provider)), [], metadata_url)
        # custom_route takes any ASGI endpoint (Starlette's Route serves a non-function as an ASGI app).
        app.custom_route(endpoint.path, methods=["GET"])(cast(Any, _WithHeaders(guarded, _API_HEADERS)))
