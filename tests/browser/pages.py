"""Pages the browser tests serve themselves from 127.0.0.1: a trivial page for the harness, the fake MCP host."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Served:
    """One response: a body with its content type and extra headers (a CSP, say)."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


PostHandler = Callable[[bytes], Served]


@contextmanager
def serve_pages(pages: dict[str, Served], posts: dict[str, PostHandler] | None = None) -> Iterator[str]:
    """Serve `pages` (path → response; any other path is 404) on a free 127.0.0.1 port; yield the base URL.

    `posts` answers POSTs: path → a function of the request body (run on the server's thread). The dicts are
    read per request, so a test may add pages while the server runs."""
    post_handlers = posts if posts is not None else {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(pages.get(self.path.split("?", 1)[0]))

        def do_POST(self) -> None:
            handler = post_handlers.get(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(handler(body) if handler else None)

        def _answer(self, page: Served | None) -> None:
            if page is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in page.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-pages", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
