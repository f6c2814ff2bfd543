"""A tiny build followed as an MCP task against the plain poll path, side by side (issue 12 part 1).

    .venv/bin/python bench/task_bench.py [--rounds 1] [--model tiny-gpt2]

Local backend, the real streamable HTTP server as a subprocess (2026-07-28, bearer token), a temporary factory
home. One build first creates the Space venv (not measured). Then each round, in alternating order, and with every
Space stopped after each build so each starts on an idle machine:

- task: `launch_build` from a client that declares `io.modelcontextprotocol/tasks` (tests/support/task_client.py,
  Claude Code's way): the call answers a task, the client polls `tasks/get` every `pollIntervalMs` until it is
  completed and has the final `LaunchView` as the call's result;
- poll: `launch_build` from a plain client, then `get_run_status(run_id, since_seq)` every `next_poll_seconds`
  until terminal (the documented agent loop), which ends with the same state.

Counted on the wire (httpx event hooks): HTTP requests by JSON-RPC method from the first `tools/call` to the
final answer, the seconds that took, how late the answer came after the run's terminal state was written
(`lag_after_end_s`: the poll schedule's cost), and the mean round trip of one poll (`tasks/get` vs
`get_run_status`). Build times vary from round to round (the machine is shared), and the requests per round follow
them: `polls_per_minute` and `lag_after_end_s` compare the two schedules independently of the build's length.
Prints a table and writes bench/results/task_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "task_bench.json"

from tests.server.transports import BEARER, http_server  # noqa: E402
from tests.support.task_client import TasksClient  # noqa: E402


class Wire:
    """Counts the HTTP requests a client sends, by JSON-RPC method, and times each round trip."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()
        self.seconds: dict[str, list[float]] = {}
        self._started: dict[int, tuple[str, float]] = {}

    def reset(self) -> None:
        self.methods.clear()
        self.seconds.clear()

    async def on_request(self, request: httpx2.Request) -> None:
        try:
            body = json.loads(request.content)
            method = body["method"] + (f":{body['params']['name']}" if body["method"] == "tools/call" else "")
        except (ValueError, KeyError, TypeError):
            method = f"{request.method} (no JSON-RPC body)"
        self.methods[method] += 1
        self._started[id(request)] = (method, time.perf_counter())

    async def on_response(self, response: httpx2.Response) -> None:
        method, started = self._started.pop(id(response.request), ("?", time.perf_counter()))
        self.seconds.setdefault(method, []).append(time.perf_counter() - started)


@asynccontextmanager
async def connect(base: str, wire: Wire, *, tasks: bool) -> AsyncIterator[Client]:
    hooks: dict[str, list[Any]] = {"request": [wire.on_request], "response": [wire.on_response]}
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}, event_hooks=hooks,
                                   timeout=httpx2.Timeout(30, read=300)) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http),
                       extensions=[TasksClient(timeout=600)] if tasks else None) as client):
        await client.list_tools()  # both clients know the output schemas before the measured part
        wire.reset()
        yield client


async def as_task(base: str, model: str) -> dict[str, Any]:
    wire = Wire()
    async with connect(base, wire, tasks=True) as client:
        started = time.perf_counter()
        result = await client.call_tool("launch_build", {"model": model, "agent": "none"})
        elapsed, arrived = time.perf_counter() - started, datetime.now(UTC)
    final = (result.structured_content or {}).get("state", {})
    return _measure("task", "tasks/get", wire, elapsed, final, arrived)


async def by_polling(base: str, model: str) -> dict[str, Any]:
    wire = Wire()
    async with connect(base, wire, tasks=False) as client:
        started = time.perf_counter()
        launched = (await client.call_tool("launch_build", {"model": model, "agent": "none"})).structured_content
        assert launched is not None
        since, wait = 0, launched["next_poll_seconds"]
        while True:
            await anyio.sleep(wait)
            status = (await client.call_tool("get_run_status", {"run_id": launched["run_id"],
                                                                "since_seq": since})).structured_content
            assert status is not None
            since, wait = status["last_seq"], status["next_poll_seconds"]
            if status["terminal"]:
                break
        elapsed, arrived = time.perf_counter() - started, datetime.now(UTC)
    return _measure("poll", "tools/call:get_run_status", wire, elapsed, status["state"], arrived)


def _measure(path: str, poll: str, wire: Wire, elapsed: float, final: dict[str, Any],
             arrived: datetime) -> dict[str, Any]:
    """One round's numbers; `lag_after_end_s` is from the run's terminal state (its `updated_at`) to the answer."""
    if final.get("gate_status") != "full_inference_passed":
        raise RuntimeError(f"{path}: the build did not pass: {final}")
    lag = (arrived - datetime.fromisoformat(final["updated_at"])).total_seconds()
    return {"path": path, "seconds": round(elapsed, 2), "lag_after_end_s": round(lag, 2),
            "requests": sum(wire.methods.values()),
            "by_method": dict(wire.methods), "polls": wire.methods[poll],
            "polls_per_minute": round(60 * wire.methods[poll] / elapsed, 1),
            "poll_round_trip_ms": round(1000 * statistics.mean(wire.seconds.get(poll, [0.0])), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model", default="tiny-gpt2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="task-bench-") as tmp:
        base = Path(tmp)
        env = {"HF_HOME": str(base / "hf"), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "GRADIO_ANALYTICS_ENABLED": "False", "SPACE_FACTORY_HOME": str(base / "home"),
               "SPACE_FACTORY_OWNER": "bench"}
        os.environ.update(env)  # the server subprocess and the tiny-model builder inherit them
        built = subprocess.run([sys.executable, "-m", "tests.support.tiny_models", env["HF_HOME"]], cwd=ROOT,
                               capture_output=True, text=True, check=True)
        model = json.loads(built.stdout.strip().splitlines()[-1])[args.model]
        rounds: list[dict[str, Any]] = []
        try:
            with http_server(env=env) as server:
                anyio.run(by_polling, server, model)  # warm-up: creates the Space venv
                stop_spaces()
                for n in range(args.rounds):
                    for path in (as_task, by_polling) if n % 2 == 0 else (by_polling, as_task):
                        rounds.append(anyio.run(path, server, model))
                        stop_spaces()  # each build starts with no other Space running
        finally:
            stop_spaces()
    report(model, rounds)


def stop_spaces() -> None:
    subprocess.run([sys.executable, "-m", "space_factory", "spaces", "stop", "--all", "--json"], env=os.environ,
                   capture_output=True, check=False)


KEYS = ("seconds", "lag_after_end_s", "requests", "polls", "polls_per_minute", "poll_round_trip_ms")


def report(model: str, rounds: list[dict[str, Any]]) -> None:
    task = [r for r in rounds if r["path"] == "task"]
    poll = [r for r in rounds if r["path"] == "poll"]

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    summary = {name: {key: median(rows, key) for key in KEYS}
               for name, rows in (("task", task), ("poll", poll))}
    ratios = {key: round(summary["task"][key] / summary["poll"][key], 3) if summary["poll"][key] else None
              for key in summary["task"]}
    RESULTS.write_text(json.dumps({"model": model, "rounds": rounds, "median": summary, "ratio_task_to_poll": ratios},
                                  indent=2) + "\n")
    print(f"{'':<24}{'task':>10}{'poll':>10}{'task/poll':>11}")
    for key in KEYS:
        print(f"{key:<24}{summary['task'][key]:>10}{summary['poll'][key]:>10}{ratios[key]!s:>11}")
    for row in rounds:
        print(f"  {row['path']}: {row['by_method']}")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
