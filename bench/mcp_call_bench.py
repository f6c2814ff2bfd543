"""An MCP `tools/call` on a generated Space beside the same call through gradio_client (issue 12, part 3).

    .venv/bin/python bench/mcp_call_bench.py [--rounds 20] [--model tiny-bert-cls]

Local backend: one `space-factory build MODEL --wait` of a tiny model (not measured), then, on that one running
Space, N rounds alternating the two clients, each round timing apart:
- setup: gradio_client `Client(url)` (it reads the app's config and API info) against the MCP client's session
  (streamable HTTP: `mode="auto"` tries discovery, then `initialize` with Gradio's mcp 1 server) plus `tools/list`;
- call: `client.predict(text, api_name="/predict")` against `tools/call` of the gate's `how_to_call.mcp` tool,
  with the same text, on the client just set up.
Medians, and the ratio MCP / gradio_client; also the gate's whole `mcp` check as the build recorded it.
Prints a table and writes bench/results/mcp_call_bench.json.
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
from pathlib import Path

import anyio
import httpx2
from bench_home import cli, offline_env

ROOT = Path(__file__).resolve().parents[1]
TEXT = "I loved this movie, it was wonderful!"




def gradio_round(url: str, parameter: str) -> tuple[float, float]:
    from gradio_client import Client

    started = time.perf_counter()
    client = Client(url, verbose=False, analytics_enabled=False)
    ready = time.perf_counter()
    client.predict(**{parameter: TEXT}, api_name="/predict")
    return ready - started, time.perf_counter() - ready


async def mcp_round(url: str, tool: str, parameter: str) -> tuple[float, float]:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    started = time.perf_counter()
    async with (httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120)) as http,
                Client(streamable_http_client(url, http_client=http)) as client):
        await client.list_tools()
        ready = time.perf_counter()
        answer = await client.call_tool(tool, {parameter: TEXT})
        done = time.perf_counter()
    if answer.is_error:
        raise RuntimeError(f"the tool answered an error: {answer.content}")
    return ready - started, done - ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--model", default="tiny-bert-cls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-mcp-call-bench-") as tmp:
        base = Path(tmp)
        env = offline_env(base)
        state = cli(env, "build", f"factory-test/{args.model}", "--agent", "none", "--wait")
        try:
            gate = cli(env, "gate", state["run_id"])
            how = gate["how_to_call"]
            mcp, parameter = how["mcp"], how["parameters"][0]["name"]
            check_ms = gate["evidence"]["mcp"]["duration_ms"]  # the gate's whole mcp check, inside the build
            rows: dict[str, list[float]] = {"gradio_setup": [], "gradio_call": [], "mcp_setup": [], "mcp_call": []}
            for n in range(args.rounds + 1):
                order = ("gradio", "mcp") if n % 2 else ("mcp", "gradio")
                for side in order:
                    setup, call = (gradio_round(state["space"]["url"], parameter) if side == "gradio"
                                   else anyio.run(mcp_round, mcp["url"], mcp["tool"], parameter))
                    if n:  # round 0 warms both paths (imports, the app's first calls)
                        rows[f"{side}_setup"].append(setup)
                        rows[f"{side}_call"].append(call)
        finally:
            subprocess.run([sys.executable, "-m", "space_factory", "spaces", "stop", "--all", "--json"], env=env,
                           capture_output=True, check=False)
    medians = {name: round(statistics.median(values) * 1000, 1) for name, values in rows.items()}
    result = {
        "model": args.model, "rounds": args.rounds, "tool": mcp["tool"], "median_ms": medians,
        "ratio_mcp_over_gradio": {"setup": round(medians["mcp_setup"] / medians["gradio_setup"], 2),
                                  "call": round(medians["mcp_call"] / medians["gradio_call"], 2)},
        "gate_mcp_check_ms": check_ms, "load_average": os.getloadavg()[0],
    }
    print(f"{args.model}, {args.rounds} rounds (medians, ms; load {result['load_average']:.1f})")
    print(f"{'':8} {'gradio_client':>14} {'MCP':>8} {'ratio':>6}")
    for part in ("setup", "call"):
        print(f"{part:8} {medians[f'gradio_{part}']:>14} {medians[f'mcp_{part}']:>8} "
              f"{result['ratio_mcp_over_gradio'][part]:>6}")
    print(f"the gate's mcp check inside the build: {check_ms} ms")
    out = ROOT / "bench" / "results" / "mcp_call_bench.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
