"""Record a real agent-style build through the MCP server over stdio, for the README's transcript.

    .venv/bin/python bench/mcp_transcript.py

Makes a tiny random-weight GPT-2 in a temporary HF cache (offline, nothing downloaded), starts
`python -m space_factory serve` with the SDK's stdio client, and plays an agent's loop: analyze_model →
launch_build (wait_seconds, progress) → get_run_status until terminal → get_gate → fetch_trace_redacted.
Every call and its (trimmed) result is written to bench/results/mcp_transcript.md. The Space is
stopped at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "mcp_transcript.md"
MODEL = "factory-test/tiny-gpt2"
MAKE_MODEL = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
              "from tests.support.tiny_models import build_gpt2, install_into_cache; "
              "install_into_cache(build_gpt2(Path(sys.argv[2]) / 'src'), 'factory-test/tiny-gpt2', sys.argv[2])")


def trim(value: Any, keep: list[str]) -> dict[str, Any]:
    return {k: value[k] for k in keep if k in value}


class Transcript:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.monotonic()

    def call(self, tool: str, args: dict[str, Any], shown: Any, note: str = "") -> None:
        stamp = f"t+{time.monotonic() - self.started:5.1f}s"
        self.lines += [f"→ {tool}({json.dumps(args)})   # {stamp}{'  ' + note if note else ''}",
                       "← " + json.dumps(shown, indent=2, default=str).replace("\n", "\n  "), ""]


async def play(client: Client, out: Transcript) -> str:
    async def call(tool: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
        result = await client.call_tool(tool, args, **kw)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content

    analysis = await call("analyze_model", {"model": MODEL})
    out.call("analyze_model", {"model": MODEL}, {
        "analysis": trim(analysis["analysis"], ["model", "task", "library", "params", "license", "has_template"]),
        "recommendation": trim(analysis["recommendation"], ["primary", "fallback", "reasons"])})

    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(f"progress {value:g}/{total:g}: {message}")

    args = {"model": MODEL, "idempotency_key": "readme-demo", "wait_seconds": 15}
    launched = await call("launch_build", args, progress_callback=on_progress)
    await anyio.sleep(0.2)
    out.lines += [f"  ({line})" for line in progress]
    out.call("launch_build", args, trim(launched, ["run_id", "status", "phase", "terminal", "next_poll_seconds",
                                                   "waited_seconds", "links", "next_step"]))
    run_id, since, polls = launched["run_id"], 0, 0
    while True:
        status = await call("get_run_status", {"run_id": run_id, "since_seq": since})
        polls += 1
        if status["terminal"] or polls == 1:
            shown = trim(status, ["last_seq", "terminal", "next_poll_seconds"])
            shown["state"] = trim(status["state"], ["status", "phase", "gate_status", "space"])
            shown["events"] = [f"#{e['seq']} {e['phase']}: {e['message']}" for e in status["events"]][-8:]
            out.call("get_run_status", {"run_id": run_id, "since_seq": since}, shown,
                     note="(polls in between omitted)" if status["terminal"] else "")
        since = status["last_seq"]
        if status["terminal"]:
            break
        await anyio.sleep(status["next_poll_seconds"] or 2)
    gate = await call("get_gate", {"run_id": run_id})
    shown = trim(gate, ["ready", "gate_status", "message"])
    shown["checks"] = [f"{c['name']}: {c['status']} — {c['detail']}" for c in gate["gate"]["checks"]]
    shown["how_to_call"] = gate["gate"]["how_to_call"]
    out.call("get_gate", {"run_id": run_id}, shown)
    page = await call("fetch_trace_redacted", {"run_id": run_id, "kind": "worker", "max_bytes": 700})
    out.call("fetch_trace_redacted", {"run_id": run_id, "kind": "worker", "max_bytes": 700},
             trim(page, ["text", "cursor", "next_cursor", "total_bytes", "withheld", "available_kinds"]))
    return run_id


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="sf-transcript-"))
    env = {"HF_HOME": str(base / "hf-home"), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "SPACE_FACTORY_HOME": str(base / "home"), "SPACE_FACTORY_OWNER": "me"}
    subprocess.run([sys.executable, "-c", MAKE_MODEL, str(ROOT), env["HF_HOME"]], check=True,
                   env={**os.environ, **env}, capture_output=True)
    params = StdioServerParameters(command=sys.executable, args=["-m", "space_factory", "serve"], env=env)
    out = Transcript()

    async def run() -> None:
        async with Client(params, mode="legacy") as client:  # what most deployed clients speak today
            await play(client, out)

    try:
        anyio.run(run)
    finally:
        subprocess.run([sys.executable, "-m", "space_factory", "spaces", "stop", "--all", "--json"],
                       env={**os.environ, **env}, capture_output=True, check=False)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(out.lines) + "\n")
    print("\n".join(out.lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
