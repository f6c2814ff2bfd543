"""Revision cycle time beside a fresh build of the same tiny model (issue 10), and Hub requests per revision.

    .venv/bin/python bench/revision_bench.py [--rounds 3] [--model tiny-gpt2] [--skip-hub]

Local backend, warm: one build first creates the Space venv (not measured); then each round times, side by side,
a fresh `space-factory build MODEL --wait` and a `space-factory revise RUN --file app.py=… --wait` of that build
(an app.py-only change, so the venv and the Space's preloaded interpreter are reused: the restarted app does not
import gradio, torch and transformers again — backends/local/preloader.py), both launch → terminal gate through
the CLI. The goal: a revision in under half a fresh build's time. Then, on the Hub emulator (tests/hub_emulator)
with the hf backend: one build and one revision, counting the Hub requests the revision made (service and job),
and the commits.

Prints a table and writes bench/results/revision_bench.json (with --skip-hub, the last Hub measurement is kept
there, marked `from_an_earlier_run`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_home import cli, offline_env

ROOT = Path(__file__).resolve().parents[1]
V1_RETURN = 'return str(outputs[0]["generated_text"])'




def timed(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    """Seconds for `space-factory ARGS --json` (launch → terminal gate with --wait), and the state it printed."""
    started = time.perf_counter()
    state = cli(env, *args)
    elapsed = time.perf_counter() - started
    if state.get("gate_status") != "full_inference_passed":
        raise RuntimeError(f"did not pass: {state}")
    return elapsed, state


def phases_of(env: dict[str, str], run_id: str) -> dict[str, float]:
    """Seconds between a run's events, summed by the phase of the earlier one (where its time went)."""
    from datetime import datetime

    path = next(Path(env["SPACE_FACTORY_HOME"]).glob(f"buckets/*/*/runs/{run_id}/events.jsonl"))
    stamps = [(e["phase"], datetime.fromisoformat(e["ts"])) for e in map(json.loads, path.read_text().splitlines())]
    phases: dict[str, float] = {}
    for (phase, ts), (_, later) in itertools.pairwise(stamps):
        phases[phase] = round(phases.get(phase, 0.0) + (later - ts).total_seconds(), 2)
    return phases


def local_rounds(base: Path, model: str, rounds: int) -> dict[str, Any]:
    env = offline_env(base)
    timed(env, "build", model, "--agent", "none", "--wait")  # warm-up: creates the Space venv
    subprocess.run([sys.executable, "-m", "space_factory", "spaces", "stop", "--all", "--json"], env=env,
                   capture_output=True, check=False)
    builds, revisions = [], []
    phases: dict[str, dict[str, float]] = {}
    for n in range(rounds):
        elapsed, state = timed(env, "build", model, "--agent", "none", "--wait")
        builds.append(elapsed)
        app = cli(env, "files", state["run_id"], "app.py")["file"]["text"]
        local = base / f"app-{n}.py"
        local.write_text(app.replace(V1_RETURN, f'return "[r{n}] " + str(outputs[0]["generated_text"])'))
        elapsed, revised = timed(env, "revise", state["run_id"], "--file", f"app.py={local}", "--wait")
        revisions.append(elapsed)
        phases = {"build": phases_of(env, state["run_id"]), "revision": phases_of(env, revised["run_id"])}
        subprocess.run([sys.executable, "-m", "space_factory", "spaces", "stop", "--all", "--json"], env=env,
                       capture_output=True, check=False)
    return {"build_warm_s": builds, "revision_s": revisions, "build_warm_median_s": statistics.median(builds),
            "revision_median_s": statistics.median(revisions),
            "ratio_revision_to_build": statistics.median(revisions) / statistics.median(builds),
            "phases_last_round_s": phases}


