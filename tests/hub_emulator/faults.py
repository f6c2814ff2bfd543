"""The emulator's fault switches: what a test turns on to make the Hub fail the way it can fail.

- `fail(method, path_regex, status, times)`: the next `times` matching requests are answered `status`.
- `job_faults[needle] = message`: a job is ended in error with `message` once its own run's events contain
  `needle` (an empty message emulates an error without a reason).
- `space_build_error = True`: every commit to a Space adds a requirement pip cannot install.
- The Hub's strictness, on by default (issue 13), each reset by `clear()`: `mount` (jobs' bucket volumes behave
  like hf-mount, `mount.py`), `budget` (a per-token request budget answering 429, `budget.py`) and `objects`
  (range answers of both shapes, 404s without `X-Error-Code`, `ranges.py`); `rules` (README front matter,
  Spaces, gated and private models, ZeroGPU plans, token kinds, log streams, tree listings: `rules.py`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.hub_emulator.budget import RequestBudget
from tests.hub_emulator.jobs import EmulatedJob
from tests.hub_emulator.mount import MountSwitch
from tests.hub_emulator.ranges import ObjectAnswers
from tests.hub_emulator.rules import HubRules

BAD_REQUIREMENT = "space-factory-emulator-missing-package==0.0.0"
RUN_LABEL = "space-factory-run"  # the label the hf backend puts the run id in (job faults target one run)


@dataclass
class Fault:
    """An HTTP answer `status` for the next `times` requests whose method and path match."""

    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    hits: int = 0


@dataclass
class FaultSwitches:
    """Every fault a test has switched on; `clear()` turns them all off."""

    http: list[Fault] = field(default_factory=list)
    job_faults: dict[str, str] = field(default_factory=dict)
    space_build_error: bool = False
    mount: MountSwitch = field(default_factory=MountSwitch)
    budget: RequestBudget = field(default_factory=RequestBudget)
    objects: ObjectAnswers = field(default_factory=ObjectAnswers)
    rules: HubRules = field(default_factory=HubRules)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, method: str, path_regex: str, status: int, times: int = 1) -> Fault:
        fault = Fault(method.upper(), re.compile(path_regex), status, times)
        with self._lock:
            self.http.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that answers this request, counted as used; None to answer it normally."""
        with self._lock:
            fault = next((f for f in self.http if f.method in (method, "*") and f.hits < f.times
                          and f.pattern.search(path)), None)
            if fault is not None:
                fault.hits += 1
            return fault

    def clear(self) -> None:
        with self._lock:
            self.http.clear()
        self.job_faults.clear()
        self.space_build_error = False
        self.mount, self.budget, self.objects = MountSwitch(), RequestBudget(), ObjectAnswers()
        self.rules = HubRules()

    def job_error(self, job: EmulatedJob, bucket_dir: Callable[[str, str], Path]) -> str | None:
        """The error to end `job` with, once its own run's events (in a bucket it mounts) contain a needle."""
        run_id = (job.spec.get("labels") or {}).get(RUN_LABEL)
        if not run_id:
            return None
        for needle, message in self.job_faults.items():
            for volume in job.spec.get("volumes") or []:
                ns, _, name = str(volume["source"]).partition("/")
                events = bucket_dir(ns, name) / "runs" / run_id / "events.jsonl"
                if events.is_file() and needle in events.read_text(errors="replace"):
                    return message
        return None
