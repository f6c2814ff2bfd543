"""Loopback load on the real HTTP server, and what `list_runs` costs as an owner's runs pile up (issue 8):

(a) `get_run_status` over streamable HTTP against `space-factory serve --transport http` in a subprocess on
    127.0.0.1 (bearer auth on, stateless, as deployed): 20 concurrent clients, 2,000 calls in total, req/s and
    p50 / p99, beside a no-op tool registered on the same server instance (in this bench's server process
    only, never in the product) — the ratio is what the factory's own work costs per call;
(b) one `list_runs` page (10 runs) for an owner with 10, 1,000 and 10,000 runs, written directly with
    `RunRecord` and indexed as `Factory.launch` indexes them (`runs_index`): the first page, and a page at 80 %
    of the history reached with its cursor — each size's ratio to the 10-run page is the growth with the number
    of runs an owner has ever made (target: close to 1×) — with the names listed and records read per page
    (counted), and the one-time backfill of records from before the index.

    .venv/bin/python bench/security_bench.py [--clients 20] [--calls 2000] [--mode auto|legacy]
        [--runs 10,1000,10000] [--backfill-runs 1000] [--skip-http (keep the last HTTP results)]

Every loop has a fixed count, every wait a timeout; the server is stopped at the end whatever happens.
Nothing leaves 127.0.0.1; runs live in temporary factory homes. Prints a table and writes
bench/results/security_bench.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from space_factory.backends.local import local_backend
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.ids import mint_run_id
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import RunRequest, RunState
from space_factory.record import RunRecord
from space_factory.runs_index import RunsIndex
from space_factory.service import Factory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "security_bench.md"
OWNER = "bench"
PAGE = 10  # the 10-run owner's whole history is one page: both sides read the same number of states
START_SECONDS = 60
PHASE_SECONDS = 600
# What this bench measured when every page was cut from the listing of every run id (2026-12-01 19:19 UTC).
BEFORE_INDEX = ("a first page cost 1.34 ms with 10 runs and 3.76 ms with 1,000 (2.81×), page 81 3.09 ms (2.31×), "
                "the tool 5.11 / 8.00 ms (1.57×)")
SCRATCH = Path(tempfile.gettempdir()) / f"sf-security-bench-{os.getpid()}"  # every factory home; removed at the end


# -- the server process (this file again, with --serve) -----------------------------------------------


def serve_with_noop(port: int) -> int:
    """`space-factory serve --transport http` exactly as shipped, plus a no-op tool on this instance only."""
    import space_factory.server.run as run_module
    from space_factory import cli
    from space_factory.server.app import create_app

    def create_app_with_noop(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)

        @app.tool(title="No-op (bench baseline)")
        def noop() -> dict[str, str]:
            """Does nothing: the MCP, HTTP and auth cost of one call, without the factory."""
            return {"ok": "yes"}

        return app

    run_module.create_app = create_app_with_noop  # type: ignore[attr-defined]
    return cli.main(["serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, token: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    digest = hashlib.sha256(token.encode()).hexdigest()
    env = {**os.environ, "SPACE_FACTORY_HOME": str(home), "SPACE_FACTORY_OWNER": OWNER, "HF_HUB_OFFLINE": "1",
           "SPACE_FACTORY_BACKEND": "local", "SPACE_FACTORY_HTTP_TOKEN_SHA256": digest}
    env.pop("HF_TOKEN", None)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}"
                               if proc.stderr else "the server exited")
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"the server did not answer /health within {START_SECONDS} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# -- run records, written directly ----------------------------------------------------------------------


class SetupBucket(DirectoryBucket):
    """The bench's writer of run records: the same files as `DirectoryBucket`, without its fsync per object.

    It only makes setting up 10,000 runs take seconds rather than minutes; every page is measured over the
    factory's own `DirectoryBucket` on the same directory.
    """

    def write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.bench")
        tmp.write_bytes(data)
        os.replace(tmp, target)


def factory_with_runs(home: Path, count: int, *, events: int = 3, indexed: bool = True) -> tuple[Factory, list[str]]:
    """A factory whose owner has `count` finished runs, one a second back from now; returns the ids newest first.

    `indexed`: each run has its index entry, as `Factory.launch` writes it; without, the records are runs from
    before the index (the first page indexes them once).
    """
    settings = Settings(home=home, owner=OWNER)
    factory = Factory(settings, local_backend(settings, owner=OWNER))
    assert isinstance(factory.backend.bucket, DirectoryBucket)
    bucket = SetupBucket(factory.backend.bucket.root)
    index = RunsIndex(bucket, OWNER)
    now = datetime.now(UTC)
    ids = []
    for i in range(count):
        run_id = mint_run_id("factory-test/tiny-gpt2", now=now - timedelta(seconds=count - i))
        if indexed:
            index.add(run_id)
        record = RunRecord(bucket, run_id)
        record.write_model(layout.REQUEST, RunRequest(run_id=run_id, model="factory-test/tiny-gpt2", owner=OWNER,
                                                      backend="local"))
        record.write_state(RunState(run_id=run_id, model="factory-test/tiny-gpt2", owner=OWNER, backend="local",
                                    status=RunStatus.FINISHED, phase=Phase.DONE))
        for n in range(events):
            record.append_event(Phase.QUEUED if n == 0 else Phase.BUILDING, f"event {n}")
        ids.append(run_id)
    return factory, ids[::-1]


# -- (a) HTTP load ---------------------------------------------------------------------------------------


async def http_load(base: str, token: str, tool: str, args: dict[str, Any], clients: int, calls: int,
                    mode: str) -> dict[str, Any]:
    """`calls` calls of `tool` spread over `clients` concurrent MCP clients: each call's seconds, and the wall time."""
    latencies: list[float] = []
    per_client = calls // clients

    async def one_client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
            transport = streamable_http_client(f"{base}/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:
                await client.call_tool(tool, args)  # warm-up: the first call of a tool also lists the tools
                ready.append(None)
                await go.wait()
                for _ in range(per_client):
                    t0 = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    latencies.append(time.perf_counter() - t0)
                    if result.is_error:
                        raise RuntimeError(f"{tool} failed during the bench")

    ready: list[None] = []
    go = anyio.Event()
    with anyio.fail_after(PHASE_SECONDS):
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one_client)
            while len(ready) < clients:
                await anyio.sleep(0.01)
            started = time.perf_counter()
            go.set()
        wall = time.perf_counter() - started
    return {"latencies": latencies, "wall": wall}


