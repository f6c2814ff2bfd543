"""`python -m space_factory.backends.local.supervisor SPACE_DIR VENVS_DIR`: build and run one local Space.

Like the Hub: BUILDING (a venv layered on the factory's environment, then `pip install -r
requirements.txt`, logged to build.log) → APP_STARTING (the app process, logged to run.log) → RUNNING
once the app's port answers; BUILD_ERROR or RUNTIME_ERROR when a step fails; STOPPED when asked to stop.

The app is forked from the Space's preloaded interpreter (`preloader.py`), which outlives this process: a
restart with the same venv and environment (a revision that kept requirements.txt) skips the app's imports.
When the preloader is missing, refuses or dies, the app starts cold, as `venv/bin/python app.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import site
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Protocol

from space_factory.backends.local import preloader
from space_factory.backends.local.locks import file_lock
from space_factory.backends.local.process import ProcessRef, end_group, is_alive, spawn_detached
from space_factory.backends.local.space_files import read_json, set_runtime, write_json_atomic
from space_factory.domain.stages import SpaceStage

# What the app may see of the factory's environment: the HF cache and offline switches, never a token.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "HF_HOME", "HF_HUB_CACHE",
                   "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT",
                   "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_PORT_WAIT_SECONDS = 1800.0
PRELOADER_FILE = "preloader.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    """True when the app may bind this port again (as Gradio and uvicorn do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def venv_key(requirements: bytes) -> str:
    base = "\n".join([sys.executable, *site.getsitepackages()]).encode()
    return hashlib.sha256(base + b"\0" + requirements).hexdigest()[:20]


def ensure_venv(venvs_dir: Path, requirements: Path | None, log: Path) -> Path:
    """A venv that sees the factory's packages plus the Space's requirements; reused while they are unchanged.

    Raises:
        RuntimeError: pip failed; the build log says why.
    """
    reqs = requirements.read_bytes() if requirements and requirements.exists() else b""
    venv = venvs_dir / venv_key(reqs)
    with file_lock(venv.with_name(venv.name + ".lock")), log.open("a") as out:
        if (venv / ".ready").exists():
            out.write(f"reusing the environment for these requirements ({venv.name})\n")
            return venv
        out.write(f"creating the environment {venv.name}\n")
        out.flush()
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)],
                       check=True, stdout=out, stderr=subprocess.STDOUT)
        site_dir = next((venv / "lib").glob("python*/site-packages"))
        # A .pth `import` line runs site.addsitedir, which also honours the factory's own .pth files (DESIGN §2).
        dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
        (site_dir / "_space_factory_base.pth").write_text(
            "".join(f"import site; site.addsitedir({d!r})\n" for d in dirs))
        if reqs.strip():
            cmd = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                   "--disable-pip-version-check", "--no-input", "-r", str(requirements)]
            out.write("$ pip install -r requirements.txt\n")
            out.flush()
            code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
            if code != 0:
                raise RuntimeError(f"pip install -r requirements.txt failed with exit code {code}")
        (venv / ".ready").touch()
        return venv


