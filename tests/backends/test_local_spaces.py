"""Local Spaces: a directory plus a supervised app process on 127.0.0.1, with the Hub's stages
(DESIGN §2 Space and hardware rows, §9 no token in a Space; docs/architecture.md, the local backend: Spaces).

The apps here are tiny stdlib HTTP servers (no Gradio), so a Space builds and runs in about a second.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from space_factory.backends.base import SpaceHost, SpaceRuntime
from space_factory.backends.local.process import ProcessRef, group_alive, is_alive
from space_factory.backends.local.spaces import LocalSpaceHost, factory_env
from space_factory.backends.local.supervisor import PASSTHROUGH_ENV
from space_factory.domain.errors import InvalidSpaceId, SpaceExists
from space_factory.domain.hardware_outcomes import HardwareOutcome

SERVE_APP = '''
import http.server, json, os, sys, threading
print("ENV " + json.dumps(sorted(os.environ)), flush=True)
print("hello from the app", flush=True)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/exit":  # answer, then crash with code 4
            self.server.crashing = True
            threading.Thread(target=self.server.shutdown).start()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.serve_forever()
sys.exit(4 if getattr(server, "crashing", False) else 0)
'''
CRASH_APP = 'import sys\nprint("boom: no model here", flush=True)\nsys.exit(3)\n'
FINAL_STAGES = frozenset({"RUNNING", "BUILD_ERROR", "RUNTIME_ERROR", "NO_APP_FILE", "STOPPED"})


def wait_until(condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _workspace(tmp_path: Path, app: str = SERVE_APP, requirements: str = "") -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text(app)
    (folder / "requirements.txt").write_text(requirements)
    return folder


def _settle(host: LocalSpaceHost, space_id: str) -> list[str]:
    """Follow a Space's stages until it settles; the distinct stages seen, in order."""
    seen: list[str] = []

    def settled() -> bool:
        stage = host.runtime(space_id).stage
        if not seen or seen[-1] != stage:
            seen.append(stage)
        return stage in FINAL_STAGES

    wait_until(settled, what=f"{space_id} to settle")
    return seen


def _up(host: LocalSpaceHost, space_id: str, tmp_path: Path, app: str = SERVE_APP,
        requirements: str = "") -> SpaceRuntime:
    host.create(space_id, hardware="cpu-basic")
    host.upload(space_id, _workspace(tmp_path, app, requirements), run_id="20261128-171233-tiny-gpt2-4f9a1c")
    _settle(host, space_id)
    return host.runtime(space_id)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        return bytes(response.read())


def _supervisor(host: LocalSpaceHost, space_id: str) -> ProcessRef:
    data = json.loads((host.spaces_dir / space_id / "supervisor.json").read_text())
    return ProcessRef.from_json(data)


def test_the_local_host_satisfies_the_space_host_protocol(host: LocalSpaceHost) -> None:
    """The pipeline talks to the SpaceHost protocol only (DESIGN §2)."""
    spaces: SpaceHost = host
    assert spaces.auth_headers() == {}


def test_a_space_builds_runs_serves_logs_and_stops_with_no_process_left(host: LocalSpaceHost,
                                                                        tmp_path: Path) -> None:
    """create → upload → BUILDING → APP_STARTING → RUNNING with a URL; stop → STOPPED (DESIGN §2, like the Hub)."""
    created = host.create("tester/app", hardware="cpu-basic")
    assert created.stage == "NO_APP_FILE" and created.url is None
    host.upload("tester/app", _workspace(tmp_path), run_id="20261128-171233-tiny-gpt2-4f9a1c")
    stages = _settle(host, "tester/app")
    assert stages[-1] == "RUNNING", stages
    order = ["BUILDING", "APP_STARTING", "RUNNING"]
    assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)
    runtime = host.runtime("tester/app")
    assert runtime.url and runtime.url.startswith("http://127.0.0.1:")
    assert (runtime.hardware, runtime.requested_hardware) == ("cpu-basic", "cpu-basic")
    assert json.loads(_get(runtime.url)) == {"status": "ok"}
    assert "hello from the app" in host.logs("tester/app", "run")
    assert "creating the environment" in host.logs("tester/app", "build")
    supervisor = _supervisor(host, "tester/app")
    started = time.monotonic()
    assert host.stop("tester/app") is True
    assert time.monotonic() - started < 4  # the supervisor ends on SIGTERM, before the 5 s SIGKILL grace
    stopped = host.runtime("tester/app")
    assert stopped.stage == "STOPPED" and stopped.url is None
    assert not group_alive(supervisor.pid)  # supervisor, venv python and app: all gone
    with pytest.raises(OSError):
        _get(runtime.url)
    assert host.stop("tester/app") is False


