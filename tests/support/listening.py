"""A uvicorn server that says when it listens, so a test waits on an event instead of polling a port."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn


class ListeningServer(uvicorn.Server):
    """uvicorn's server with an event set once it listens (start it in a thread, then wait on `listening`)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.listening.set()
