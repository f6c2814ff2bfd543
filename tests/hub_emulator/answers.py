"""How the emulator answers besides plain JSON: the Hub's error shape, raised from any route, and SSE streams."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

# Stamped in the past: the client drops events stamped after the response's Date (hf-apis.md §1.4).
_SSE_TIMESTAMP = "2026-01-01T00:00:00.000Z"


class HubError(Exception):
    """An error answer, raised from a route or a dependency and sent by `answer_hub_error`.

    The body is the Hub's `{"error": message, **extra}`; with `message=None` the answer has no body (the
    Hub's bare 404 for a missing file). `code` goes into `X-Error-Code`, which huggingface_hub reads to
    choose its exception type (RepoNotFound, EntryNotFound).
    """

    def __init__(self, status: int, message: str | None, code: str | None = None, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.extra = extra


def answer_hub_error(request: Request, error: HubError) -> Response:
    """The exception handler for `HubError`."""
    headers = {**({"X-Error-Code": error.code} if error.code else {}), **error.headers}
    if error.message is None:
        return Response(status_code=error.status, headers=headers)
    return JSONResponse({"error": error.message, **error.extra}, status_code=error.status, headers=headers)


def event_stream(lines: list[str]) -> StreamingResponse:
    """Log lines as the Hub streams them: one server-sent event per line."""
    body = "".join(f"data: {json.dumps({'data': line, 'timestamp': _SSE_TIMESTAMP})}\n\n" for line in lines)
    return StreamingResponse(iter([body.encode()]), media_type="text/event-stream")