def _reap(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a child to end; True once it has.

    Not `Popen.wait`: SIGTERM usually interrupts `run()` inside `app.wait()`, which holds Popen's wait lock,
    so a second `wait` in the signal handler could not take it and would spin until its timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class AppProcess(Protocol):
    """The running app as the supervisor sees it, whether forked by the preloader or started cold."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...

    def running(self) -> None: ...

    def end(self) -> None: ...


class ColdApp:
    """An app started as `venv/bin/python app.py`, a child of the supervisor (and in its process group)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process, self.pid = process, process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self) -> int:
        return self.process.wait()

    def running(self) -> None:
        pass

    def end(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            if not _reap(self.process.pid, 10.0):
                self.process.kill()


def preloader_key(venv: Path, env: dict[str, str], app_file: str) -> str:
    """What a preloaded interpreter was made for: its venv, the app's exact environment (port included: Gradio
    reads GRADIO_SERVER_PORT at import), the app file and the preloader's own code. Reused only while equal."""
    code = hashlib.sha256(Path(preloader.__file__).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps([str(venv), sorted(env.items()), app_file, code]).encode()).hexdigest()[:20]


def end_preloader(folder: Path) -> bool:
    """End a Space's preloaded interpreter (and the app it forked); True if one was running."""
    data = read_json(folder / PRELOADER_FILE)
    try:
        ref = ProcessRef.from_json(data) if data else None
    except (TypeError, ValueError):
        ref = None
    # A pid that now names another process (another start time) is not ours to end.
    return bool(ref and ref.start_time and is_alive(ref) and end_group(ref.pid))


class Supervisor:
    def __init__(self, folder: Path, venvs_dir: Path) -> None:
        self.folder = folder
        self.venvs_dir = venvs_dir
        self.app: AppProcess | None = None
        self.stopping = False

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.app is not None:
            self.app.end()
        set_runtime(self.folder, SpaceStage.STOPPED, message="stopped by request")
        os._exit(0)

    def log_build(self, line: str) -> None:
        with (self.folder / "build.log").open("a") as out:
            out.write(line + "\n")

    def start_app(self, venv: Path, app_file: str, space_id: str) -> tuple[AppProcess, int]:
        """The app, forked from the Space's preloaded interpreter when it can be, else started cold; its port."""
        try:
            return self._start_preloaded(venv, app_file, space_id)
        except (preloader.PreloadUnavailable, OSError, ValueError) as exc:
            end_preloader(self.folder)
            self.log_build(f"starting the app without a preloaded interpreter: {exc}")
        port = free_port()
        set_runtime(self.folder, SpaceStage.APP_STARTING, port=port, message=None)
        with (self.folder / "run.log").open("ab") as out:
            process = subprocess.Popen([str(venv / "bin" / "python"), app_file], cwd=self.folder / "repo",
                                       env=self.app_env(port, space_id), stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT)
        return ColdApp(process), port

    def _start_preloaded(self, venv: Path, app_file: str, space_id: str) -> tuple[AppProcess, int]:
        record = read_json(self.folder / PRELOADER_FILE)
        ref = ProcessRef.from_json(record) if record.get("pid") else None
        port = record.get("port")
        alive = ref is not None and ref.start_time is not None and is_alive(ref)
        if alive and ref and isinstance(port, int) and _port_free(port) and \
                record.get("key") == preloader_key(venv, self.app_env(port, space_id), app_file):
            self.log_build(f"reusing the preloaded interpreter (pid {ref.pid}): the app's modules are imported "
                           "already")
        else:
            if alive and ref:
                end_preloader(self.folder)
                self.log_build(f"replacing the preloaded interpreter (pid {ref.pid}): the venv, the app's environment "
                               "or its port changed")
            else:
                self.log_build("starting a preloaded interpreter: it imports the app's modules once, for every "
                               "restart with these requirements")
            port = free_port()
            env = self.app_env(port, space_id)
            name = secrets.token_hex(16)
            cmd = [str(venv / "bin" / "python"), preloader.__file__, str(self.folder), name, app_file]
            ref = spawn_detached(cmd, log_path=self.folder / "preloader.log",
                                 pid_path=self.folder / PRELOADER_FILE, env=env, cwd=self.folder / "repo")
            record = {**ref.to_json(), "key": preloader_key(venv, env, app_file), "socket": name, "port": port}
            write_json_atomic(self.folder / PRELOADER_FILE, record)
        set_runtime(self.folder, SpaceStage.APP_STARTING, port=port, message=None)
        preloaded = ref
        sock = preloader.connect(str(record["socket"]), alive=lambda: is_alive(preloaded), timeout=_PORT_WAIT_SECONDS)
        return preloader.PreloadedApp.start(sock), port

    def app_env(self, port: int, space_id: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        env.update({
            "PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
            "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1",
            "SPACE_ID": space_id, "SYSTEM": "spaces",
        })
        return env

    def fail(self, stage: SpaceStage, message: str) -> int:
        """The Space is down (a build or runtime error): like a crashed container, it keeps no process either —
        the preloaded interpreter goes too (the next upload starts another)."""
        end_preloader(self.folder)
        set_runtime(self.folder, stage, message=message)
        return 1

    def run(self) -> int:
        repo = self.folder / "repo"
        meta = read_json(self.folder / "space.json")
        app_file = str(meta.get("app_file") or "app.py")
        if not (repo / app_file).is_file():
            end_preloader(self.folder)  # nothing to fork: the imports it holds would only cost memory
            set_runtime(self.folder, SpaceStage.NO_APP_FILE, message=f"{app_file} is missing", url=None)
            return 1
        set_runtime(self.folder, SpaceStage.BUILDING, message=None, url=None, port=None)
        build_log = self.folder / "build.log"
        try:
            venv = ensure_venv(self.venvs_dir, repo / "requirements.txt", build_log)
        except (RuntimeError, OSError, subprocess.CalledProcessError, StopIteration) as exc:
            with build_log.open("a") as out:
                out.write(f"BUILD FAILED: {exc}\n")
            return self.fail(SpaceStage.BUILD_ERROR, str(exc))
        self.app, port = self.start_app(venv, app_file, str(meta.get("id", "")))
        deadline = time.monotonic() + _PORT_WAIT_SECONDS
        while not _port_open(port):
            code = self.app.poll()
            if code is not None:
                return self.fail(SpaceStage.RUNTIME_ERROR, f"the app exited during startup with code {code}")
            if time.monotonic() > deadline:
                self.app.end()
                return self.fail(SpaceStage.RUNTIME_ERROR, "the app did not open its port in time")
            time.sleep(0.2)
        set_runtime(self.folder, SpaceStage.RUNNING, url=f"http://127.0.0.1:{port}/", message=None)
        self.app.running()
        code = self.app.wait()
        if not self.stopping:
            self.fail(SpaceStage.RUNTIME_ERROR, f"the app exited with code {code}")
        return 0


def main(argv: list[str]) -> int:
    supervisor = Supervisor(Path(argv[0]), Path(argv[1]))
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
