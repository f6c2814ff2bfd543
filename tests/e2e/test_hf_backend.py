"""A whole build on the hf backend through MCP, against the loopback Hub emulator (issue 4; DESIGN §10.4).

The agent's loop (launch_build → get_run_status → get_gate) runs over the SDK's in-memory client on the
real server; the service talks to the emulator through the real huggingface_hub client; the emulator
runs the job (the worker from the wheel the server shipped) and serves the private Space locally.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from space_factory.backends.hf.jobs import RUN_LABEL, STATUS_TTL_SECONDS
from space_factory.server.app import create_app
from tests.e2e.cli_helpers import cli
from tests.hub_emulator.fixtures import ALICE, client_env, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.hub_emulator.state import Logged
from tests.support.mcp_calls import arguments_for, call_as_told
from tests.tools.helpers import call

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
BUILD_TIMEOUT = 600
POLL_BUDGET = 2


def server_side(requests: list[Logged]) -> list[Logged]:
    """The requests a status poll can make: bucket and jobs routes. The worker in the job calls only whoami,
    Space and model routes, which a poll never calls, and writes through its mounted bucket, whose own
    commits and tree polls (the emulated hf-mount's user agent) run concurrently and are not the poll's."""
    return [r for r in requests if r.path.startswith(("/buckets/", "/api/buckets/", "/api/jobs/"))
            and not r.headers.get("user-agent", "").startswith("hf-mount")]


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_an_agent_builds_a_private_space_on_the_hf_backend(hub: HubEmulator,
                                                                 tiny_models: dict[str, str]) -> None:
    """Issue 4: launch_build → job → bucket record → private Space → /health → API → full_inference_passed;
    the token reaches the job only as a secret; a steady-state get_run_status costs at most 2 Hub requests."""
    factory = hf_factory(ALICE.token)
    started = time.monotonic()
    async with Client(create_app(lambda subject, token=None: factory)) as client:
        before = len(hub.hub_requests())
        launched = await call(client, "launch_build", {"model": tiny_models["tiny-gpt2"]})
        launch_requests = hub.hub_requests()[before:]
        run_id = launched["run_id"]
        polls: list[list[Logged]] = []
        since, status = 0, {}
        with anyio.fail_after(BUILD_TIMEOUT):
            while True:
                mark = len(hub.hub_requests())
                status = await call(client, "get_run_status", {"run_id": run_id, "since_seq": since})
                polls.append(server_side(hub.hub_requests()[mark:]))
                since = status["last_seq"]
                if status["terminal"]:
                    break
                await anyio.sleep(0.5)
        gate = await call(client, "get_gate", {"run_id": run_id})
        elapsed = time.monotonic() - started
        assert status["state"]["status"] == "finished", (status["state"], factory.trace(run_id).text[-3000:])
        assert gate["gate_status"] == "full_inference_passed", gate
        # The Space, gated again by its id: the validation run resolves it through the Hub's runtime.
        validation = await call(client, "validate_space", {"space": gate["gate"]["space"]["id"],
                                                           "task": "text-generation"})
        with anyio.fail_after(BUILD_TIMEOUT):
            while not (await call(client, "get_run_status", {"run_id": validation["run_id"]}))["terminal"]:
                await anyio.sleep(0.5)
        revalidated = await call(client, "get_gate", {"run_id": validation["run_id"]})
    assert revalidated["gate_status"] == "full_inference_passed", revalidated

    # DESIGN §13: the private Space is an MCP tool behind the Hub's auth proxy; the check sent the owner's token to
    # the Space's host, and how_to_call.mcp names the header with a placeholder, never the token.
    assert {c["name"]: c["status"] for c in gate["gate"]["checks"]}["mcp"] == "passed", gate["gate"]["evidence"]
    mcp = gate["gate"]["how_to_call"]["mcp"]
    assert mcp["url"] == gate["gate"]["space"]["url"].rstrip("/") + "/gradio_api/mcp/"
    assert mcp["headers"] == {"Authorization": "Bearer <your HF token>"} and ALICE.token not in json.dumps(mcp)
    assert "${env:HF_TOKEN}" in mcp["clients"]["cursor"] and "--header" in mcp["clients"]["claude_code"]
    answer, tools = await call_as_told(mcp, arguments_for(gate["gate"]["how_to_call"],
                                                          gate["gate"]["evidence"]["test_result"]), token=ALICE.token)
    assert mcp["tool"] in tools and not answer.is_error and answer.content, answer
    async with httpx2.AsyncClient() as http:  # without the token the proxy hides the Space, as the Hub does
        assert (await http.post(mcp["url"], json={})).status_code == 404

    space_id = gate["gate"]["space"]["id"]
    assert space_id.startswith("alice/") and hub.spaces[space_id]["private"] is True

    # gradio_client finds the private Space's app by its id, through space_info().host (hf-apis.md §6.1).
    # A subprocess: gradio_client's Hub calls use huggingface_hub's module-level client, bound at import.
    code = ("import json, os; from gradio_client import Client; c = Client(os.environ['SPACE_ID'], "
            "token=os.environ['HF_TOKEN'], verbose=False); "
            "print(json.dumps(sorted(c.view_api(return_format='dict', print_info=False)['named_endpoints'])))")
    done = subprocess.run([sys.executable, "-c", code], env={**client_env(hub, ALICE.token), "SPACE_ID": space_id},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and json.loads(done.stdout), done.stderr[-2000:]

    # The record lives in alice's private bucket.
    bucket = hub.root / "buckets" / "alice" / "space-factory-runs"
    record = bucket / "runs" / run_id
    assert {"request.json", "state.json", "events.jsonl", "inference_gate.json", "report.md"} <= {
        p.name for p in record.iterdir()}
    assert json.loads((record / "request.json").read_text())["backend"] == "hf"

    # The token travels only as the job's secret (DESIGN §9).
    posts = [r for r in hub.hub_requests() if r.method == "POST" and r.path == "/api/jobs/alice"]
    specs: list[dict[str, Any]] = [json.loads(r.body) for r in posts]
    assert [s["labels"][RUN_LABEL] for s in specs] == [run_id, validation["run_id"]]
    for spec in specs:
        assert spec["secrets"] == {"HF_TOKEN": ALICE.token} and spec["timeoutSeconds"] > 0
        assert spec["volumes"] == [{"type": "bucket", "source": "alice/space-factory-runs", "mountPath": "/output",
                                    "readOnly": False}]
        for part in ("command", "arguments", "environment", "labels", "volumes", "flavor", "dockerImage"):
            assert ALICE.token not in json.dumps(spec.get(part)), part
    for request in hub.hub_requests():
        if request not in posts:
            assert ALICE.token.encode() not in request.body, request.path
    for path in files_under(bucket) + files_under(hub.root / "repos"):
        assert ALICE.token.encode() not in path.read_bytes(), path
    assert any("space_factory" in p.name and p.suffix == ".whl" for p in files_under(bucket / "factory"))

    # Status polls: 2 Hub requests each (state.json + the events' new tail). The job's stage is re-read at most
    # every STATUS_TTL_SECONDS; such a poll also records a changed stage, so it is counted apart.
    refreshing = [poll for poll in polls if any(r.path.startswith("/api/jobs/") for r in poll)]
    steady = [len(poll) for poll in polls if poll not in refreshing]
    assert steady and max(steady) <= POLL_BUDGET, [[(r.method, r.path) for r in p] for p in polls if len(p) > 2]
    assert len(refreshing) <= math.ceil(elapsed / STATUS_TTL_SECONDS) + 1
    kinds = [f"{r.method} {r.path}" for r in launch_requests]
    print(f"\n[hf e2e] build {elapsed:.1f} s; launch {len(launch_requests)} Hub requests ({'; '.join(kinds)}); "
          f"{len(polls)} polls: {len(steady)} steady costing {sorted(set(steady))}, {len(refreshing)} with a job "
          f"refresh costing {sorted({len(p) for p in refreshing})}")


def test_the_cli_builds_on_the_hf_backend_as_it_does_locally(hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    """DESIGN §8: `space-factory build MODEL --backend hf --wait --json` gives the run's state with its gate,
    like the local backend (both are timed for the issue's measurement)."""
    model = tiny_models["tiny-bert-cls"]
    env = client_env(hub, ALICE.token)
    started = time.monotonic()
    code, state, stderr = cli("build", model, "--backend", "hf", "--wait", env=env, timeout=BUILD_TIMEOUT)
    hf_seconds = time.monotonic() - started
    assert code == 0 and state["gate_status"] == "full_inference_passed", stderr[-3000:]
    assert state["backend"] == "hf" and state["owner"] == "alice" and state["space"]["id"].startswith("alice/")
    code, runs, _ = cli("runs", "--backend", "hf", env=env, timeout=BUILD_TIMEOUT)
    assert code == 0 and state["run_id"] in [r["run_id"] for r in runs]
    assert ALICE.token not in stderr

    started = time.monotonic()
    local = subprocess.run([sys.executable, "-m", "space_factory", "build", model, "--backend", "local", "--wait",
                            "--json"], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    local_seconds = time.monotonic() - started
    assert json.loads(local.stdout)["gate_status"] == "full_inference_passed", local.stderr[-3000:]
    print(f"\n[build time] {model}: hf backend on the emulator {hf_seconds:.1f} s, local backend {local_seconds:.1f} s")