def merge(parts: list[dict[str, Any]]) -> dict[str, float]:
    """req/s over the summed wall time, and latency percentiles over every call of every part."""
    latencies = sorted(t for part in parts for t in part["latencies"])
    wall = sum(part["wall"] for part in parts)
    return {"calls": len(latencies), "rps": len(latencies) / wall, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


# -- (b) list_runs against the number of runs -------------------------------------------------------------


class CountingBucket:
    """A bucket that counts the names its listings answer and the run records read through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.atomic_append = inner.atomic_append
        self.names = 0
        self.runs: set[str] = set()

    def __getattr__(self, name: str) -> Any:  # write, append, create, size, lock: as the inner bucket
        return getattr(self.inner, name)

    def read(self, key: str) -> bytes | None:
        if key.startswith("runs/"):
            self.runs.add(key.split("/")[1])
        return self.inner.read(key)

    def list(self, prefix: str) -> list[str]:
        names = self.inner.list(prefix)
        self.names += len(names)
        return names


def page_cost(factory: Factory, cursor: str | None) -> tuple[int, int]:
    """(names listed, run records read) by one page: counted, so free of the machine's noise."""
    counting = CountingBucket(factory.backend.bucket)
    counted = Factory(factory.settings, dataclasses.replace(factory.backend, bucket=counting))
    counted.runs_page(limit=PAGE, cursor=cursor)
    return counting.names, len(counting.runs)


def interleaved_ms(samplers: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median milliseconds of each sampler, timed in rounds of one call each, so machine noise falls on all alike."""
    for sample in samplers.values():
        sample()  # warm the file cache
    times: dict[str, list[float]] = {key: [] for key in samplers}
    for _ in range(repeats):
        for key, sample in samplers.items():
            t0 = time.perf_counter()
            sample()
            times[key].append(time.perf_counter() - t0)
    return {key: statistics.median(values) * 1000 for key, values in times.items()}


def full_page(factory: Factory, cursor: str | None) -> Callable[[], object]:
    """One `list_runs` page (the service call the tool makes), checked to be a full one."""
    def sample() -> object:
        page = factory.runs_page(limit=PAGE, cursor=cursor)
        assert len(page.runs) == PAGE
        return page
    return sample


def every_run_id(factory: Factory) -> Callable[[], object]:
    """Listing every run id: what each page was cut from before the index."""
    return lambda: factory.backend.bucket.list(layout.RUNS_PREFIX)


async def tool_page_ms(factories: dict[str, Factory], repeats: int) -> dict[str, float]:
    """Median milliseconds of the `list_runs` tool (first page) through in-memory MCP clients, one per factory,
    timed in rounds: what an agent sees."""
    from space_factory.server.app import create_app

    times: dict[str, list[float]] = {key: [] for key in factories}
    async with AsyncExitStack() as stack:
        clients = {key: await stack.enter_async_context(Client(create_app(lambda subject, token=None, f=f: f)))
                   for key, f in factories.items()}
        for client in clients.values():
            await client.call_tool("list_runs", {"limit": PAGE})
        for _ in range(repeats):
            for key, client in clients.items():
                t0 = time.perf_counter()
                result = await client.call_tool("list_runs", {"limit": PAGE})
                times[key].append(time.perf_counter() - t0)
                assert not result.is_error
    return {key: statistics.median(values) * 1000 for key, values in times.items()}


def deep_cursor(factory: Factory, pages: int) -> str | None:
    """The cursor after `pages` pages, reached the way a client does."""
    cursor = None
    for _ in range(pages):
        cursor = factory.runs_page(limit=PAGE, cursor=cursor).next_cursor
        if cursor is None:
            break
    return cursor


def every_run_once(factory: Factory, ids: list[str]) -> int:
    """Page through every run; assert each comes once, newest first. Returns the number of pages."""
    seen, cursor, pages = [], None, 0
    while pages <= len(ids) // PAGE + 1:
        page = factory.runs_page(limit=PAGE, cursor=cursor)
        pages += 1
        seen += [s.run_id for s in page.runs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids, f"paging through {len(ids)} runs did not give each run once, newest first"
    return pages


def one_size(count: int) -> dict[str, Any]:
    """An owner with `count` runs (one a second, so a minute partition holds 60), paged through once, and the
    counted cost of its first page and of the page at 80 % of its history."""
    t0 = time.perf_counter()
    factory, ids = factory_with_runs(SCRATCH / f"runs-{count}", count, events=0)  # a page reads no events
    out: dict[str, Any] = {"count": count, "factory": factory, "setup_s": time.perf_counter() - t0}
    out["pages"] = every_run_once(factory, ids)  # also writes the index's marker: nothing to backfill here
    out["first_cost"] = page_cost(factory, None)
    deep_page = count * 8 // 10 // PAGE  # the page that starts at 80 % of the history
    if deep_page:
        out["deep_cursor"] = deep_cursor(factory, deep_page)
        out["deep_page"], out["deep_cost"] = deep_page + 1, page_cost(factory, out["deep_cursor"])
    return out


def backfill_cost(count: int, repeats: int) -> dict[str, float]:
    """`count` records from before the index: the one page that indexes them, then a page as usual."""
    factory, ids = factory_with_runs(SCRATCH / f"legacy-{count}", count, events=1, indexed=False)
    t0 = time.perf_counter()
    page = factory.runs_page(limit=PAGE)
    first = time.perf_counter() - t0
    assert [s.run_id for s in page.runs] == ids[:PAGE]
    fresh = Factory(factory.settings, factory.backend)  # another service over the bucket: finds the marker
    after = interleaved_ms({"after": full_page(fresh, None)}, repeats)["after"]
    return {"count": count, "backfill_s": first, "after_ms": after}


def list_runs_scaling(sizes: list[int], repeats: int, backfill_runs: int) -> dict[str, Any]:
    made = [one_size(count) for count in sizes]
    samplers: dict[str, Callable[[], object]] = {}
    for s in made:
        samplers[f"first {s['count']}"] = full_page(s["factory"], None)
        if "deep_cursor" in s:
            samplers[f"deep {s['count']}"] = full_page(s["factory"], s["deep_cursor"])
        samplers[f"listing {s['count']}"] = every_run_id(s["factory"])
    timed = interleaved_ms(samplers, repeats)
    tools = anyio.run(tool_page_ms, {str(s["count"]): s["factory"] for s in made}, repeats)
    for s in made:
        s["first_ms"], s["listing_ms"], s["tool_ms"] = (timed[f"first {s['count']}"], timed[f"listing {s['count']}"],
                                                        tools[str(s["count"])])
        if "deep_cursor" in s:
            s["deep_ms"] = timed[f"deep {s['count']}"]
    return {"sizes": made, "backfill": backfill_cost(backfill_runs, repeats)}


# -- main ---------------------------------------------------------------------------------------------------


def http_section(args: argparse.Namespace, load: dict[str, dict[str, float]]) -> str:
    status, noop = load["get_run_status"], load["noop"]
    return "\n".join([
        f"## HTTP: {args.clients} concurrent clients, {args.calls} calls per tool "
        f"({args.mode} era, stateless, bearer auth)",
        "",
        f"`.venv/bin/python bench/security_bench.py --clients {args.clients} --calls {args.calls} "
        f"--mode {args.mode}` — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| tool | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| get_run_status | {status['rps']:.0f} | {status['p50_ms']:.1f} | {status['p99_ms']:.1f} |",
        f"| no-op (same server) | {noop['rps']:.0f} | {noop['p50_ms']:.1f} | {noop['p99_ms']:.1f} |",
        f"| ratio get_run_status / no-op | {status['rps'] / noop['rps']:.2f}× throughput | "
        f"{status['p50_ms'] / noop['p50_ms']:.2f}× | {status['p99_ms'] / noop['p99_ms']:.2f}× |",
        "", ""])


def previous_http_section() -> str:
    """The HTTP section of the last results (`--skip-http`), with the command that measured it."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    if "## HTTP" not in old:
        return "## HTTP\n\nNot measured yet: run without --skip-http.\n\n"
    section = "## HTTP" + old.split("## HTTP", 1)[1].split("## list_runs", 1)[0]
    command = next((line for line in old.splitlines() if line.startswith("`.venv/bin/python")), None)
    if command and command not in section:  # the first results put the command in the title block
        heading, rest = section.split("\n", 1)
        section = f"{heading}\n\n{command}\n{rest}"
    return section


def list_runs_section(args: argparse.Namespace, runs: dict[str, Any]) -> str:
    sizes = runs["sizes"]
    base = sizes[0]

    def ratio(s: dict[str, Any], key: str) -> str:
        return f"{s[key] / base['first_ms' if key == 'deep_ms' else key]:.2f}×" if key in s else "—"

    lines = [
        f"## list_runs: one page of {PAGE}, by the number of runs the owner has (median of {args.repeats})",
        "",
        f"`.venv/bin/python bench/security_bench.py --skip-http --runs {','.join(str(s['count']) for s in sizes)} "
        f"--repeats {args.repeats}` — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Runs one a second back from now",
        "(so a minute partition of the index holds 60); the deep page starts at 80 % of the history.",
        "",
        "| owner's runs | first page ms | deep page ms (page) | list_runs tool ms (MCP, in memory) | "
        "names listed first / deep | records read first / deep | listing every run id ms (before the index) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        deep = f"{s['deep_ms']:.2f} ({s['deep_page']})" if "deep_ms" in s else "—"
        names = f"{s['first_cost'][0]} / {s['deep_cost'][0]}" if "deep_cost" in s else f"{s['first_cost'][0]} / —"
        reads = f"{s['first_cost'][1]} / {s['deep_cost'][1]}" if "deep_cost" in s else f"{s['first_cost'][1]} / —"
        lines.append(f"| {s['count']:,} | {s['first_ms']:.2f} | {deep} | {s['tool_ms']:.2f} | {names} | {reads} | "
                     f"{s['listing_ms']:.3f} |")
    for s in sizes[1:]:
        lines.append(f"| {s['count']:,} / {base['count']:,} | {ratio(s, 'first_ms')} | {ratio(s, 'deep_ms')} | "
                     f"{ratio(s, 'tool_ms')} | | | {s['listing_ms'] / base['listing_ms']:.1f}× |")
    backfill = runs["backfill"]
    lines += [
        "",
        "Paging through every run (" + ", ".join(f"{s['count']:,} runs: {s['pages']:,} page{'s' * (s['pages'] > 1)}"
                                                 for s in sizes)
        + ") gave each run once, newest first. Setup (writing the records): "
        + ", ".join(f"{s['setup_s']:.1f} s" for s in sizes) + ".",
        "",
        "A page lists the owner's index partitions newest first (`runs_index`: year, day, hour, minute, then the",
        "minute's run ids) and only as far as it reads, so its names listed are bounded by the calendar and by",
        "how many runs one minute holds, not by the history; the deep page starts at its cursor's minute. It reads",
        f"{PAGE} + 1 records (one to tell whether a next page exists). The last column is what every page listed",
        "before the index — one directory listing here, one paginated tree listing per 1,000 names on the hf bucket.",
        f"Before the index, {BEFORE_INDEX}.",
        "",
        f"Runs from before the index: the first page over {backfill['count']:,} unindexed records indexes them once "
        f"({backfill['backfill_s']:.2f} s, one fsync'd write per record); a page after that: "
        f"{backfill['after_ms']:.2f} ms.",
        "",
    ]
    return "\n".join(lines)


def write_results(http: str, runs_text: str) -> str:
    text = "\n".join([
        "# security_bench: loopback load and list_runs scaling (issue 8)",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs (shared).",
        "",
        http.rstrip("\n"),
        "",
        runs_text,
    ])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


def measure_http(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    home = SCRATCH / "http"
    _, (run_id,) = factory_with_runs(home, 1, events=12)
    token = secrets.token_urlsafe(24)  # for this run only; the server knows only its SHA-256
    proc, base = start_server(home, token)
    halves: dict[str, list[dict[str, Any]]] = {"get_run_status": [], "noop": []}
    try:
        for _ in range(2):  # alternate halves, so that machine noise falls on both tools
            for name, tool_args in (("get_run_status", {"run_id": run_id}), ("noop", {})):
                halves[name].append(anyio.run(http_load, base, token, name, tool_args, args.clients,
                                              args.calls // 2, args.mode))
    finally:
        stop_server(proc)
    return {name: merge(parts) for name, parts in halves.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000, help="calls per tool, spread over the clients")
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto", help="protocol era of the clients")
    parser.add_argument("--repeats", type=int, default=200, help="list_runs pages timed per measure")
    parser.add_argument("--runs", default="10,1000,10000", help="owner history sizes for list_runs, smallest first")
    parser.add_argument("--backfill-runs", type=int, default=1000, help="unindexed records for the one-time backfill")
    parser.add_argument("--skip-http", action="store_true", help="measure list_runs only; keep the HTTP results")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)  # the server subprocess
    args = parser.parse_args()
    if args.serve is not None:
        return serve_with_noop(args.serve)

    sizes = sorted(int(n) for n in args.runs.split(","))
    try:
        http = previous_http_section() if args.skip_http else http_section(args, measure_http(args))
        runs = list_runs_scaling(sizes, args.repeats, args.backfill_runs)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(write_results(http, list_runs_section(args, runs)))
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
