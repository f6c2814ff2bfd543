"""The run dashboard's first paint in headless Chromium: a run with 1,000 events beside the same page for a
10-event run, in one command (issue 12).

Both runs are written directly with `RunRecord` (finished, a passed gate, an app and a worker log, indexed as
`Factory.launch` indexes them) into a temporary factory home; the real server (`space-factory serve
--transport http`, bearer auth on) serves `/runs` from a subprocess, and Debian's `chromium` (driven over the
DevTools pipe, `tests/support/browser.py`) opens each run page `--runs` times, the two runs interleaved, in a
tab already logged in (the token in its sessionStorage), after one unmeasured warm-up load of each. Per load,
from the navigation's start (`performance.now()` origin):

- first contentful paint (`performance.getEntriesByType('paint')`): the page shell, before any data;
- `sf-run-rendered` (the page's own `performance.mark`, at the frame after the run view and every event are
  in the DOM): what a person waits for;
- terminal: when `section#run[data-terminal=true]` is set (the gate, files and log tail read too; a
  MutationObserver installed before the page's scripts records it).

Medians, and each median's ratio to the 10-event run's. Nothing leaves 127.0.0.1.

    .venv/bin/python bench/dashboard_bench.py [--runs 15] [--events 1000] [--baseline-events 10]

Prints a table and writes bench/results/dashboard_bench.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "dashboard_bench.json"
OWNER = "tester"
TOKEN = "dashboard-bench-token-0123456789"
LOAD_TIMEOUT = 60.0
TERMINAL_WATCH = """(() => {
  const seen = () => {
    const run = document.getElementById('run');
    if (run && run.dataset.terminal === 'true' && window.__sfTerminalAt === undefined) {
      window.__sfTerminalAt = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-terminal']});
})();"""
TIMINGS = """(() => {
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const mark = performance.getEntriesByName('sf-run-rendered')[0];
  return {fcp_ms: fcp ? fcp.startTime : null, rendered_ms: mark ? mark.startTime : null,
          terminal_ms: window.__sfTerminalAt ?? null,
          events: document.querySelectorAll('ol#timeline > li[data-seq]').length};
})()"""


def write_run(home: Path, events: int) -> str:
    """A finished run with `events` events, a passed gate, an app and a worker log; indexed; return its id."""
    from space_factory.domain import layout
    from space_factory.domain.phases import Phase, RunStatus
    from space_factory.record import RunRecord
    from space_factory.runs_index import RunsIndex
    from tests.tools.helpers import make_factory, passed_gate
    from tests.tools.helpers import write_run as write_record

    factory = make_factory(home, owner=OWNER)
    phases = [Phase.QUEUED, Phase.ANALYZING, Phase.BUILDING, Phase.GATING]
    timeline = [(phases[i * len(phases) // events], f"step {i + 1} of {events}: pip, build and gate output line")
                for i in range(events - 1)] + [(Phase.DONE, "done")]
    run_id = write_record(factory, status=RunStatus.FINISHED, phase=Phase.DONE, space_id="tester/bench-demo-abcdef",
                          gate=passed_gate("tester/bench-demo-abcdef"), events=timeline,
                          logs={"worker": "".join(f"worker line {i}\n" for i in range(200))})
    RunRecord(factory.backend.bucket, run_id).write_text(f"{layout.GENERATED}/app.py", "import gradio as gr\n")
    RunsIndex(factory.backend.bucket, OWNER).add(run_id)
    return run_id


def load(page: Any, base: str, run_id: str, events: int) -> dict[str, float]:
    """Open a run's page in the logged-in tab and read its timings once it is terminal."""
    page.navigate(f"{base}/runs/{run_id}", timeout=LOAD_TIMEOUT)
    page.wait_for("window.__sfTerminalAt !== undefined && performance.getEntriesByName('sf-run-rendered').length "
                  "&& performance.getEntriesByName('first-contentful-paint').length", timeout=LOAD_TIMEOUT,
                  what=f"the page of the {events}-event run to be painted and terminal")
    timings = dict(page.evaluate(TIMINGS))
    if timings["events"] != events:
        raise RuntimeError(f"the page shows {timings['events']} events of {events}")
    return {key: float(timings[key]) for key in ("fcp_ms", "rendered_ms", "terminal_ms")}


def quartile_range(values: list[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles: how much the loads of one page spread on a shared machine."""
    cuts = statistics.quantiles(values, n=4)
    return cuts[0], cuts[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="measured loads of each page")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--baseline-events", type=int, default=10)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="sf-dashboard-bench-"))
    os.environ.update({"SPACE_FACTORY_HOME": str(scratch / "home"), "SPACE_FACTORY_OWNER": OWNER,
                       "HF_HOME": str(scratch / "hf-home"), "HF_HUB_OFFLINE": "1"})
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    from tests.server.transports import http_server
    from tests.support.browser import Browser

    cases = {"baseline": args.baseline_events, "large": args.events}
    samples: dict[str, list[dict[str, float]]] = {case: [] for case in cases}
    try:
        run_ids = {case: write_run(scratch / "home", events) for case, events in cases.items()}
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        with (http_server(env={"SPACE_FACTORY_HTTP_TOKEN_SHA256": digest}) as base,
              Browser.start(workdir=scratch) as browser, browser.page() as page):
            page.add_init_script(TERMINAL_WATCH)
            page.navigate(f"{base}/runs")
            page.wait_for("document.body.dataset.state === 'login'", what="the login form")
            page.fill("#token", TOKEN)
            page.click("form#login button[type=submit]")
            page.wait_for("document.body.dataset.state === 'ready'", what="the runs list")
            for case in cases:  # warm-up: the static assets cached, the server's first reads done
                load(page, base, run_ids[case], cases[case])
            for _ in range(args.runs):
                for case in cases:
                    samples[case].append(load(page, base, run_ids[case], cases[case]))
            version = browser.version
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    medians = {case: {key: statistics.median(s[key] for s in samples[case]) for key in samples[case][0]}
               for case in cases}
    quartiles = {case: {key: quartile_range([s[key] for s in samples[case]]) for key in samples[case][0]}
                 for case in cases}
    ratios = {key: medians["large"][key] / medians["baseline"][key] for key in medians["large"]}
    labels = {"fcp_ms": "first contentful paint", "rendered_ms": "sf-run-rendered", "terminal_ms": "terminal"}
    print(f"dashboard run page, headless {version}, median [p25-p75] of {args.runs} loads each "
          "(ms from navigation start)")
    print(f"{'':24} {f'{args.baseline_events} events':>22} {f'{args.events} events':>22} {'ratio':>8}")
    for key, label in labels.items():
        cells = [f"{medians[case][key]:.1f} [{quartiles[case][key][0]:.0f}-{quartiles[case][key][1]:.0f}]"
                 for case in cases]
        print(f"{label:24} {cells[0]:>22} {cells[1]:>22} {ratios[key]:>7.2f}×")
    RESULTS.write_text(json.dumps({
        "browser": version, "runs": args.runs, "events": cases, "median_ms": medians, "p25_p75_ms": quartiles,
        "ratio": ratios,
        "samples_ms": samples, "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
