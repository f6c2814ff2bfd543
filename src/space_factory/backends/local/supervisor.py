"""`python -m space_factory.backends.local.supervisor SPACE_DIR VENVS_DIR`: build and run one local Space.

Like the Hub: BUILDING (a venv layered on the factory's environment, then `pip install -r
requirements.txt`, logged to build.log) → APP_STARTING (the app process, logged to run.log) → RUNNING
once the app's port answers; BUILD_ERROR or RUNTIME_ERROR when a step fails; STOPPED when asked to stop.
"""

from __future__ import annotations

import hashlib
import os
import signal
import site
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from space_factory.backends.local.locks import file_lock
from space_factory.backends.local.space_files import read_json, set_runtime
from space_factory.domain.stages import SpaceStage

# What the app may see of the factory's environment: the HF cache and offline switches, never a token.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "HF_HOME", "HF_HUB_CACHE",
                   "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT",
                   "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_PORT_WAIT_SECONDS = 1800.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


class Supervisor:
    def __init__(self, folder: Path, venvs_dir: Path) -> None:
        self.folder = folder
        self.venvs_dir = venvs_dir
        self.app: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.app is not None and self.app.returncode is None:
            self.app.terminate()
            if not _reap(self.app.pid, 10.0):
                self.app.kill()
        set_runtime(self.folder, SpaceStage.STOPPED, message="stopped by request")
        os._exit(0)

    def app_env(self, port: int, space_id: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        env.update({
            "PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
            "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1",
            "SPACE_ID": space_id, "SYSTEM": "spaces",
        })
        return env

    def run(self) -> int:
        repo = self.folder / "repo"
        meta = read_json(self.folder / "space.json")
        app_file = str(meta.get("app_file") or "app.py")
        if not (repo / app_file).is_file():
            set_runtime(self.folder, SpaceStage.NO_APP_FILE, message=f"{app_file} is missing", url=None)
            return 1
        set_runtime(self.folder, SpaceStage.BUILDING, message=None, url=None, port=None)
        build_log = self.folder / "build.log"
        try:
            venv = ensure_venv(self.venvs_dir, repo / "requirements.txt", build_log)
        except (RuntimeError, OSError, subprocess.CalledProcessError, StopIteration) as exc:
            with build_log.open("a") as out:
                out.write(f"BUILD FAILED: {exc}\n")
            set_runtime(self.folder, SpaceStage.BUILD_ERROR, message=str(exc))
            return 1
        port = free_port()
        set_runtime(self.folder, SpaceStage.APP_STARTING, port=port, message=None)
        with (self.folder / "run.log").open("ab") as out:
            self.app = subprocess.Popen([str(venv / "bin" / "python"), app_file], cwd=repo,
                                        env=self.app_env(port, str(meta.get("id", ""))),
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _PORT_WAIT_SECONDS
        while not _port_open(port):
            code = self.app.poll()
            if code is not None:
                set_runtime(self.folder, SpaceStage.RUNTIME_ERROR,
                            message=f"the app exited during startup with code {code}")
                return 1
            if time.monotonic() > deadline:
                self.app.kill()
                set_runtime(self.folder, SpaceStage.RUNTIME_ERROR, message="the app did not open its port in time")
                return 1
            time.sleep(0.2)
        set_runtime(self.folder, SpaceStage.RUNNING, url=f"http://127.0.0.1:{port}/", message=None)
        code = self.app.wait()
        if not self.stopping:
            set_runtime(self.folder, SpaceStage.RUNTIME_ERROR, message=f"the app exited with code {code}")
        return 0


def main(argv: list[str]) -> int:
    supervisor = Supervisor(Path(argv[0]), Path(argv[1]))
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
