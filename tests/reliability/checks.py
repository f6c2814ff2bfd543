"""What every fault test checks after its fault: the run ended in the right terminal state, nothing it started
still runs, and every record file is whole (valid JSON, line by line for the logs).

`Tally` counts faults survived and records lost across the suite; the totals are printed at the end of the
session (tests/reliability/conftest.py) for the closing note.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from space_factory.backends.local.jobs import job_id_for
from space_factory.backends.local.process import ProcessRef, _proc_stat, is_alive
from space_factory.domain.layout import RUNS_PREFIX
from space_factory.domain.phases import TERMINAL_STATUSES, Phase
from space_factory.domain.schemas import RunState
from space_factory.service import Factory
from tests.support.processes import children, group_members, processes_mentioning
from tests.support.waiting import wait_until
from tests.tools.helpers import make_factory

FREEZE_ENV = "SPACE_FACTORY_TEST_FREEZE_PHASE"
SITE = Path(__file__).parent / "site"


@dataclass
class Tally:
    faults_survived: int = 0
    records_lost: int = 0
    records_checked: int = 0


TALLY = Tally()


def record_files_valid(bucket_dir: Path) -> int:
    """Parse every `*.json` and every line of every `*.jsonl` under the bucket; return how many files were read.

    Raises:
        AssertionError: a file is torn or not JSON (named in the message).
    """
    count = 0
    for path in sorted(bucket_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())  # raises on a torn or damaged file
            count += 1
        elif path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text().splitlines(), 1):
                assert line.strip(), f"{path}:{number} is empty"
                json.loads(line)
            count += 1
    return count


def readable_runs(factory: Factory, run_ids: list[str]) -> int:
    """Count the runs whose state the service can no longer read (records lost), and add it to the tally."""
    lost = 0
    for run_id in run_ids:
        try:
            factory.state(run_id)
        except Exception:  # any failure to read a run back is a lost record
            lost += 1
    TALLY.records_lost += lost
    return lost


def job_pid(factory: Factory, run_id: str) -> int | None:
    pid_file = factory.settings.jobs_dir / job_id_for(run_id) / "pid.json"
    try:
        return int(json.loads(pid_file.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def worker_pid(factory: Factory, run_id: str) -> int | None:
    """The worker process of a local run: the job process's child."""
    job = job_pid(factory, run_id)
    kids = children(job) if job else []
    return kids[0] if kids else None


def stopped(pid: int) -> bool:
    """The process is stopped by a signal (state `T`): the freeze hook has fired."""
    fields = _proc_stat(pid)
    return bool(fields) and fields[0] in ("T", "t")


def wait_frozen_worker(factory: Factory, run_id: str, timeout: float) -> int:
    """Wait until the run's worker has frozen itself (tests/reliability/site/sitecustomize.py); return its pid."""

    def frozen() -> int | None:
        pid = worker_pid(factory, run_id)
        return pid if pid and stopped(pid) else None

    return wait_until(frozen, timeout, f"the worker of {run_id} to freeze")


def kill(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    os.kill(pid, sig)


def space_processes(factory: Factory, space_id: str | None) -> list[int]:
    """Live processes of a local Space: its supervisor's group, and its preloaded interpreter's group with the
    app it forked (in a group of its own, a child of the preloader)."""
    if not space_id:
        return []
    owner, name = space_id.split("/")
    folder = factory.settings.spaces_dir / owner / name
    assert (folder / "space.json").is_file(), f"the Space {space_id} is not in this factory's home"
    pids: list[int] = []
    for leader in ("supervisor.json", "preloader.json"):
        try:
            ref = ProcessRef.from_json(json.loads((folder / leader).read_text()))
        except (OSError, ValueError):
            continue
        members = group_members(ref.pid) if is_alive(ref) or group_members(ref.pid) else []
        pids += members + [pid for member in members for app in children(member) for pid in group_members(app)]
    return list(dict.fromkeys(pids))


def wait_nothing_running(factory: Factory, state: RunState, *, space_serves: bool = False,
                         timeout: float = 30) -> None:
    """No process of the run (job, worker) is left, nor of its Space unless `space_serves` (a finished gate's
    Space is what the run delivered)."""
    wait_until(lambda: not processes_mentioning(state.run_id)
               and (space_serves or not space_processes(factory, state.space.id)),
               timeout, f"the processes of {state.run_id} and its Space to end")


def assert_settled(factory: Factory, state: RunState, *, space_serves: bool = False) -> None:
    """The run is terminal, nothing of it runs, and the whole bucket is valid JSON; counts one fault survived."""
    assert state.status in TERMINAL_STATUSES, state
    wait_nothing_running(factory, state, space_serves=space_serves)
    bucket = factory.settings.bucket_dir(factory.backend.owner)
    TALLY.records_checked += record_files_valid(bucket)
    assert readable_runs(factory, factory.backend.bucket.list(RUNS_PREFIX)) == 0
    TALLY.faults_survived += 1


def freeze_at(monkeypatch: pytest.MonkeyPatch, home: Path, phase: Phase) -> Factory:
    """A local factory over `home` whose workers freeze as they enter `phase`: the hook's directory goes on
    PYTHONPATH and the phase in the environment, both read when the factory is built (the jobs' environment).

    The worker reads its home from the environment too (only the bucket comes on its command line), so
    SPACE_FACTORY_HOME is set to `home`: its Spaces are then made where this factory looks for them.
    """
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SITE), str(root), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv(FREEZE_ENV, phase.value)
    monkeypatch.setenv("SPACE_FACTORY_HOME", str(home))
    return make_factory(home)
