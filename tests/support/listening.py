"""Real uvicorn servers for tests: one that says when it listens, and an MCP app served in-process."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn

from tests.support.ports import free_port


class ListeningServer(uvicorn.Server):
    """uvicorn's server with an event set once it listens (start it in a thread, then wait on `listening`)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@asynccontextmanager
async def serving(app_factory: Callable[[str], Any], *, stateless: bool = True) -> AsyncIterator[str]:
    """A real uvicorn on a free 127.0.0.1 port serving the MCP app `app_factory(base_url)` over streamable HTTP.

    Yields the base URL (the MCP endpoint is `<base>/mcp`); the server stops when the block ends.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = app_factory(base)
    server = uvicorn.Server(uvicorn.Config(app.streamable_http_app(stateless_http=stateless), host="127.0.0.1",
                                           port=port, log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.02)
        try:
            yield base
        finally:
            server.should_exit = True
