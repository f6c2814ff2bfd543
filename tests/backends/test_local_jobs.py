"""Local jobs: detached processes that outlive their launcher, and the job process that records how its worker
ended (DESIGN §2 job row, §5 reconcile; docs/architecture.md, the local backend: Jobs)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from space_factory.backends.base import JobStatus
from space_factory.backends.local.jobs import LocalJobRunner, describe_exit, job_id_for
from space_factory.backends.local.process import (
    ProcessRef,
    _proc_stat,
    end_group,
    group_alive,
    is_alive,
    process_start_time,
    spawn_detached,
)
from space_factory.backends.local.spaces import factory_env
from tests.support.processes import children, group_members
from tests.support.waiting import wait_until

RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups a test started; whatever is left of them is ended afterwards."""
    started: list[int] = []
    yield started
    for pgid in started:
        end_group(pgid, grace=0.5)


def _spawn(tmp_path: Path, cmd: list[str], groups: list[int], name: str = "p") -> ProcessRef:
    ref = spawn_detached(cmd, log_path=tmp_path / f"{name}.log", pid_path=tmp_path / f"{name}.json",
                         env=dict(os.environ))
    groups.append(ref.pid)
    return ref


def _job(jobs_dir: Path, job_id: str, command: list[str], groups: list[int]) -> ProcessRef:
    """A job folder with our own command.json, started as the local job runner starts one."""
    folder = jobs_dir / job_id
    folder.mkdir(parents=True)
    (folder / "command.json").write_text(json.dumps(command))
    ref = spawn_detached([sys.executable, "-m", "space_factory.backends.local.job_process", str(folder)],
                         log_path=folder / "job.log", pid_path=folder / "pid.json", env=factory_env())
    groups.append(ref.pid)
    return ref


def test_spawn_detached_returns_at_once_with_a_session_leader_that_outlives_the_launcher(
        tmp_path: Path, groups: list[int]) -> None:
    """A job must survive the CLI or server that started it (detach: fork + setsid + exec)."""
    started = time.monotonic()
    ref = _spawn(tmp_path, ["sleep", "30"], groups)
    assert time.monotonic() - started < 10  # it did not wait for the 30 s command
    assert is_alive(ref)
    assert os.getsid(ref.pid) == ref.pid and os.getpgid(ref.pid) == ref.pid
    assert _proc_stat(ref.pid)[1] != str(os.getpid())  # type: ignore[index]  # not our child: no zombie of ours
    assert ref.start_time == process_start_time(ref.pid)
    assert json.loads((tmp_path / "p.json").read_text()) == ref.to_json()


def test_spawn_detached_sends_the_command_output_to_its_log(tmp_path: Path, groups: list[int]) -> None:
    """stdout and stderr go to log_path (detach)."""
    ref = _spawn(tmp_path, ["sh", "-c", "echo out; echo err >&2"], groups)
    wait_until(lambda: not is_alive(ref), 20, "the command to end")
    wait_until(lambda: (tmp_path / "p.log").read_text() == "out\nerr\n", 20, "the log")


def test_spawn_detached_of_a_missing_command_raises_os_error(tmp_path: Path) -> None:
    """spawn_detached raises OSError when the command cannot start."""
    with pytest.raises(OSError):
        spawn_detached(["/no/such/command"], log_path=tmp_path / "l.log", pid_path=tmp_path / "p.json",
                       env=dict(os.environ))


def test_is_alive_is_false_after_a_kill(tmp_path: Path, groups: list[int]) -> None:
    """A killed process is dead, even while it is an unreaped zombie (docs/architecture.md)."""
    ref = _spawn(tmp_path, ["sleep", "30"], groups)
    os.kill(ref.pid, signal.SIGKILL)
    wait_until(lambda: not is_alive(ref), 20, "the process to die")


def test_a_recycled_pid_with_another_start_time_is_not_alive(tmp_path: Path, groups: list[int]) -> None:
    """Liveness compares /proc start times, so a recycled pid is never mistaken for the job."""
    ref = _spawn(tmp_path, ["sleep", "30"], groups)
    assert ref.start_time is not None
    assert not is_alive(ProcessRef(pid=ref.pid, start_time=str(int(ref.start_time) + 1)))
    assert not is_alive(ProcessRef(pid=os.getpid(), start_time="1"))
    assert is_alive(ProcessRef(pid=os.getpid(), start_time=process_start_time(os.getpid())))
    assert not is_alive(ProcessRef(pid=-1, start_time=None))
    assert not is_alive(ProcessRef.from_json({}))  # no pid recorded


def test_end_group_kills_the_whole_group_including_children(tmp_path: Path, groups: list[int]) -> None:
    """cancel ends the job's process group, children included (docs/architecture.md, cancel)."""
    ref = _spawn(tmp_path, ["sh", "-c", "sleep 30 & sleep 30 & wait"], groups)
    wait_until(lambda: len(group_members(ref.pid)) == 3, 20, "the shell and its two children")
    members = group_members(ref.pid)
    assert end_group(ref.pid) is True
    assert not group_alive(ref.pid)
    assert not any(is_alive(ProcessRef(pid, None)) for pid in members)
    assert end_group(ref.pid) is False  # nothing left to end


