"""A local Space's preloaded interpreter: the app's modules imported once, the app forked from it on each start.

    VENV/bin/python preloader.py SPACE_DIR SOCKET_NAME APP_FILE      (cwd: SPACE_DIR/repo, the app's environment)

A revision whose requirements did not change restarts the app, and a cold start of a Gradio app spends most of
its time importing gradio, torch and transformers again. So the supervisor starts this process in the Space's
venv, with exactly the environment (port included) the app gets: it imports what the app will import — the
modules the Space's previous app had imported (`app_modules.txt`, recorded by the app once it runs) and the
top-level imports of `app.py` — then listens on an abstract unix socket. On `start` it forks: the child leads
its own process group, dies with its parent (PR_SET_PDEATHSIG), chdirs to repo/, logs to run.log and runs
`app.py` as `__main__` (runpy), like `python app.py` would. The preloader survives the supervisor's restarts
(upload replaces repo/ and the supervisor only): the Space's next app starts in seconds. The supervisor
replaces it when its venv or environment changed, and `LocalSpaceHost.stop` ends it.

Fork safety: the preloader imports and runs no app code and starts no thread; it refuses to fork while a
second Python thread runs (the supervisor then starts the app cold). Native pools that libraries start at import
(OpenBLAS) are fork-aware (pthread_atfork). Modules whose top-level name is a file or folder of repo/ are never
preloaded, and are dropped in the child before the app runs, so the app's own modules are always read afresh.

Stdlib only: this file runs inside the Space's interpreter, and every module it imports is in each app it forks.
The supervisor's side of the protocol (`connect`, `PreloadedApp`) is below the server's.
"""

import sys

if __name__ == "__main__":  # run as a script: its own folder must not shadow the app's imports
    sys.path.pop(0)

import ast
import contextlib
import ctypes
import json
import os
import runpy
import select
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

RECORD = "app_modules.txt"
SKIP = "preload_skip.txt"  # modules whose import started a thread: never preloaded again for this Space
RUN_LOG = "run.log"
_STOP_GRACE = 10.0
_PR_SET_PDEATHSIG = 1
_TOPUP_SLICE = 0.1


def socket_address(name: str) -> str:
    """The abstract-namespace address of a preloader's socket (no file to clean up; peers are checked by uid)."""
    return "\0space-factory-preloader-" + name