def test_a_space_is_never_created_twice(host: LocalSpaceHost) -> None:
    """create never overwrites an existing Space (DESIGN §1; docs/architecture.md: atomic mkdir)."""
    host.create("tester/app", hardware=None)
    with pytest.raises(SpaceExists) as caught:
        host.create("tester/app", hardware="t4-small")
    assert caught.value.space_id == "tester/app"
    assert json.loads((host.spaces_dir / "tester" / "app" / "space.json").read_text())["hardware_requested"] is None


def test_uploading_to_a_space_that_does_not_exist_is_refused(host: LocalSpaceHost, tmp_path: Path) -> None:
    """upload needs a created Space."""
    with pytest.raises(InvalidSpaceId) as caught:
        host.upload("tester/missing", _workspace(tmp_path), run_id="20261128-171233-tiny-gpt2-4f9a1c")
    assert caught.value.space_id == "tester/missing"
    assert host.runtime("tester/missing").stage == "NOT_FOUND"


@pytest.mark.parametrize("space_id", ["../escape", "tester/..", "a/b/c", "tester/a--b", "tester"])
def test_malformed_space_ids_are_refused_before_touching_the_disk(host: LocalSpaceHost, space_id: str) -> None:
    """Space ids are validated, so they never name a folder outside the Spaces dir (DESIGN §9)."""
    with pytest.raises(InvalidSpaceId):
        host.create(space_id, hardware=None)
    with pytest.raises(InvalidSpaceId):
        host.runtime(space_id)
    assert not host.spaces_dir.exists()


def test_an_app_that_exits_at_once_is_a_runtime_error(host: LocalSpaceHost, tmp_path: Path) -> None:
    """RUNTIME_ERROR when the app dies before answering (DESIGN §2 stages)."""
    runtime = _up(host, "tester/crash", tmp_path, app=CRASH_APP)
    assert runtime.stage == "RUNTIME_ERROR" and runtime.url is None
    assert "code 3" in (runtime.message or "")
    assert "boom: no model here" in host.logs("tester/crash", "run")
    wait_until(lambda: not group_alive(_supervisor(host, "tester/crash").pid), what="the supervisor to exit")


def test_an_app_that_crashes_after_running_becomes_a_runtime_error(host: LocalSpaceHost, tmp_path: Path) -> None:
    """A running app that exits turns the Space RUNTIME_ERROR, like a crashed container (DESIGN §2)."""
    runtime = _up(host, "tester/one-shot", tmp_path)
    assert runtime.stage == "RUNNING" and runtime.url
    _get(runtime.url + "exit")
    wait_until(lambda: host.runtime("tester/one-shot").stage == "RUNTIME_ERROR", what="the crash to be seen")
    assert "code 4" in (host.runtime("tester/one-shot").message or "")


def test_a_space_without_its_app_file_is_no_app_file(host: LocalSpaceHost, tmp_path: Path) -> None:
    """NO_APP_FILE when app.py is missing (the Hub's stage)."""
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "README.md").write_text("# nothing to run\n")
    host.create("tester/empty", hardware=None)
    host.upload("tester/empty", folder, run_id="20261128-171233-tiny-gpt2-4f9a1c")
    assert _settle(host, "tester/empty")[-1] == "NO_APP_FILE"


def test_an_impossible_requirement_is_a_build_error_and_the_build_log_says_why(host: LocalSpaceHost,
                                                                             tmp_path: Path) -> None:
    """BUILD_ERROR with build.log when `pip install -r requirements.txt` fails (DESIGN §2, §6 logs attached)."""
    started = time.monotonic()
    runtime = _up(host, "tester/broken", tmp_path, requirements="./no-such-dir\n")
    assert runtime.stage == "BUILD_ERROR", host.logs("tester/broken", "build")
    assert "pip install" in (runtime.message or "")
    log = host.logs("tester/broken", "build")
    assert "no-such-dir" in log and "BUILD FAILED" in log
    assert "hello from the app" not in host.logs("tester/broken", "run")
    assert time.monotonic() - started < 60


def test_a_killed_supervisor_is_reported_as_a_runtime_error_and_stop_ends_what_it_left(host: LocalSpaceHost,
                                                                                      tmp_path: Path) -> None:
    """A supervisor that dies without saying so means the Space is down (spaces.runtime); stop leaves nothing."""
    runtime = _up(host, "tester/orphan", tmp_path)
    assert runtime.stage == "RUNNING"
    supervisor = _supervisor(host, "tester/orphan")
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_until(lambda: not is_alive(supervisor), what="the supervisor to die")
    after = host.runtime("tester/orphan")
    assert after.stage == "RUNTIME_ERROR" and after.url is None
    assert after.message == "the Space's supervisor process is gone"
    host.stop("tester/orphan")
    assert not group_alive(supervisor.pid)  # the app it left behind is gone too
    with pytest.raises(OSError):
        _get(runtime.url or "")