def test_end_group_kills_a_group_that_ignores_sigterm_after_the_grace(tmp_path: Path, groups: list[int]) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds (process.end_group)."""
    ref = _spawn(tmp_path, ["sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"], groups)
    wait_until(lambda: len(group_members(ref.pid)) == 2, 20, "the shell and its child")
    started = time.monotonic()
    assert end_group(ref.pid, grace=0.3) is True
    assert not group_alive(ref.pid)
    assert time.monotonic() - started < 5


def test_end_group_refuses_init_and_missing_groups() -> None:
    """Never signal group 0/1, and a missing group is not running."""
    assert end_group(1) is False and end_group(0) is False and end_group(-5) is False


@pytest.mark.parametrize(("code", "text"), [(0, "exit code 0"), (2, "exit code 2"),
                                            (-9, "killed by signal 9 (SIGKILL)"),
                                            (-15, "killed by signal 15 (SIGTERM)"),
                                            (-99, "killed by signal 99 (unknown)")])
def test_describe_exit_names_codes_and_signals(code: int, text: str) -> None:
    """exit.json holds the exit code, negative for a signal (docs/architecture.md)."""
    assert describe_exit(code) == text


def test_a_worker_that_finds_no_request_ends_the_job_in_error_with_its_exit_code(tmp_path: Path,
                                                                                   groups: list[int]) -> None:
    """LocalJobRunner runs the real worker; its exit code reaches the job status (DESIGN §5 reconcile)."""
    runner = LocalJobRunner(tmp_path / "jobs", tmp_path / "bucket", factory_env())
    launched = runner.launch(RUN_ID)
    groups.append(json.loads((tmp_path / "jobs" / job_id_for(RUN_ID) / "pid.json").read_text())["pid"])
    assert launched.id == job_id_for(RUN_ID) == f"local-{RUN_ID}"
    assert launched.stage in ("RUNNING", "ERROR")
    wait_until(lambda: runner.status(launched.id).terminal, 20, "the job to end")
    status = runner.status(launched.id)
    assert (status.stage, status.exit_code) == ("ERROR", 2)
    assert (status.message or "").startswith("the worker process ended: exit code 2")
    folder = tmp_path / "jobs" / launched.id
    assert json.loads((folder / "command.json").read_text())[-4:] == ["worker", RUN_ID, "--bucket-dir",
                                                                      str(tmp_path / "bucket")]
    assert "no request.json" in (folder / "job.log").read_text()


def test_a_job_whose_worker_exits_zero_is_completed(tmp_path: Path, groups: list[int]) -> None:
    """exit code 0 → COMPLETED (the Hub's job stages)."""
    _job(tmp_path, "local-ok", ["true"], groups)
    runner = LocalJobRunner(tmp_path, tmp_path / "bucket", factory_env())
    wait_until(lambda: runner.status("local-ok").terminal, 20, "the job to end")
    assert runner.status("local-ok") == JobStatus("local-ok", "COMPLETED", None, 0)


def test_canceling_a_running_job_ends_it_canceled_with_its_whole_group_gone(tmp_path: Path,
                                                                             groups: list[int]) -> None:
    """cancel_run stops the run's job (DESIGN §7); the job process and its worker both end."""
    ref = _job(tmp_path, "local-sleep", ["sleep", "30"], groups)
    runner = LocalJobRunner(tmp_path, tmp_path / "bucket", factory_env())
    assert runner.status("local-sleep").stage == "RUNNING"
    wait_until(lambda: len(group_members(ref.pid)) == 2, 20, "the job process and its worker")
    status = runner.cancel("local-sleep")
    assert status.stage == "CANCELED" and status.terminal
    assert not group_alive(ref.pid)
    assert runner.status("local-sleep").stage == "CANCELED"
    assert (tmp_path / "local-sleep" / "canceled").exists()


def test_a_worker_killed_with_sigkill_is_recorded_by_the_job_process(tmp_path: Path, groups: list[int]) -> None:
    """The job process writes exit.json even for a kill -9 of the worker (docs/architecture.md)."""
    ref = _job(tmp_path, "local-k9", ["sleep", "30"], groups)
    runner = LocalJobRunner(tmp_path, tmp_path / "bucket", factory_env())
    wait_until(lambda: len(children(ref.pid)) == 1, 20, "the worker child")
    [worker] = children(ref.pid)
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: runner.status("local-k9").terminal, 20, "the job to record the kill")
    status = runner.status("local-k9")
    assert (status.stage, status.exit_code) == ("ERROR", -9)
    assert (status.message or "").startswith("the worker process ended: killed by signal 9 (SIGKILL)")
    assert json.loads((tmp_path / "local-k9" / "exit.json").read_text()) == {"code": -9, "pid": worker}
    wait_until(lambda: not group_alive(ref.pid), 20, "the job process to exit")


def test_a_job_process_killed_with_sigkill_is_an_error_that_says_it_disappeared(tmp_path: Path,
                                                                                groups: list[int]) -> None:
    """A job that died without recording an exit is reported, never "running" forever (DESIGN §5)."""
    ref = _job(tmp_path, "local-gone", ["sleep", "30"], groups)
    runner = LocalJobRunner(tmp_path, tmp_path / "bucket", factory_env())
    wait_until(lambda: len(children(ref.pid)) == 1, 20, "the worker child")
    [worker] = children(ref.pid)
    os.kill(ref.pid, signal.SIGKILL)
    wait_until(lambda: runner.status("local-gone").terminal, 20, "the job to be seen gone")
    status = runner.status("local-gone")
    assert status.stage == "ERROR" and status.exit_code is None
    assert "disappeared" in (status.message or "")
    # The orphaned worker is still in the job's group: cancel ends it too.
    assert is_alive(ProcessRef(worker, None))
    runner.cancel("local-gone")
    assert not group_alive(ref.pid)
    assert runner.status("local-gone").stage == "CANCELED"


def test_a_job_without_a_process_record_is_an_error(tmp_path: Path) -> None:
    """A job folder with no pid.json cannot be running."""
    runner = LocalJobRunner(tmp_path, tmp_path / "bucket", factory_env())
    status = runner.status("local-nothing")
    assert status.stage == "ERROR" and status.message == "the job has no process record"
