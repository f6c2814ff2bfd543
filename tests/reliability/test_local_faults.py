"""Local faults beyond a dead worker (issue 8, faults): the MCP server SIGKILLed mid-build, a Space that crashes
after RUNNING, and a cancel in every phase after the run made its Space (issue 8 item 5). Each run ends in its
right terminal state, nothing it started is left running (but a finished gate's Space, its deliverable), and
every record file is valid JSON.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from space_factory.domain.gate_status import GateStatus
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.stages import ACTIVE_SPACE_STAGES, SpaceStage
from tests.reliability.checks import assert_settled, freeze_at, kill, space_processes, wait_frozen_worker
from tests.server.transports import ROOT, open_http_client, poll_until_terminal, wait_http
from tests.support.ports import free_port
from tests.support.processes import children, end_factory_processes
from tests.support.runs import wait_terminal
from tests.support.waiting import wait_until
from tests.tools.helpers import call, make_factory

pytestmark = pytest.mark.e2e
FREEZE_TIMEOUT = 240
BUILD_TIMEOUT = 600


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SPACE_FACTORY_HOME": str(home), "SPACE_FACTORY_OWNER": "tester"}
    proc = subprocess.Popen([sys.executable, "-m", "space_factory", "serve", "--transport", "http", "--host",
                             "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/health", proc)
    return proc


async def _launch_and_wait_for_building(base: str, model: str) -> str:
    async with open_http_client(base, "auto") as client:
        run_id = str((await call(client, "launch_build", {"model": model}))["run_id"])
        with anyio.fail_after(FREEZE_TIMEOUT):
            while (await call(client, "get_run_status", {"run_id": run_id}))["state"]["phase"] != "building":
                await anyio.sleep(0.2)
    return run_id


async def _finish(base: str, run_id: str) -> dict[str, Any]:
    async with open_http_client(base, "legacy") as client:
        status, events = await poll_until_terminal(client, run_id, BUILD_TIMEOUT)
        gate = await call(client, "get_gate", {"run_id": run_id})
        state = (await client.read_resource(f"factory://runs/{run_id}/state.json")).contents[0]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # no event lost or doubled
    return {"status": status, "gate": gate, "state_text": getattr(state, "text", "")}


def test_sigkill_of_the_server_mid_build_the_run_finishes_and_reads_back_after_a_restart(
        tiny_models: dict[str, str], home: Path) -> None:
    """The server holds no run state and jobs are detached: a build outlives a kill -9 of its server."""
    first = start_server(home, free_port())
    port = free_port()
    try:
        run_id = anyio.run(_launch_and_wait_for_building, f"http://127.0.0.1:{first.args[-1]}",
                           tiny_models["tiny-bert-cls"])
        first.kill()
        first.wait(10)
        second = start_server(home, port)
        try:
            out = anyio.run(_finish, f"http://127.0.0.1:{port}", run_id)
        finally:
            second.terminate()
            second.wait(15)
        assert out["status"]["state"]["status"] == "finished", out["status"]["state"]
        assert out["gate"]["gate_status"] == "full_inference_passed" and run_id in out["state_text"]
        factory = make_factory(home)
        assert_settled(factory, factory.state(run_id), space_serves=True)
    finally:
        if first.poll() is None:
            first.kill()
        end_factory_processes(home)


def test_a_space_that_crashes_after_running_ends_runtime_failed_with_nothing_left(
        tiny_models: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app dies between RUNNING and the health check: the gate says runtime_failed, no process lingers."""
    factory = freeze_at(monkeypatch, home, Phase.VALIDATING_HEALTH)
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    try:
        worker = wait_frozen_worker(factory, run_id, FREEZE_TIMEOUT)
        space_id = factory.state(run_id).space.id
        assert space_id and factory.backend.spaces.runtime(space_id).stage is SpaceStage.RUNNING
        supervisor = space_processes(factory, space_id)
        apps = [pid for leader in supervisor for pid in children(leader)]
        assert apps, "the Space's app process"
        for pid in apps:
            kill(pid)
        wait_until(lambda: factory.backend.spaces.runtime(space_id).stage is SpaceStage.RUNTIME_ERROR, 30,
                   "the Space to report its crash")
        kill(worker, signal.SIGCONT)
        state = wait_terminal(factory, run_id, 300)
        assert state.status is RunStatus.FINISHED and state.gate_status is GateStatus.RUNTIME_FAILED, state
        assert_settled(factory, state)
    finally:
        end_factory_processes(home)


CANCEL_PHASES = [Phase.UPLOADING, Phase.BUILDING, Phase.VALIDATING_HEALTH, Phase.VALIDATING_API, Phase.GATING]


@pytest.mark.parametrize("phase", CANCEL_PHASES, ids=[p.value for p in CANCEL_PHASES])
def test_cancel_in_each_phase_after_the_space_exists_stops_the_space(
        tiny_models: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch, phase: Phase) -> None:
    factory = freeze_at(monkeypatch, home, phase)
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    try:
        wait_frozen_worker(factory, run_id, FREEZE_TIMEOUT)
        outcome = factory.cancel_run(run_id)
        assert outcome.canceled and outcome.state.status is RunStatus.CANCELED
        assert factory.gate(run_id).status is GateStatus.CANCELED
        state = factory.state(run_id)
        assert state.space.id and state.space.stage not in ACTIVE_SPACE_STAGES, state.space
        assert_settled(factory, state)
    finally:
        end_factory_processes(home)


def test_cancel_after_the_worker_wrote_its_gate_keeps_the_delivered_space(
        tiny_models: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In `reporting` the worker's own gate exists: its Space is what the run made, so the cancel leaves it up."""
    factory = freeze_at(monkeypatch, home, Phase.REPORTING)
    run_id = factory.launch(tiny_models["tiny-bert-cls"]).run_id
    try:
        wait_frozen_worker(factory, run_id, FREEZE_TIMEOUT)
        outcome = factory.cancel_run(run_id)
        state = factory.state(run_id)
        assert outcome.canceled and factory.gate(run_id).status is GateStatus.FULL_INFERENCE_PASSED
        assert state.space.id and factory.backend.spaces.runtime(state.space.id).stage is SpaceStage.RUNNING
        assert_settled(factory, state, space_serves=True)
    finally:
        end_factory_processes(home)