def test_stop_never_ends_a_process_group_whose_leader_pid_was_recycled(host: LocalSpaceHost) -> None:
    """A supervisor record whose pid now names another process (other start time) is not ours to signal."""
    import subprocess

    host.create("tester/recycled", hardware=None)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)  # a group leader that is not our Space
    try:
        folder = host.spaces_dir / "tester" / "recycled"
        (folder / "supervisor.json").write_text(json.dumps({"pid": stranger.pid, "start_time": "1"}))
        assert host.stop("tester/recycled") is False
        assert stranger.poll() is None  # still running: stop did not touch it
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize(("flavor", "outcome"), [("cpu-basic", HardwareOutcome.ALREADY_SET),
                                                 ("t4-small", HardwareOutcome.NOT_AVAILABLE),
                                                 ("zero-a10g", HardwareOutcome.NOT_AVAILABLE),
                                                 ("cpu-upgrade", HardwareOutcome.NOT_AVAILABLE),
                                                 ("no-such-flavor", HardwareOutcome.NOT_AVAILABLE)])
def test_local_hardware_requests_answer_already_set_or_not_available(host: LocalSpaceHost, flavor: str,
                                                                     outcome: HardwareOutcome) -> None:
    """Paid flavors answer "not available locally"; CPU is already set (DESIGN §2 hardware row, §6 outcomes)."""
    host.create("tester/hw", hardware=None)
    got, detail = host.request_hardware("tester/hw", flavor)
    assert got == outcome.value
    assert detail


def test_list_spaces_shows_each_space_with_its_stage_url_and_run(host: LocalSpaceHost, tmp_path: Path) -> None:
    """`space-factory spaces` lists local Spaces (DESIGN §8)."""
    assert host.list_spaces() == []
    runtime = _up(host, "tester/listed", tmp_path)
    host.create("other/idle", hardware=None)
    listed = {str(s["id"]): s for s in host.list_spaces()}
    assert set(listed) == {"tester/listed", "other/idle"}
    assert listed["tester/listed"]["stage"] == "RUNNING" and listed["tester/listed"]["url"] == runtime.url
    assert listed["tester/listed"]["run_id"] == "20261128-171233-tiny-gpt2-4f9a1c"
    assert listed["other/idle"] == listed["other/idle"] | {"stage": "NO_APP_FILE", "url": None, "run_id": None}


def test_logs_of_an_unknown_kind_are_refused(host: LocalSpaceHost) -> None:
    """logs takes 'build' or 'run' (SpaceHost.logs)."""
    host.create("tester/logs", hardware=None)
    assert host.logs("tester/logs", "build") == "" and host.logs("tester/logs", "run") == ""
    with pytest.raises(ValueError):
        host.logs("tester/logs", "../space.json")


def test_the_app_never_sees_a_hub_token_even_when_the_factory_has_one(tmp_path: Path, venvs_dir: Path) -> None:
    """The token is never in a generated Space (DESIGN §9): the app gets an allow-listed environment."""
    fake_token = "hf_" + "Zq7" * 12
    env = {**os.environ, "HF_TOKEN": fake_token, "HUGGING_FACE_HUB_TOKEN": fake_token, "PIP_NO_INDEX": "1"}
    host = LocalSpaceHost(tmp_path / "spaces", venvs_dir, env)
    try:
        runtime = _up(host, "tester/env", tmp_path)
        assert runtime.stage == "RUNNING"
        log = host.logs("tester/env", "run")
        keys = set(json.loads(next(line for line in log.splitlines() if line.startswith("ENV "))[4:]))
    finally:
        host.stop("tester/env")
    assert not keys & {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN"}
    assert fake_token not in log
    assert keys <= set(PASSTHROUGH_ENV) | {"PORT", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT",
                                           "GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_TELEMETRY",
                                           "PYTHONUNBUFFERED", "SPACE_ID", "SYSTEM", "LC_CTYPE"}
    assert {"PORT", "SPACE_ID", "HF_HOME", "HF_HUB_OFFLINE"} <= keys


def test_factory_env_strips_hub_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs and supervisors start without Hub tokens (DESIGN §9: the token reaches a job only as a secret)."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN"):
        monkeypatch.setenv(name, "hf_" + "x" * 34)
    env = factory_env()
    assert not {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN"} & set(env)
    assert env["HF_HOME"] == os.environ["HF_HOME"]
