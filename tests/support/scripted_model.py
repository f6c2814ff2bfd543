"""A scripted model: a loopback OpenAI-compatible streaming chat-completions server that plays the model.

The script is a list of steps, one per request (turn): a tool call (`write`, `edit`, `bash`, `read`, or any
`ToolCall`), a final `Text`, a `Fault` (`http500`, `malformed`, `hang`, `stall`) or a callable that picks the
step from the request it answers. Once the script is spent every further request gets `then` (a final text by
default). Every request is recorded (time, authorization header, headers, parsed body) for assertions; the
wire format is the one `reference/pi-1.6.md` §4/§6 shows Pi speaking.

Example (what Pi does, by hand):
    >>> import json, urllib.request
    >>> with ScriptedModel([write("app.py", "print(1)\\n"), Text("done")]) as model:
    ...     ask = urllib.request.Request(model.base_url + "/chat/completions", data=b'{"messages": []}',
    ...                                  headers={"Authorization": "Bearer dummy"})
    ...     frames = urllib.request.urlopen(ask).read().decode().split("\\n\\n")
    >>> json.loads(frames[0].removeprefix("data: "))["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]
    'write'
    >>> frames[-2], model.requests[0].authorization
    ('data: [DONE]', 'Bearer dummy')
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["Fault", "Request", "ScriptedModel", "Step", "Text", "ToolCall", "bash", "edit", "read", "write"]


@dataclass(frozen=True)
class ToolCall:
    """The model calls tool `name` with `args` (one call per turn)."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Text:
    """The model answers with `text` and stops (`finish_reason: stop`)."""

    text: str


@dataclass(frozen=True)
class Fault:
    """The server misbehaves for this turn.

    `http500`: status 500 with a JSON error body. `malformed`: a tool-call frame, then a frame that is not JSON.
    `hang`: no response headers for `seconds`. `stall`: headers and one text frame, then silence for `seconds`.
    A hang or stall ends early when the server closes.
    """

    kind: Literal["http500", "malformed", "hang", "stall"]
    seconds: float = 60.0


@dataclass(frozen=True)
class Request:
    """One request as the server received it. `time` is `time.monotonic()` on arrival."""

    time: float
    path: str
    authorization: str | None
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tool_results(self) -> list[str]:
        """The text of every tool result the client sent back so far (role `tool`), oldest first."""
        results = []
        for message in self.messages:
            if message.get("role") == "tool":
                content = message.get("content")
                results.append(content if isinstance(content, str) else json.dumps(content))
        return results


Step = ToolCall | Text | Fault | Callable[[Request], "ToolCall | Text | Fault"]


def write(path: str, content: str) -> ToolCall:
    return ToolCall("write", {"path": path, "content": content})


def edit(path: str, old: str, new: str) -> ToolCall:
    return ToolCall("edit", {"path": path, "edits": [{"oldText": old, "newText": new}]})


def bash(command: str) -> ToolCall:
    return ToolCall("bash", {"command": command})


def read(path: str) -> ToolCall:
    return ToolCall("read", {"path": path})


@dataclass
class ScriptedModel:
    """The server; use it as a context manager. `base_url` is the `/v1` URL to give the client."""

    steps: Sequence[Step]
    then: Step = Text("Done.")
    requests: list[Request] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the scripted model is not serving: use it in a `with` block")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def __enter__(self) -> ScriptedModel:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="scripted-model", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; hanging and stalled replies are released."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _record(self, request: Request) -> tuple[int, ToolCall | Text | Fault]:
        """Record `request`; the turn it is (0-based) and the step that answers it."""
        with self._lock:
            turn = len(self.requests)
            self.requests.append(request)
        step = self.steps[turn] if turn < len(self.steps) else self.then
        return turn, step(request) if callable(step) else step


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


_USAGE = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
          "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def _tool_frames(call: ToolCall, turn: int) -> list[dict[str, Any]]:
    wire = {"index": 0, "id": f"call_{turn}", "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.args)}}
    return [_chunk({"role": "assistant", "tool_calls": [wire]}), _chunk({}, "tool_calls"), _USAGE]


def _handler_for(model: ScriptedModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads `requests`
            pass

        def do_POST(self) -> None:
            arrived = time.monotonic()
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            turn, step = model._record(Request(arrived, self.path, self.headers.get("Authorization"),
                                         {k.lower(): v for k, v in self.headers.items()}, body))
            if isinstance(step, Fault) and step.kind == "http500":
                self._send(500, "application/json",
                           json.dumps({"error": {"message": "scripted boom", "type": "server_error"}}).encode())
                return
            if isinstance(step, Fault) and step.kind == "hang":
                model._closing.wait(step.seconds)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if isinstance(step, Fault) and step.kind == "malformed":
                self._frames(_tool_frames(ToolCall("write", {"path": "x.py", "content": ""}), 0)[:1])
                self.wfile.write(b"data: {not json\n\ndata: [DONE]\n\n")
            elif isinstance(step, Fault):  # stall
                self._frames([_chunk({"role": "assistant", "content": "thinking"})])
                self.wfile.flush()
                model._closing.wait(step.seconds)
            elif isinstance(step, ToolCall):
                self._frames(_tool_frames(step, turn))
                self.wfile.write(b"data: [DONE]\n\n")
            else:
                self._frames([_chunk({"role": "assistant", "content": step.text}), _chunk({}, "stop"), _USAGE])
                self.wfile.write(b"data: [DONE]\n\n")

        def do_GET(self) -> None:
            self._send(404, "application/json", b'{"error": {"message": "only POST /v1/chat/completions"}}')

        def _frames(self, frames: list[dict[str, Any]]) -> None:
            for frame in frames:
                self.wfile.write(b"data: " + json.dumps(frame).encode() + b"\n\n")

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