def hub_requests(base: Path, model: str) -> dict[str, Any]:
    """One build and one revision on the Hub emulator; the requests and commits the revision made."""
    # As tests/hub_emulator/fixtures.py does: the in-process Hub client is pointed at the emulator.
    import huggingface_hub.constants
    import huggingface_hub.utils._xet
    from huggingface_hub.utils import disable_progress_bars

    from space_factory.domain.schemas import BuildOptions
    from tests.hub_emulator import xet
    from tests.hub_emulator.fixtures import ALICE, hf_factory
    from tests.hub_emulator.server import HubEmulator
    from tests.support.runs import wait_terminal

    emulator = HubEmulator(base / "hub", Path(os.environ["HF_HOME"]) / "hub", [ALICE]).start()
    original = huggingface_hub.utils._xet.get_xet_session
    try:
        huggingface_hub.constants.ENDPOINT = emulator.url
        huggingface_hub.constants.HF_HUB_OFFLINE = False
        xet.install(emulator.url)
        disable_progress_bars()
        factory = hf_factory(ALICE.token)
        mark = len(emulator.hub_requests())
        launched = factory.launch(model, options=BuildOptions(), agent="none")
        launch_requests = len(emulator.hub_requests()) - mark
        state = wait_terminal(factory, launched.run_id, 900)
        build_requests = emulator.hub_requests()[mark:]
        app = factory.app_files(state.run_id, "app.py").file
        assert app is not None
        new = app.text.replace(V1_RETURN, 'return "[hub] " + str(outputs[0]["generated_text"])')
        mark = len(emulator.hub_requests())
        started = time.perf_counter()
        revision = factory.revise(state.run_id, {"app.py": new}, note="bench revision")
        admission = emulator.hub_requests()[mark:]
        ended = wait_terminal(factory, revision.run_id, 900)
        seconds = time.perf_counter() - started
        during = emulator.hub_requests()[mark:]
        space = emulator.spaces[str(state.space.id)]
        hub_side = [r for r in during if not r.path.startswith(("/buckets/", "/api/buckets/", "/api/jobs/"))
                    and not r.headers.get("user-agent", "").startswith("hf-mount")]
        kinds: dict[str, int] = {}
        for r in hub_side:
            key = f"{r.method} {r.path.replace(str(state.space.id), '{space}')}"
            kinds[key] = kinds.get(key, 0) + 1
        build_hub_side = [r for r in build_requests if not r.path.startswith(("/buckets/", "/api/buckets/",
                                                                              "/api/jobs/"))
                          and not r.headers.get("user-agent", "").startswith("hf-mount")]
        return {"gate": ended.gate_status, "revision_s_on_emulator": seconds, "requests_all": len(during),
                "build_requests_all": len(build_requests), "build_requests_hub_side": len(build_hub_side),
                "launch_requests_at_admission": launch_requests,
                "requests_hub_side": len(hub_side), "requests_at_admission": len(admission),
                "admission": [f"{r.method} {r.path}" for r in admission],
                "commits_for_the_revision": len(space.get("commits") or []) - 1, "hub_side_by_kind": kinds}
    finally:
        huggingface_hub.utils._xet.get_xet_session = original
        emulator.end_jobs_and_spaces()
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="tiny-gpt2")
    parser.add_argument("--skip-hub", action="store_true", help="measure the local cycle only")
    args = parser.parse_args()
    model = f"factory-test/{args.model}"
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        base = Path(tmp)
        result: dict[str, Any] = {"model": model, "rounds": args.rounds,
                                  "local": local_rounds(base, model, args.rounds)}
        if not args.skip_hub:
            os.environ.update({"HF_HOME": str(base / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
                               "SPACE_FACTORY_HOME": str(base / "home-hf"), "SPACE_FACTORY_JOB_SETTLE_SECONDS": "8",
                               "GRADIO_ANALYTICS_ENABLED": "False"})
            os.environ.pop("HF_HUB_OFFLINE", None)
            result["hub"] = hub_requests(base, model)
    out = ROOT / "bench" / "results" / "revision_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if "hub" not in result and out.exists():  # --skip-hub: the last Hub measurement stays in the results file
        previous = json.loads(out.read_text()).get("hub")
        if previous:
            result["hub"] = {**previous, "from_an_earlier_run": True}
    out.write_text(json.dumps(result, indent=2, default=str))
    local = result["local"]
    print(f"fresh build (warm), median of {args.rounds}: {local['build_warm_median_s']:.1f} s")
    print(f"revision (revise → terminal gate), median: {local['revision_median_s']:.1f} s "
          f"(ratio {local['ratio_revision_to_build']:.2f}; goal < 0.5)")
    print("phases of the last round (s):", json.dumps(local["phases_last_round_s"]))
    if "hub" in result and not result["hub"].get("from_an_earlier_run"):
        hub = result["hub"]
        print(f"hub emulator: a revision made {hub['requests_hub_side']} Hub requests (Spaces, models, commits) and "
              f"{hub['requests_all']} with the bucket and jobs ({hub['requests_at_admission']} before revise returned),"
              f" {hub['commits_for_the_revision']} commit(s); the build before it: {hub['build_requests_hub_side']} "
              f"and {hub['build_requests_all']} ({hub['launch_requests_at_admission']} before launch returned)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
