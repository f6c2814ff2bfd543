"""The Hub's auth proxy in front of a private Space's app (`https://<owner>-<name>.hf.space` on the Hub).

Each private Space that runs gets one proxy on its own loopback port (so the app keeps its root path, as behind
its own subdomain); `space_info().host` names the proxy, never the app. A request passes only with the owner's
token, as `Authorization: Bearer` (what the factory's live check sends) or `x-hf-authorization: Bearer` (what
gradio_client sends); anything else is answered 404, as the Hub hides a private repo. Streams (the queue's SSE)
are passed through as they come.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.listening import ListeningServer
from tests.support.ports import free_port

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
               "host", "content-length"}
_START_TIMEOUT = 20.0


def _bearer(value: str) -> str:
    return value.removeprefix("Bearer ").strip() if value.startswith("Bearer ") else ""


def proxy_app(target: str, allowed: Callable[[str], bool]) -> Starlette:
    """An ASGI app forwarding every request to `target` when `allowed(token)` holds for its bearer token."""
    client = httpx.AsyncClient(base_url=target.rstrip("/"), timeout=None)

    async def forward(request: Request) -> Response:
        tokens = [_bearer(request.headers.get(name, "")) for name in ("authorization", "x-hf-authorization")]
        if not any(token and allowed(token) for token in tokens):
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        headers.append(("host", request.headers.get("host", "")))  # the app builds its URLs on the proxy's name
        upstream = client.build_request(request.method, request.url.path, params=request.url.query,
                                        headers=headers, content=await request.body())
        answer = await client.send(upstream, stream=True)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in answer.aiter_raw():
                yield chunk

        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(body(), status_code=answer.status_code, headers=kept,
                                 background=BackgroundTask(answer.aclose))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)


class SpaceProxies:
    """The running proxies, one per private Space, by Space id."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[str, str, ListeningServer, threading.Thread]] = {}
        self._lock = threading.Lock()

    def url_for(self, space_id: str, target: str, allowed: Callable[[str], bool]) -> str:
        """The proxy's URL for the Space whose app answers at `target` (started on first use, restarted when the
        app moved)."""
        with self._lock:
            running = self._running.get(space_id)
            if running is not None and running[1] == target:
                return running[0]
        self.stop(space_id)
        port = free_port()
        config = uvicorn.Config(proxy_app(target, allowed), host="127.0.0.1", port=port, log_level="warning")
        server = ListeningServer(config)
        thread = threading.Thread(target=server.run, daemon=True, name=f"space-proxy-{space_id}")
        thread.start()
        if not server.listening.wait(_START_TIMEOUT):
            raise RuntimeError(f"the auth proxy of {space_id} did not start")
        url = f"http://127.0.0.1:{port}"
        with self._lock:
            self._running[space_id] = (url, target, server, thread)
        return url

    def stop(self, space_id: str) -> None:
        with self._lock:
            running = self._running.pop(space_id, None)
        if running is not None:
            _, _, server, thread = running
            server.should_exit = True
            thread.join(_START_TIMEOUT)

    def stop_all(self) -> None:
        for space_id in list(self._running):
            self.stop(space_id)
