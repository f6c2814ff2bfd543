"""A real headless Chromium driven over the DevTools protocol (CDP), stdlib only.

Playwright's browser download cannot work here and the venv has no websocket client, so the browser is
Debian's `chromium`, started with `--remote-debugging-pipe`: CDP messages are NUL-terminated JSON, read by
Chromium on its fd 3 and written on its fd 4. One reader thread routes each answer to its caller and each
event to the page (flattened sessions: a message names its target's `sessionId`).

Every page lives in a browser context of its own (its own cookies and storage), records the console, the
uncaught exceptions and every JavaScript dialog (dismissed at once, so a test sees `alert(1)` as data and
the page never blocks), and exposes the frames it embeds (an out-of-process iframe as a session of its own).

The browser runs in a process group of its own; `Browser.close` ends the whole group, so no renderer or
zygote outlives a test session.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The real binary first: Debian's /usr/bin/chromium is a shell launcher that adds extension flags.
CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
CHROMIUM_ENV = "SPACE_FACTORY_CHROMIUM"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
         "--password-store=basic", "--use-mock-keychain", "--disable-breakpad", "--metrics-recording-only",
         "--disable-features=Translate,MediaRouter,OptimizationHints", "--window-size=1280,900")
CALL_TIMEOUT = 30.0

Handler = Callable[[str, dict[str, Any]], None]


class CdpError(RuntimeError):
    """Chromium answered a CDP call with an error, or the page threw where a value was expected."""


def find_chromium() -> str | None:
    """The Chromium binary: `$SPACE_FACTORY_CHROMIUM`, else the first of `CANDIDATES` that exists."""
    if os.environ.get(CHROMIUM_ENV):
        return os.environ[CHROMIUM_ENV]
    for name in CANDIDATES:
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


class _Pipe:
    """The CDP connection: numbered calls answered through the reader thread, events to the handlers."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self._write_fd, self._read_fd = write_fd, read_fd
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._pending_lock = threading.Lock()
        self._handlers: dict[str | None, Handler] = {}
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    def on(self, session_id: str | None, handler: Handler) -> None:
        """Route the events of one session (None: the browser's own) to `handler`, called on the reader thread."""
        self._handlers[session_id] = handler

    def off(self, session_id: str) -> None:
        self._handlers.pop(session_id, None)

    def post(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> None:
        """Send a call without waiting for its answer (safe from an event handler: it never blocks on one)."""
        self._write(next(self._ids), method, params, session_id)

    def call(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None,
             timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        """Send a call and return its `result`; raise CdpError on an error answer or after `timeout` seconds."""
        done, slot = threading.Event(), list[dict[str, Any]]()
        with self._pending_lock:
            message_id = next(self._ids)
            self._pending[message_id] = (done, slot)
        self._write(message_id, method, params, session_id)
        if not done.wait(timeout) or not slot:
            with self._pending_lock:
                self._pending.pop(message_id, None)
            raise CdpError(f"{method}: no answer within {timeout} s" if not self.closed.is_set()
                           else f"{method}: the browser is gone")
        answer = slot[0]
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error'].get('message')} {answer['error'].get('data', '')}".strip())
        return dict(answer.get("result", {}))

    def _write(self, message_id: int, method: str, params: dict[str, Any] | None, session_id: str | None) -> None:
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        data = json.dumps(message).encode() + b"\0"
        with self._write_lock:
            while data:
                data = data[os.write(self._write_fd, data):]

    def close(self) -> None:
        """Close our end of the pipe to the browser, wait for the reader to see the browser's end close (the
        browser is gone by then), then close that end too."""
        with contextlib.suppress(OSError):
            os.close(self._write_fd)
        self.closed.wait(5)
        with contextlib.suppress(OSError):
            os.close(self._read_fd)

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while chunk := os.read(self._read_fd, 1 << 16):
                buffer += chunk
                if b"\0" not in chunk:  # a long message arrives in many chunks: split once it is whole
                    continue
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    self._dispatch(json.loads(raw))
        except OSError:
            pass
        finally:
            self.closed.set()
            with self._pending_lock:
                for done, _ in self._pending.values():
                    done.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._pending_lock:
                waiting = self._pending.pop(message["id"], None)
            if waiting:
                waiting[1].append(message)
                waiting[0].set()
            return
        handler = self._handlers.get(message.get("sessionId"))
        if handler:
            handler(message["method"], message.get("params", {}))


@dataclass(frozen=True)
class ConsoleMessage:
    """One console call (`console.log`, `console.error`, …) or browser log entry (CSP violations, network)."""

    level: str
    text: str


@dataclass
class _Record:
    """What a page (or a frame of it) has said so far; appended to on the reader thread."""

    console: list[ConsoleMessage] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    loads: int = 0
    contexts: dict[int, str] = field(default_factory=dict)  # execution context id → frame id (default worlds)
    children: dict[str, Frame] = field(default_factory=dict)  # session id → out-of-process frame


def _remote_text(value: dict[str, Any]) -> str:
    if "value" in value:
        return value["value"] if isinstance(value["value"], str) else json.dumps(value["value"])
    return str(value.get("description", value.get("type", "")))


class Frame:
    """A document Chromium runs: a page's main frame or an iframe; evaluate JavaScript in it and wait on it."""

    def __init__(self, pipe: _Pipe, session_id: str, *, context_id: int | None = None, url_hint: str = "") -> None:
        self._pipe, self.session_id, self._context_id = pipe, session_id, context_id
        self.url_hint = url_hint  # the URL the frame was attached with (it may navigate on)
        self.record = _Record()
        self._changed = threading.Condition()

    def _send(self, method: str, params: dict[str, Any] | None = None, timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        return self._pipe.call(method, params, self.session_id, timeout)

    @property
    def console(self) -> list[ConsoleMessage]:
        return list(self.record.console)

    @property
    def exceptions(self) -> list[str]:
        return list(self.record.exceptions)

    @property
    def dialogs(self) -> list[str]:
        """Every alert/confirm/prompt/beforeunload the document opened, as `type: message`."""
        return list(self.record.dialogs)

    def enable(self) -> None:
        """Turn on the domains the record needs and auto-attach to out-of-process iframes."""
        for method in ("Page.enable", "Runtime.enable", "Network.enable", "Log.enable"):
            self._send(method)
        self._send("Page.setLifecycleEventsEnabled", {"enabled": True})
        self._send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True})

    def handle(self, method: str, params: dict[str, Any]) -> None:
        """One CDP event of this frame's session (reader thread): record it, never block on an answer."""
        record = self.record
        if method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_text(arg) for arg in params.get("args", []))
            record.console.append(ConsoleMessage(str(params.get("type", "log")), text))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            record.console.append(ConsoleMessage(f"{entry.get('source')}:{entry.get('level')}", entry.get("text", "")))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            record.exceptions.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Page.javascriptDialogOpening":
            record.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            self._pipe.post("Page.handleJavaScriptDialog", {"accept": False}, self.session_id)
        elif method == "Page.loadEventFired":
            record.loads += 1
        elif method == "Runtime.executionContextCreated":
            context = params.get("context", {})
            aux = context.get("auxData", {})
            if aux.get("isDefault"):
                record.contexts[int(context["id"])] = str(aux.get("frameId"))
        elif method == "Runtime.executionContextDestroyed":
            record.contexts.pop(int(params.get("executionContextId", -1)), None)
        elif method == "Runtime.executionContextsCleared":
            record.contexts.clear()
        elif method == "Target.attachedToTarget":
            self._attach_child(params)
        elif method == "Target.detachedFromTarget":
            child = record.children.pop(str(params.get("sessionId")), None)
            if child:
                self._pipe.off(child.session_id)
        with self._changed:
            self._changed.notify_all()

    def _attach_child(self, params: dict[str, Any]) -> None:
        session_id = str(params["sessionId"])
        child = Frame(self._pipe, session_id, url_hint=str(params.get("targetInfo", {}).get("url", "")))
        self.record.children[session_id] = child
        self._pipe.on(session_id, child.handle)
        # Enabling waits on answers, which arrive on the reader thread we are on: post, never call.
        for method in ("Runtime.enable", "Page.enable", "Network.enable", "Log.enable"):
            self._pipe.post(method, None, session_id)
        self._pipe.post("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False,
                                                 "flatten": True}, session_id)
        self._pipe.post("Runtime.runIfWaitingForDebugger", None, session_id)

    def evaluate(self, expression: str, *, timeout: float = CALL_TIMEOUT) -> Any:
        """The value of a JavaScript expression in this document (promises awaited, the result as JSON).

        Raises:
            CdpError: the expression threw (or its promise rejected); the message is the page's own.
        """
        params: dict[str, Any] = {"expression": expression, "returnByValue": True, "awaitPromise": True,
                                  "userGesture": True}
        if self._context_id is not None:
            params["contextId"] = self._context_id
        result = self._send("Runtime.evaluate", params, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(str(details.get("exception", {}).get("description") or details.get("text")))
        return result.get("result", {}).get("value")

    def wait_for(self, predicate: str, timeout: float = 10.0, what: str | None = None) -> Any:
        """The first truthy value of the JavaScript expression `predicate`, checked until `timeout` seconds
        (truthy as JavaScript says; an element is answered as `{}`).

        Raises:
            AssertionError: it stayed falsy; the message names what was awaited and the page's exceptions.
        """
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            with contextlib.suppress(CdpError):  # a document being replaced answers with an error for a moment
                # Truthiness is JavaScript's: a DOM node comes back as {} by value, yet it is there.
                checked = self.evaluate(f"(() => {{ const v = ({predicate}); return {{ok: !!v, v}}; }})()",
                                        timeout=max(1.0, deadline - time.monotonic()))
                if checked["ok"]:
                    return checked["v"] if checked.get("v") is not None else True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}; "
                                     f"{self._describe()}; exceptions: {self.exceptions[-3:]}, "
                                     f"console: {self.console[-5:]}")
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.2)

    def _describe(self) -> str:
        """Where the document is and what it shows, for a failure message (best effort)."""
        try:
            return str(self.evaluate("`at ${location.href} (state ${document.body?.dataset.state}): ` + "
                                     "JSON.stringify((document.body?.innerText ?? '').slice(0, 400))", timeout=2))
        except CdpError as error:
            return f"(the document did not answer: {error})"

    def text(self, selector: str) -> str | None:
        """The textContent of the first element matching `selector`, None when there is none."""
        return self.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? null")  # type: ignore[no-any-return]

    def fill(self, selector: str, text: str) -> None:
        """Focus an input and type `text` into it as a keyboard would (Input.insertText: input events fire)."""
        self.evaluate(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                      f"if (!el) throw new Error('no ' + {json.dumps(selector)}); el.focus(); el.value = ''; }})()")
        self._send("Input.insertText", {"text": text})

    def click(self, selector: str) -> None:
        """Click the middle of the first element matching `selector` with real mouse events."""
        box = self.evaluate(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                            f"if (!el) throw new Error('no ' + {json.dumps(selector)}); el.scrollIntoView(); "
                            "const r = el.getBoundingClientRect(); "
                            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        x, y = float(box[0]), float(box[1])
        for kind in ("mousePressed", "mouseReleased"):
            self._send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def performance_entries(self, entry_type: str) -> list[dict[str, Any]]:
        """`performance.getEntriesByType(entry_type)` as plain objects (paint, mark, navigation, resource…)."""
        return list(self.evaluate(f"performance.getEntriesByType({json.dumps(entry_type)}).map(e => e.toJSON())"))


class Page(Frame):
    """A tab in a browser context of its own: navigate it, read its history, reach the frames it embeds."""

    def __init__(self, pipe: _Pipe, session_id: str, target_id: str, context_id: str) -> None:
        super().__init__(pipe, session_id)
        self.target_id, self.browser_context_id = target_id, context_id

    def navigate(self, url: str, *, timeout: float = 20.0) -> None:
        """Load `url` and wait for its load event.

        Raises:
            CdpError: the navigation failed (refused connection, bad URL…).
        """
        with self._changed:
            loads = self.record.loads
        answer = self._send("Page.navigate", {"url": url}, timeout)
        if answer.get("errorText"):
            raise CdpError(f"navigating to {url}: {answer['errorText']}")
        self._wait_for_load_after(loads, timeout, url)

    def reload(self, *, timeout: float = 20.0) -> None:
        """Reload the document (bypassing the cache) and wait for its load event."""
        with self._changed:
            loads = self.record.loads
        self._send("Page.reload", {"ignoreCache": True})
        self._wait_for_load_after(loads, timeout, "the reloaded page")

    def _wait_for_load_after(self, loads: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.record.loads == loads:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CdpError(f"{what} did not load within {timeout} s")
                self._changed.wait(remaining)

    def add_init_script(self, source: str) -> None:
        """Run `source` in every document this tab loads from now on, before the document's own scripts."""
        self._send("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def history_urls(self) -> list[str]:
        """Every URL of the tab's session history (Page.getNavigationHistory)."""
        return [str(entry["url"]) for entry in self._send("Page.getNavigationHistory")["entries"]]

    def frame(self, matches: Callable[[str], bool], *, timeout: float = 10.0) -> Frame:
        """The embedded frame whose URL `matches` (about:srcdoc for a srcdoc iframe), once its document runs.

        An out-of-process iframe (a sandboxed one, under site isolation) is a session of its own; an
        in-process one is reached through its execution context in the page's session.
        """
        deadline = time.monotonic() + timeout
        while True:
            for child in list(self.record.children.values()):
                url = ""
                with contextlib.suppress(CdpError):
                    url = str(child.evaluate("location.href", timeout=2))
                if matches(url):
                    return child
            tree = self._send("Page.getFrameTree")["frameTree"]
            urls = dict(_frame_urls(tree.get("childFrames", [])))
            for context_id, frame_id in list(self.record.contexts.items()):
                if frame_id in urls and matches(urls[frame_id]):
                    return _InProcessFrame(self, context_id)
            if time.monotonic() > deadline:
                raise AssertionError(f"no embedded frame matched within {timeout} s (frames: {list(urls.values())}, "
                                     f"out-of-process: {[c.url_hint for c in self.record.children.values()]})")
            time.sleep(0.05)

    def cookies(self) -> list[dict[str, Any]]:
        """Every cookie of this page's browser context (Storage.getCookies), scripts-readable or not."""
        return list(self._pipe.call("Storage.getCookies", {"browserContextId": self.browser_context_id})["cookies"])

    def network_cookies(self) -> list[dict[str, Any]]:
        """The cookies Chromium would send for this page (Network.getCookies in the page's session)."""
        return list(self._send("Network.getCookies")["cookies"])


class _InProcessFrame(Frame):
    """An iframe running in its page's renderer: the page's session, evaluated in the frame's context."""

    def __init__(self, page: Page, context_id: int) -> None:
        super().__init__(page._pipe, page.session_id, context_id=context_id)
        self.record = page.record  # its console and dialogs arrive on the page's session


def _frame_urls(frames: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for node in frames:
        frame = node["frame"]
        yield str(frame["id"]), str(frame.get("url", "")) + str(frame.get("urlFragment", ""))
        yield from _frame_urls(node.get("childFrames", []))


class Browser:
    """One headless Chromium process (group) and its CDP pipe; pages open in fresh browser contexts."""

    def __init__(self, pid: int, pipe: _Pipe, profile: Path, log: Path) -> None:
        self.pid, self._pipe, self.profile, self.log = pid, pipe, profile, log
        self._reaped = False
        self.version = ""

    @classmethod
    def start(cls, *, executable: str | None = None, workdir: Path | None = None,
              extra_args: tuple[str, ...] = ()) -> Browser:
        """Start Chromium headless with a temporary profile (under `workdir` when given) and connect to it.

        Raises:
            FileNotFoundError: no Chromium is installed (scripts/browser.sh installs it).
            CdpError: it started but did not answer on the pipe.
        """
        binary = executable or find_chromium()
        if not binary:
            raise FileNotFoundError("no chromium found: run `bash scripts/browser.sh` to install it")
        profile = Path(tempfile.mkdtemp(prefix="sf-chromium-", dir=workdir))
        log = profile / "chromium.log"
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # posix_spawn, not Popen: the pipe ends must land on fds 3 and 4, and a preexec_fn is unsafe with threads.
            pid = os.posix_spawn(binary, [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
                                          *extra_args, "about:blank"], dict(os.environ),
                                 file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                               (os.POSIX_SPAWN_DUP2, log_fd, 1), (os.POSIX_SPAWN_DUP2, log_fd, 2),
                                               (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
                                               (os.POSIX_SPAWN_DUP2, from_browser_w, 4)],
                                 setsid=True)
        finally:
            for fd in (to_browser_r, from_browser_w, log_fd):
                os.close(fd)
        browser = cls(pid, _Pipe(to_browser_w, from_browser_r), profile, log)
        try:
            browser.version = str(browser._pipe.call("Browser.getVersion", timeout=30)["product"])
        except BaseException:
            browser.close()
            raise
        return browser

    def new_page(self) -> Page:
        """A blank tab in a new browser context (no cookies or storage shared with any other page)."""
        context_id = str(self._pipe.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"])
        target_id = str(self._pipe.call("Target.createTarget", {"url": "about:blank",
                                                                "browserContextId": context_id})["targetId"])
        attached = self._pipe.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        session_id = str(attached["sessionId"])
        page = Page(self._pipe, session_id, target_id, context_id)
        self._pipe.on(session_id, page.handle)
        page.enable()
        return page

    def close_page(self, page: Page) -> None:
        """Close a tab and dispose of its browser context (its storage and cookies go with it)."""
        with contextlib.suppress(CdpError):
            self._pipe.call("Target.closeTarget", {"targetId": page.target_id}, timeout=10)
            self._pipe.call("Target.disposeBrowserContext", {"browserContextId": page.browser_context_id}, timeout=10)
        self._pipe.off(page.session_id)

    @contextlib.contextmanager
    def page(self) -> Iterator[Page]:
        """A fresh page for one block, closed after it."""
        page = self.new_page()
        try:
            yield page
        finally:
            self.close_page(page)

    def alive(self) -> bool:
        """The browser process has not exited. It is not reaped here (WNOWAIT): while it is a zombie its pid stays
        reserved, so `close` can still signal its process group without hitting a recycled pid."""
        if self._reaped:
            return False
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    def close(self) -> None:
        """Ask Chromium to quit, then end its whole process group and delete the profile; idempotent."""
        if self._reaped:
            return
        if self.alive():
            with contextlib.suppress(OSError):
                self._pipe.post("Browser.close")
            deadline = time.monotonic() + 5
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # renderers and the zygote share the group
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self._reaped = True
        self._pipe.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
