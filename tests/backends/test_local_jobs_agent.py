"""The local backend hands the coding agent's key to the job's worker through its environment only — never on a
command line or in `command.json` — and never to a Space (issue 9; DESIGN §9).

Every Python process of the job (the detach helper, the job process, the worker) reports its own command line and
whether it holds the key, through a `sitecustomize` put on the job's PYTHONPATH: what each process really got.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from space_factory.backends.local import local_backend
from space_factory.config import Settings
from tests.support.processes import end_factory_processes
from tests.support.waiting import wait_until

RUN_ID = "20261201-120000-tiny-gpt2-4f9a1c"
PROBE = """\
import json, os, pathlib
_out = os.environ.get("SF_TEST_ENV_PROBE")
if _out:
    _argv = [a.decode() for a in pathlib.Path("/proc/self/cmdline").read_bytes().split(b"\\0") if a]
    pathlib.Path(_out, f"{os.getpid()}.json").write_text(json.dumps(
        {"argv": _argv, "key": os.environ.get("SPACE_FACTORY_AGENT_API_KEY")}))
"""


def test_the_agent_key_reaches_the_worker_by_environment_only_and_no_space(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-agent-" + secrets.token_hex(16)
    probe, reports = tmp_path / "probe", tmp_path / "reports"
    probe.mkdir()
    reports.mkdir()
    (probe / "sitecustomize.py").write_text(PROBE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(probe), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("SF_TEST_ENV_PROBE", str(reports))
    monkeypatch.setenv("SPACE_FACTORY_AGENT_API_KEY", key)  # the server's configuration
    settings = Settings(home=tmp_path / "home")
    backend = local_backend(settings, owner="tester")
    try:
        job = backend.jobs.launch(RUN_ID)  # no request.json: the worker starts, then ends with exit code 2
        wait_until(lambda: backend.jobs.status(job.id).terminal, 30, "the job to end")
    finally:
        end_factory_processes(settings.home)
    seen = [json.loads(p.read_text()) for p in reports.glob("*.json")]
    workers = [s for s in seen if s["argv"][1:4] == ["-m", "space_factory", "worker"]]
    assert len(workers) == 1 and workers[0]["key"] == key, seen
    assert not any(key in arg for s in seen for arg in s["argv"])
    folder = settings.jobs_dir / job.id
    assert key not in (folder / "command.json").read_text() and key not in (folder / "job.log").read_text()
    assert "SPACE_FACTORY_AGENT_API_KEY" not in backend.spaces.env  # type: ignore[attr-defined]
    assert key not in repr(backend.jobs)