def _send(conn: socket.socket, message: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


def _shadowed(repo: Path, name: str) -> bool:
    """True when the app's own files define this module's top-level package (`python app.py` would import them)."""
    top = name.split(".", 1)[0]
    return (repo / f"{top}.py").exists() or (repo / top).is_dir()


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def wanted_modules(folder: Path, app_file: str) -> list[str]:
    """What to preload: the previous app's recorded modules (in their import order), then `app_file`'s imports;
    never the app's own modules, nor one whose import once started a thread (nor anything under it)."""
    repo = folder / "repo"
    names = _lines(folder / RECORD)
    skip = set(_lines(folder / SKIP))
    try:
        tree = ast.parse((repo / app_file).read_bytes())
    except (OSError, SyntaxError, ValueError):
        tree = ast.Module(body=[], type_ignores=[])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    parts = (n.split(".") for n in names if n.isascii() and not _shadowed(repo, n))
    kept = (".".join(p) for p in parts if not any(".".join(p[:i]) in skip for i in range(1, len(p) + 1)))
    return list(dict.fromkeys(kept))


def _import_each(names: list[str], skip: Path) -> Iterator[bool]:
    """Import the names not imported yet, one by one; yields whether each worked. A failure only means the app
    imports (or does not need) that module itself. A module whose import starts a thread is noted in `skip`:
    this interpreter can no longer fork safely, the next one will not import it."""
    for name in names:
        if name in sys.modules:
            continue
        threads = threading.active_count()
        try:
            __import__(name)
            yield True
        except BaseException:  # any failure (even SystemExit from a module) leaves that import to the app
            yield False
        if threading.active_count() > threads:
            with contextlib.suppress(OSError), skip.open("a") as out:
                out.write(name + "\n")


class _BecomeApp(Exception):  # not an error: the forked child leaves the server loop through it
    def __init__(self, recorder: socket.socket) -> None:
        self.recorder = recorder


class _Server:
    """One app at a time, for the supervisor connected last."""

    def __init__(self, folder: Path, address: str, app_file: str) -> None:
        self.folder, self.repo, self.app_file = folder, folder / "repo", app_file
        self.me = os.getpid()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.address = address
        self.conn: socket.socket | None = None
        self.inbox = b""
        self.child: int | None = None
        self.recorder: socket.socket | None = None
        self.pending: list[str] = []

    def listen(self) -> None:
        self.listener.bind(self.address)
        self.listener.listen(4)

    def end_child(self) -> int | None:
        """SIGTERM the app's group, SIGKILL it after the grace; its exit code, None if there was no app."""
        if self.child is None:
            return None
        pid, self.child = self.child, None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            time.sleep(0.05)

    def on_sigterm(self, _signum: int, _frame: object) -> None:
        if os.getpid() != self.me:  # the child, before it reset its handlers
            os._exit(128 + signal.SIGTERM)
        self.end_child()
        os._exit(0)

    def reap(self) -> None:
        if self.child is None:
            return
        done, status = os.waitpid(self.child, os.WNOHANG)
        if done:
            self.child = None
            if self.recorder is not None:
                self.recorder.close()
                self.recorder = None
            if self.conn is not None:
                _send(self.conn, {"exit": os.waitstatus_to_exitcode(status)})

    def drop_connection(self) -> None:
        """The supervisor is gone (or replaced): its app goes with it."""
        self.end_child()
        if self.conn is not None:
            self.conn.close()
        self.conn, self.inbox = None, b""

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], sys.byteorder) != os.getuid():
            conn.close()
            return
        self.drop_connection()
        self.conn = conn

    def on_request(self, request: dict[str, object]) -> None:
        assert self.conn is not None
        op = request.get("op")
        if op == "start":
            self.start()
        elif op == "stop":
            code = self.end_child()
            if code is not None:
                _send(self.conn, {"exit": code})
            _send(self.conn, {"stopped": True})
        elif op == "running" and self.recorder is not None:
            with contextlib.suppress(OSError):
                self.recorder.sendall(b"r")  # the app writes its module list; the answer arrives as b"d"

    def start(self) -> None:
        assert self.conn is not None
        self.end_child()
        threads = threading.active_count()
        if threads != 1:
            _send(self.conn, {"refused": f"{threads} Python threads run in the preloaded interpreter"})
            return
        ours, theirs = socket.socketpair()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            for s in (self.listener, self.conn, ours):
                s.close()
            raise _BecomeApp(theirs)
        theirs.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.setpgid(pid, pid)  # also done by the child: whichever runs first
        self.child, self.recorder = pid, ours
        _send(self.conn, {"pid": pid})

    def on_recorded(self) -> None:
        """The running app recorded its modules: import the ones this interpreter lacks, for the next start."""
        assert self.recorder is not None
        if not self.recorder.recv(1):
            self.recorder.close()
            self.recorder = None
            return
        self.pending = wanted_modules(self.folder, self.app_file)

    def topup(self) -> None:
        deadline = time.monotonic() + _TOPUP_SLICE
        while self.pending and time.monotonic() < deadline:
            for _ in _import_each([self.pending.pop(0)], self.folder / SKIP):
                pass

    def serve(self) -> None:
        while True:
            watched = [s for s in (self.listener, self.conn, self.recorder) if s is not None]
            readable, _, _ = select.select(watched, [], [], 0 if self.pending else 0.2)
            if self.listener in readable:
                self.accept()
            if self.conn is not None and self.conn in readable:
                data = self.conn.recv(65536)
                if not data:
                    self.drop_connection()
                else:
                    self.inbox += data
                    while self.conn is not None and b"\n" in self.inbox:
                        line, self.inbox = self.inbox.split(b"\n", 1)
                        with contextlib.suppress(ValueError):
                            self.on_request(dict(json.loads(line)))
            if self.recorder is not None and self.recorder in readable:
                self.on_recorded()
            self.reap()
            self.topup()


def _record_modules(recorder: socket.socket, repo: Path, record: Path) -> None:
    """In the app: once asked (the app runs), write the modules it imported, in their import order."""
    with contextlib.suppress(OSError):
        if recorder.recv(1) != b"r":
            return
        prefix = str(repo.resolve()) + os.sep
        files = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
        names = [name for name, file in files.items()
                 if name != "__main__" and isinstance(file, str) and not os.path.abspath(file).startswith(prefix)]
        tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(names) + "\n")
        os.replace(tmp, record)
        recorder.sendall(b"d")


