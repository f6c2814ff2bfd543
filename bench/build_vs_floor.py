"""Quick-start build time (launch → gate) beside its floor: a bare Gradio app loading the same model and
answering one predict. Both run side by side in this one command, alternating, so machine noise hits both.

    .venv/bin/python bench/build_vs_floor.py [--rounds 3] [--model tiny-gpt2]

Prints a table and writes bench/results/build_vs_floor.json. The first factory build also creates the
Space venv (cold); later builds reuse it (warm), as a user's second build would.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_home import offline_env

ROOT = Path(__file__).resolve().parents[1]

FLOOR_APP = '''
import os
import gradio as gr
from fastapi import FastAPI
from transformers import pipeline

MODEL_ID = os.environ["MODEL_ID"]
generator = pipeline("text-generation", model=MODEL_ID)
app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


def predict(prompt: str) -> str:
    return generator(prompt, max_new_tokens=16, do_sample=False)[0]["generated_text"]


demo = gr.Interface(predict, gr.Textbox(), gr.Textbox(), api_name="predict", flagging_mode="never")
app = gr.mount_gradio_app(app, demo, path="/")

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def floor_once(env: dict[str, str], model: str, workdir: Path, *, app_text: str = FLOOR_APP,
               predict_args: Sequence[object] = ("the cat sat",)) -> float:
    """Seconds from starting a bare app (`app_text`, serving /health and /predict) to its first predict answer."""
    import httpx
    from gradio_client import Client

    app = workdir / "floor_app.py"
    app.write_text(app_text)
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(app)], env={**env, "MODEL_ID": model, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("the floor app exited")
            time.sleep(0.05)
        Client(f"http://127.0.0.1:{port}/", verbose=False).predict(*predict_args, api_name="/predict")
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)


def factory_once(env: dict[str, str], model: str) -> tuple[float, dict[str, float]]:
    """Seconds for `space-factory build MODEL --wait --json`, and the time spent in each phase."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "space_factory", "build", model, "--wait", "--json"], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - started
    state = json.loads(done.stdout)
    if state.get("gate_status") != "full_inference_passed":
        raise RuntimeError(f"the build did not pass: {state}")
    home = Path(env["SPACE_FACTORY_HOME"])
    events_path = next(home.glob(f"buckets/*/*/runs/{state['run_id']}/events.jsonl"))
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    phases: dict[str, float] = {}
    from datetime import datetime

    stamps = [(e["phase"], datetime.fromisoformat(e["ts"])) for e in events]
    for (phase, ts), (_, next_ts) in itertools.pairwise(stamps):
        phases[phase] = phases.get(phase, 0.0) + (next_ts - ts).total_seconds()
    subprocess.run([sys.executable, "-m", "space_factory", "spaces", "stop", "--all", "--json"], env=env,
                   capture_output=True, check=False)
    return elapsed, phases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="tiny-gpt2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        base = Path(tmp)
        env = offline_env(base)
        model = f"factory-test/{args.model}"
        floors, builds, phase_runs = [], [], []
        for _ in range(args.rounds):
            floors.append(floor_once(env, model, base))
            elapsed, phases = factory_once(env, model)
            builds.append(elapsed)
            phase_runs.append(phases)
        warm = builds[1:] or builds
        result = {
            "model": model, "rounds": args.rounds,
            "floor_s": floors, "build_s": builds,
            "floor_median_s": statistics.median(floors),
            "build_cold_s": builds[0], "build_warm_median_s": statistics.median(warm),
            "ratio_warm": statistics.median(warm) / statistics.median(floors),
            "ratio_cold": builds[0] / statistics.median(floors),
            "phases_last_build_s": phase_runs[-1],
        }
    out = ROOT / "bench" / "results" / "build_vs_floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"floor (bare app → first predict), median of {args.rounds}: {result['floor_median_s']:.2f} s")
    print(f"factory build (launch → gate):  cold {result['build_cold_s']:.2f} s, "
          f"warm median {result['build_warm_median_s']:.2f} s")
    print(f"ratio warm/floor: {result['ratio_warm']:.2f}x   cold/floor: {result['ratio_cold']:.2f}x")
    print("phases of the last build (s):", {k: round(v, 2) for k, v in result["phases_last_build_s"].items()})


if __name__ == "__main__":
    main()
