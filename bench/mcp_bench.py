"""The MCP server's overheads, each as a ratio measured side by side in this one command (issue 3):

(a) `get_run_status` latency against a no-op tool added to the same server (in-memory client, both eras);
(b) cold start to the first `tools/list` answer over stdio: `python -m space_factory serve` against a bare
    `MCPServer` with one tool;
(c) idle RSS of the same two processes, 2 s after that answer.

    .venv/bin/python bench/mcp_bench.py [--calls 300] [--starts 7]

Runs alternate (ours, bare, ours, …) so machine noise hits both. Prints a table and writes
bench/results/mcp_bench.json. Nothing here touches the network; runs live in a temporary factory home.
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
from typing import Any

from space_factory.domain.views import RunStatusView

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "mcp_bench.json"

BARE_SERVER = """
from mcp.server import MCPServer
app = MCPServer("bare")

@app.tool()
def noop() -> str:
    return "ok"

app.run()
"""

HANDSHAKE = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "SPACE_FACTORY_HOME": str(home), "SPACE_FACTORY_OWNER": "bench", "HF_HUB_OFFLINE": "1"}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cold_start(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds from spawn to the `tools/list` answer (raw JSON-RPC over the pipes), and RSS (KiB) 2 s later."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for message in HANDSHAKE:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            if message.get("id") == 2:
                while True:
                    reply = json.loads(proc.stdout.readline())
                    if reply.get("id") == 2:
                        break
            elif "id" in message:
                proc.stdout.readline()
        elapsed = time.perf_counter() - started
        time.sleep(2.0)
        return elapsed, _rss_kib(proc.pid)
    finally:
        proc.stdin.close()
        proc.wait(20)


async def tool_latency(calls: int) -> dict[str, Any]:
    """Median seconds of `get_run_status` and of a no-op tool on the same server, per era."""
    import anyio

    sys.path.insert(0, str(ROOT))
    from mcp import Client

    from space_factory.domain.phases import Phase
    from tests.tools.helpers import make_app, make_factory, write_run

    factory = make_factory(Path(tempfile.mkdtemp(prefix="sf-bench-")) / "home")
    run_id = write_run(factory, events=[(phase, f"event {i}") for i, phase in enumerate(Phase)])
    app = make_app(factory)

    @app.tool(title="No-op")
    def noop() -> dict[str, str]:
        """Does nothing (benchmark baseline)."""
        return {"ok": "yes"}

    cached = factory.run_status(run_id)

    @app.tool(title="Same payload, no service")
    async def payload_twin() -> RunStatusView:
        """Returns a stored get_run_status answer: the MCP and schema cost of that payload without the service."""
        return cached

    out: dict[str, Any] = {}
    for mode in ("auto", "legacy"):
        async with Client(app, mode=mode) as client:  # type: ignore[arg-type]
            tools = (("get_run_status", {"run_id": run_id}), ("noop", {}), ("payload_twin", {}))
            timings: dict[str, list[float]] = {name: [] for name, _ in tools}
            for name, args in tools:
                for _ in range(10):  # warm-up (first call also lists tools, pitfall 15)
                    await client.call_tool(name, args)
            for _ in range(calls):
                for name, args in tools:
                    t0 = time.perf_counter()
                    result = await client.call_tool(name, args)
                    timings[name].append(time.perf_counter() - t0)
                    assert not result.is_error
            ms = {name: statistics.median(values) * 1000 for name, values in timings.items()}
            out[mode] = {"get_run_status_ms": ms["get_run_status"], "noop_ms": ms["noop"],
                         "payload_twin_ms": ms["payload_twin"], "ratio": ms["get_run_status"] / ms["noop"],
                         "ratio_vs_payload_twin": ms["get_run_status"] / ms["payload_twin"]}
        await anyio.sleep(0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--starts", type=int, default=7)
    args = parser.parse_args()

    import anyio

    latency = anyio.run(tool_latency, args.calls)
    home = Path(tempfile.mkdtemp(prefix="sf-bench-home-"))
    ours_cmd = [sys.executable, "-m", "space_factory", "serve"]
    bare_cmd = [sys.executable, "-c", BARE_SERVER]
    ours, bare = [], []
    for _ in range(args.starts):
        ours.append(cold_start(ours_cmd, _env(home)))
        bare.append(cold_start(bare_cmd, _env(home)))
    start_ours, start_bare = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in bare)
    rss_ours, rss_bare = statistics.median(r for _, r in ours), statistics.median(r for _, r in bare)
    results = {
        "latency": latency,
        "cold_start": {"ours_s": start_ours, "bare_s": start_bare, "ratio": start_ours / start_bare},
        "idle_rss": {"ours_mib": rss_ours / 1024, "bare_mib": rss_bare / 1024, "ratio": rss_ours / rss_bare},
        "calls": args.calls, "starts": args.starts, "python": sys.version.split()[0],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'measure':<38} {'space-factory':>14} {'baseline':>10} {'ratio':>7}")
    for mode, row in latency.items():
        print(f"{'get_run_status vs no-op, ' + mode + ' (ms)':<38} {row['get_run_status_ms']:>14.3f} "
              f"{row['noop_ms']:>10.3f} {row['ratio']:>7.2f}")
        print(f"{'  … vs same payload w/o service (ms)':<38} {row['get_run_status_ms']:>14.3f} "
              f"{row['payload_twin_ms']:>10.3f} {row['ratio_vs_payload_twin']:>7.2f}")
    print(f"{'stdio cold start to tools/list (s)':<38} {start_ours:>14.3f} {start_bare:>10.3f} "
          f"{start_ours / start_bare:>7.2f}")
    print(f"{'idle RSS (MiB)':<38} {rss_ours / 1024:>14.1f} {rss_bare / 1024:>10.1f} {rss_ours / rss_bare:>7.2f}")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
