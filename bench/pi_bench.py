"""Pi's start-to-first-request overhead beside `node -e 0`, side by side in one command (issue 9).

Real Pi (the factory's install, `ensure_pi`) on the real Node ELF, against the loopback scripted model
(tests/support/scripted_model.py), through `run_pi` exactly as an attempt runs it (fresh agent dir, env
from scratch, the sweep afterwards). Wall times, median of `--runs` (default 5), interleaved run by run so
machine load hits every row alike:

- `node -e 0`: the floor any Node program pays;
- `pi --version`: Pi's bundle loaded, no session;
- run_pi start → first request: what an attempt waits before the model is asked anything (compile cache warm,
  shared across runs as in one worker; `cold` gives each run a fresh TMPDIR, as a first attempt has);
- run_pi full 3-turn run (write, bash, final text), the scripted model answering at once.

    .venv/bin/python bench/pi_bench.py [--runs 5] [--tools-dir DIR]

Prints a table and writes bench/results/pi_bench.json. The tools dir defaults to the tests' shared one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "pi_bench.json"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from space_factory.worker.agent.install import ensure_pi
    from space_factory.worker.agent.runner import PiInvocation, run_pi
    from tests.support.pi import shared_tools_dir
    from tests.support.scripted_model import ScriptedModel, Text, bash, write

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools-dir", type=Path, default=None)
    args = parser.parse_args()
    install = ensure_pi(args.tools_dir or shared_tools_dir())
    work = Path(tempfile.mkdtemp(prefix="pi-bench-"))
    warm_tmp = work / "warm-tmp"
    warm_tmp.mkdir()

    def timed(cmd: list[str]) -> float:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(warm_tmp), "PI_OFFLINE": "1",
               "PI_TELEMETRY": "0", "PI_CODING_AGENT_DIR": str(work / "version-agent")}
        started = time.monotonic()
        subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=120)
        return time.monotonic() - started

    def attempt(run: int, steps: list, cold: bool) -> tuple[float, float]:
        """(start → first request, whole run) of one run_pi."""
        root = work / f"run-{run}-{len(steps)}-{cold}"
        agent_dir = root / "agent"
        if not cold:  # share the compile cache: run_pi puts it under <agent dir>/tmp
            (agent_dir / "tmp").mkdir(parents=True)
            (agent_dir / "tmp" / "node-compile-cache").symlink_to(warm_tmp / "node-compile-cache",
                                                                  target_is_directory=True)
        with ScriptedModel(steps) as model:
            started = time.monotonic()
            outcome = run_pi(install, PiInvocation(workspace=root / "ws", prompt="Build the app.",
                                                   base_url=model.base_url, model="scripted-model", timeout=120,
                                                   session_dir=root / "sessions", agent_dir=agent_dir))
            whole = time.monotonic() - started
            if not outcome.ok or not model.requests:
                raise SystemExit(f"run {run} failed: {outcome.error}")
            return model.requests[0].time - started, whole

    three_turns = [write("app.py", "print('hi')\n"), bash("python3 -c 'print(6*7)'"), Text("done")]
    rows: dict[str, Callable[[int], float]] = {
        "node -e 0": lambda run: timed([str(install.node), "-e", "0"]),
        "pi --version": lambda run: timed([str(install.node), str(install.cli_js), "--version"]),
        "run_pi start -> first request (warm compile cache)": lambda run: attempt(run, [Text("done")], False)[0],
        "run_pi start -> first request (cold compile cache)": lambda run: attempt(run, [Text("done")], True)[0],
        "run_pi full 3-turn run (warm)": lambda run: attempt(run, three_turns, False)[1],
    }
    timed([str(install.node), str(install.cli_js), "--version"])  # fills the warm compile cache
    samples: dict[str, list[float]] = {name: [] for name in rows}
    try:
        for run in range(args.runs):
            for name, measure in rows.items():
                samples[name].append(measure(run))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor = statistics.median(samples["node -e 0"])
    result = {"runs": args.runs, "pi_version": install.version, "load_average": list(os.getloadavg()),
              "cpus": os.cpu_count(), "rows": {}}
    print(f"{'measure':<52} {'median s':>9} {'min':>7} {'max':>7} {'x node':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        result["rows"][name] = {"median_s": round(median, 3), "min_s": round(min(values), 3),
                                "max_s": round(max(values), 3), "x_node": round(median / floor, 1)}
        print(f"{name:<52} {median:>9.3f} {min(values):>7.3f} {max(values):>7.3f} {median / floor:>8.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average {result['load_average']}; wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
