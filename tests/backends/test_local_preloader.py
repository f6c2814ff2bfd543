"""A local Space's preloaded interpreter (backends/local/preloader.py): the app is forked from a long-lived
interpreter that has imported its modules, kept across re-uploads that keep the venv, replaced when the
requirements change, ended by stop (issue 10: a revision restarts the app without importing gradio again).

The apps are tiny stdlib HTTP servers, so each Space starts in about a second.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from space_factory.backends.local import preloader as preloader_module
from space_factory.backends.local.process import ProcessRef, group_alive, is_alive
from space_factory.backends.local.spaces import LocalSpaceHost
from space_factory.backends.local.supervisor import ColdApp, Supervisor, _port_open, ensure_venv
from tests.backends.test_local_spaces import wait_until

APP = '''
import http.server, json, os, sys
__import__("email.mime." + "text")  # hidden from the preloader's reading of app.py: known once this app ran
VERSION = {version!r}

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"version": VERSION, "pid": os.getpid(), "pgid": os.getpgrp(), "cwd": os.getcwd(),
                           "argv": sys.argv, "main": __name__, "path0": sys.path[0],
                           "email_preloaded": "email.mime.text" in PRELOADED}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

print("app", VERSION, "up", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''
# What was imported before this app's first line ran: set at the top of each app below.
HEADER = 'import sys\nPRELOADED = set(sys.modules)\n'
SPACE = "tester/preloaded"
RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"


def _upload(host: LocalSpaceHost, tmp_path: Path, version: str, requirements: str = "") -> dict[str, object]:
    """Upload an app answering `version`, wait until it runs; what it answers."""
    folder = tmp_path / f"app-{version}"
    folder.mkdir()
    (folder / "app.py").write_text(HEADER + APP.format(version=version))
    (folder / "requirements.txt").write_text(requirements)
    host.upload(SPACE, folder, run_id=RUN_ID)
    wait_until(lambda: host.runtime(SPACE).stage in ("RUNNING", "RUNTIME_ERROR", "BUILD_ERROR"),
               what=f"app {version} to settle")
    runtime = host.runtime(SPACE)
    assert runtime.stage == "RUNNING" and runtime.url, (runtime, host.logs(SPACE, "build"), host.logs(SPACE, "run"))
    with urllib.request.urlopen(runtime.url, timeout=10) as response:  # loopback only
        answer: dict[str, object] = json.loads(response.read())
    return answer


def _preloader(host: LocalSpaceHost) -> ProcessRef:
    return ProcessRef.from_json(json.loads((host.spaces_dir / SPACE / "preloader.json").read_text()))


def test_a_reupload_with_the_same_requirements_forks_the_new_app_from_the_same_preloader(
        host: LocalSpaceHost, tmp_path: Path) -> None:
    """The first app pays its imports in a new preloader; the next upload restarts through that same process,
    whose interpreter has meanwhile imported what the first app imported; the app runs as `python app.py` would."""
    host.create(SPACE, hardware=None)
    first = _upload(host, tmp_path, "v1")
    assert "starting a preloaded interpreter" in host.logs(SPACE, "build")
    preloader = _preloader(host)
    assert is_alive(preloader)
    repo = str(host.spaces_dir / SPACE / "repo")
    assert first | {"version": "v1", "cwd": repo, "argv": [f"{repo}/app.py"], "main": "__main__",
                    "path0": repo, "email_preloaded": False} == first
    assert first["pgid"] == first["pid"]  # its own process group: a restart ends all of it
    record = host.spaces_dir / SPACE / "app_modules.txt"
    wait_until(lambda: record.exists() and "email.mime.text" in record.read_text().split(),
               what="the app to record its modules")

    second = _upload(host, tmp_path, "v2")
    build_log = host.logs(SPACE, "build")
    assert "reusing the environment" in build_log and f"reusing the preloaded interpreter (pid {preloader.pid})" \
        in build_log
    assert _preloader(host) == preloader and is_alive(preloader)
    assert second["version"] == "v2" and second["email_preloaded"] is True
    assert not is_alive(ProcessRef(int(str(first["pid"])), None))  # the old app is gone
    assert "app v1 up" in host.logs(SPACE, "run") or "app v2 up" in host.logs(SPACE, "run")


def test_a_requirements_change_replaces_the_preloader_and_stop_ends_it_with_the_app(
        host: LocalSpaceHost, tmp_path: Path) -> None:
    """Another venv means another interpreter: the old preloader is ended and a new one started; stopping the
    Space ends the preloader and the app it forked (nothing is left running)."""
    host.create(SPACE, hardware=None)
    _upload(host, tmp_path, "v1")
    old = _preloader(host)
    answer = _upload(host, tmp_path, "v2", requirements="# another requirements file, another venv\n")
    new = _preloader(host)
    assert new.pid != old.pid and not is_alive(old)
    assert "creating the environment" in host.logs(SPACE, "build")
    assert f"replacing the preloaded interpreter (pid {old.pid})" in host.logs(SPACE, "build")

    assert host.stop(SPACE) is True
    app = ProcessRef(int(str(answer["pid"])), None)
    wait_until(lambda: not is_alive(new) and not is_alive(app), timeout=15, what="preloader and app to end")
    assert not group_alive(new.pid) and not group_alive(app.pid)
    assert host.runtime(SPACE).stage == "STOPPED"


def test_a_killed_preloader_takes_its_app_down_and_the_next_upload_starts_a_new_one(
        host: LocalSpaceHost, tmp_path: Path) -> None:
    """The app dies with its preloader (RUNTIME_ERROR, like a crashed container); the next upload finds it gone
    and starts another."""
    host.create(SPACE, hardware=None)
    answer = _upload(host, tmp_path, "v1")
    preloader = _preloader(host)
    os.kill(preloader.pid, signal.SIGKILL)
    wait_until(lambda: host.runtime(SPACE).stage == "RUNTIME_ERROR", timeout=15, what="the app's end to be seen")
    assert not is_alive(ProcessRef(int(str(answer["pid"])), None))
    _upload(host, tmp_path, "v2")
    assert _preloader(host).pid != preloader.pid
    assert host.logs(SPACE, "build").count("starting a preloaded interpreter") == 1  # logs restart per upload


def test_an_app_that_raises_is_a_runtime_error_logged_as_python_would_and_no_process_is_left(
        host: LocalSpaceHost, tmp_path: Path) -> None:
    """A forked app's uncaught error: its traceback from the app's own frame in run.log (not the preloader's),
    exit code 1 → RUNTIME_ERROR; a Space that is down keeps no preloaded interpreter either."""
    host.create(SPACE, hardware=None)
    _upload(host, tmp_path, "v1")
    preloader = _preloader(host)
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "app.py").write_text('print("loading", flush=True)\nraise ValueError("no model here")\n')
    (folder / "requirements.txt").write_text("")
    host.upload(SPACE, folder, run_id=RUN_ID)
    wait_until(lambda: host.runtime(SPACE).stage == "RUNTIME_ERROR", what="the crash to be seen")
    assert "code 1" in (host.runtime(SPACE).message or "")
    assert f"reusing the preloaded interpreter (pid {preloader.pid})" in host.logs(SPACE, "build")
    log = host.logs(SPACE, "run")
    assert "loading" in log and 'ValueError: no model here' in log and "preloader.py" not in log
    wait_until(lambda: not group_alive(preloader.pid), timeout=15, what="the preloader to end")


def test_a_preloader_that_refuses_to_fork_means_a_cold_start_and_is_ended(tmp_path: Path, venvs_dir: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Fallback: when the preloader refuses (a thread runs in it), the app starts as `python app.py`, the build
    log says why in one line, and the refusing preloader is ended."""
    folder = tmp_path / "space"
    (folder / "repo").mkdir(parents=True)
    (folder / "repo" / "app.py").write_text(HEADER + APP.format(version="cold"))

    def refuse(cls: type, sock: object, **_: object) -> None:
        raise preloader_module.PreloadUnavailable("2 Python threads run in the preloaded interpreter")

    monkeypatch.setattr(preloader_module.PreloadedApp, "start", classmethod(refuse))
    venv = ensure_venv(venvs_dir, None, folder / "build.log")
    app, port = Supervisor(folder, venvs_dir).start_app(venv, "app.py", SPACE)
    try:
        assert isinstance(app, ColdApp)
        wait_until(lambda: _port_open(port), what="the cold app to listen")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:  # loopback only
            answer = json.loads(response.read())
        assert answer["version"] == "cold" and answer["main"] == "__main__"
        log = (folder / "build.log").read_text()
        assert "starting the app without a preloaded interpreter: 2 Python threads run in the preloaded " \
            "interpreter" in log
        refused = ProcessRef.from_json(json.loads((folder / "preloader.json").read_text()))
        assert not is_alive(refused)
    finally:
        app.end()