def _become_app(folder: Path, app_file: str, recorder: socket.socket, parent: int) -> int:
    """The forked child: become `python app_file` in repo/, logging to run.log; its exit code."""
    with contextlib.suppress(PermissionError):
        os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the preloader died before the line above: nothing would end this app
        return 1
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    log = os.open(folder / RUN_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    repo = folder / "repo"
    os.chdir(repo)
    for name in [n for n in sys.modules if _shadowed(repo, n)]:
        del sys.modules[name]
    sys.path.insert(0, str(repo))
    sys.argv = [app_file]
    threading.Thread(target=_record_modules, args=(recorder, repo, folder / RECORD),
                     name="space-factory-module-record", daemon=True).start()
    path = str(repo / app_file)
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:  # as the interpreter does: None → 0, an int → itself, anything else printed → 1
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:  # an uncaught error of the app, reported as `python app.py` would: from its frame
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        return 1
    return 0


def main(argv: list[str]) -> int:
    folder, name, app_file = Path(argv[0]), argv[1], argv[2]
    server = _Server(folder, socket_address(name), app_file)
    signal.signal(signal.SIGTERM, server.on_sigterm)
    wanted = wanted_modules(folder, app_file)
    started = time.monotonic()
    results = list(_import_each(wanted, folder / SKIP))
    print(f"preloaded {results.count(True)} modules in {time.monotonic() - started:.1f} s "
          f"({results.count(False)} left to the app)", flush=True)
    try:
        server.listen()
        server.serve()
    except _BecomeApp as app:
        recorder = app.recorder
    # Outside the handler, so that the app's own errors are not chained to how the child left the loop.
    sys.exit(_become_app(folder, app_file, recorder, server.me))


# ---- the supervisor's side --------------------------------------------------------------------------------


class PreloadUnavailable(Exception):
    """The preloaded interpreter cannot start the app (gone, refused, or not answering): start it cold."""


def connect(name: str, *, alive: Callable[[], bool], timeout: float) -> socket.socket:
    """A connection to a preloader once it listens (it has imported its modules by then).

    Raises:
        PreloadUnavailable: it died, or did not listen within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(socket_address(name))
            return sock
        except OSError:
            sock.close()
        if not alive():
            raise PreloadUnavailable("the preloaded interpreter exited before it was ready")
        if time.monotonic() > deadline:
            raise PreloadUnavailable("the preloaded interpreter was not ready in time")
        time.sleep(0.1)


class PreloadedApp:
    """The supervisor's handle on an app a preloader forked: its pid, its exit code, its end.

    The app lives as long as this connection: when the supervisor goes, the preloader ends the app.
    """

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock, self.pid = sock, pid
        self.returncode: int | None = None
        self._inbox = b""

    @classmethod
    def start(cls, sock: socket.socket, *, timeout: float = 60.0) -> "PreloadedApp":
        """Ask the preloader to fork the app.

        Raises:
            PreloadUnavailable: it refused (a thread runs in it) or did not answer.
        """
        app = cls(sock, -1)
        _send(sock, {"op": "start"})
        reply = app._next(timeout)
        pid = reply.get("pid") if reply else None
        if not isinstance(pid, int):
            sock.close()
            reason = reply.get("refused") if reply else None
            raise PreloadUnavailable(str(reason or "the preloaded interpreter did not answer"))
        app.pid = pid
        return app

    def _next(self, timeout: float | None) -> dict[str, object] | None:
        """The preloader's next message; None after `timeout` seconds or when it is gone (then the app is too:
        it dies with the preloader, so its code reads as -SIGKILL)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._inbox:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if left is not None and not select.select([self.sock], [], [], left)[0]:
                return None
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                if self.returncode is None:
                    self.returncode = -signal.SIGKILL
                return None
            self._inbox += data
        line, self._inbox = self._inbox.split(b"\n", 1)
        message = dict(json.loads(line))
        code = message.get("exit")
        if isinstance(code, int) and self.returncode is None:
            self.returncode = code
        return message

    def poll(self) -> int | None:
        while self.returncode is None and self._next(0) is not None:
            pass
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            self._next(None)
        return self.returncode

    def running(self) -> None:
        """The app answers on its port: it records its modules, and the preloader imports them for the next start."""
        _send(self.sock, {"op": "running"})

    def end(self) -> None:
        """End the app (SIGTERM to its group, SIGKILL after a grace) and wait until it is gone."""
        _send(self.sock, {"op": "stop"})
        deadline = time.monotonic() + _STOP_GRACE + 5.0
        while (message := self._next(max(0.0, deadline - time.monotonic()))) is not None:
            if message.get("stopped"):
                break
        self.sock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
