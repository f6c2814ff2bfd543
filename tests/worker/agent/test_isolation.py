"""The agent's sandbox (worker/agent/isolation.py): what each level blocks, checked by running commands in it.

The test process plays the worker. As root (this machine, CI, an HF job's worker) the `user` level is tested with
and without namespaces and setpriv; the unprivileged levels are tested by running a small Python as uid 65534
(`nobody`), which calls `sandbox_for` itself and reports what its sandbox could read.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from space_factory.worker.agent import isolation
from space_factory.worker.agent.isolation import SANDBOX_UID, Sandbox, SandboxUnusable, sandbox_for

ROOT = Path(__file__).resolve().parents[3]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the user level needs a root worker")
MARKER = "sf-isolation-marker-value-1234567"


def _shared_dir(prefix: str) -> Path:
    """A fresh dir under /tmp that every user can traverse (pytest's tmp_path is 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture
def worker_dirs() -> Iterator[dict[str, Path]]:
    """A factory home and a bucket with a secret-looking file each (world-readable, as umask 022 leaves them),
    and a scratch dir for the agent."""
    base = _shared_dir("sf-isolation-")
    dirs = {"home": base / "factory-home", "bucket": base / "bucket", "scratch": base / "scratch"}
    for name, path in dirs.items():
        path.mkdir(mode=0o755)
        if name != "scratch":
            (path / "runs").mkdir(mode=0o755)
            (path / "runs" / "record.json").write_text('{"secret": "in the record"}')
            (path / "runs" / "record.json").chmod(0o644)
    yield dirs
    shutil.rmtree(base, ignore_errors=True)


def _run_in(sandbox: Sandbox, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sandbox.wrap(["/bin/sh", "-c", script]), capture_output=True, text=True, timeout=60,
                          check=False, cwd="/", env={"PATH": "/usr/bin:/bin"},
                          **sandbox.popen_kwargs())  # type: ignore[call-overload]


def _looks(sandbox: Sandbox, dirs: dict[str, Path]) -> dict[str, str]:
    """What a command in the sandbox sees of the worker and its dirs, as `name=value` lines."""
    script = textwrap.dedent(f"""\
        echo "uid=$(id -u)"; echo "groups=$(id -G)"
        echo "nonewprivs=$(awk '/^NoNewPrivs/ {{print $2}}' /proc/self/status)"
        echo "capeff=$(awk '/^CapEff/ {{print $2}}' /proc/self/status)"
        echo "environ=$(cat /proc/{os.getpid()}/environ 2>/dev/null | wc -c)"
        for d in home bucket; do
          [ $d = home ] && p={dirs['home']} || p={dirs['bucket']}
          echo "${{d}}_list=$(ls -A $p 2>/dev/null | wc -l)"
          echo "${{d}}_read=$(cat $p/runs/record.json 2>/dev/null | wc -c)"
        done
        """)
    return dict(line.split("=", 1) for line in _run_in(sandbox, script).stdout.splitlines())


@needs_root
def test_as_root_pi_runs_as_its_own_user_that_reaches_nothing_of_the_worker(worker_dirs: dict[str, Path]) -> None:
    sandbox = sandbox_for(hidden=[worker_dirs["home"], worker_dirs["bucket"]])
    assert (sandbox.how, sandbox.uid, sandbox.gid) == ("user", SANDBOX_UID, SANDBOX_UID)
    assert sandbox.still_readable == ()
    for name in ("home", "bucket"):  # the worker's own roots lost their group and other permissions
        assert stat.S_IMODE(worker_dirs[name].stat().st_mode) == 0o700
    assert _looks(sandbox, worker_dirs) == {
        "uid": str(SANDBOX_UID), "groups": str(SANDBOX_UID), "nonewprivs": "1", "capeff": "0000000000000000",
        "environ": "0", "home_list": "0", "home_read": "0", "bucket_list": "0", "bucket_read": "0"}
    assert sandbox.describe().startswith(f"Pi runs as its own unprivileged user (uid {SANDBOX_UID})")


@needs_root
def test_as_root_a_hidden_path_the_worker_cannot_chmod_is_covered_when_namespaces_work_and_named_when_not(
        worker_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = worker_dirs["bucket"]
    os.chown(foreign, 1234, 1234)  # a mount someone else owns: its permissions are not the worker's to change
    sandbox = sandbox_for(hidden=[foreign])
    assert stat.S_IMODE(foreign.stat().st_mode) == 0o755
    assert sandbox.still_readable == ()
    seen = _run_in(sandbox, f"ls -A {foreign} | wc -l; cat {foreign}/runs/record.json; ls /proc | grep -c '^[0-9]'")
    count, procs = seen.stdout.split()
    assert count == "0" and int(procs) < 10  # an empty tmpfs over it, and a /proc of Pi's own processes

    real_which = shutil.which
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None if name == "unshare" else real_which(name))
    plain = sandbox_for(hidden=[foreign])
    assert plain.how == "user" and plain.still_readable == (str(foreign),)
    assert "in the record" in _run_in(plain, f"cat {foreign}/runs/record.json").stdout


@needs_root
def test_as_root_without_setpriv_the_user_switch_is_popens_and_still_blocks_the_worker(
        worker_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation.shutil, "which", lambda name: "/bin/sh" if name == "sh" else None)
    sandbox = sandbox_for(hidden=[worker_dirs["home"]])
    assert sandbox.wrap(["x"]) == ["x"]
    assert sandbox.popen_kwargs() == {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}
    assert sandbox.still_readable == ()
    seen = _looks(sandbox, worker_dirs)
    assert (seen["uid"], seen["environ"], seen["home_read"]) == (str(SANDBOX_UID), "0", "0")


@needs_root
def test_prepare_hands_the_agents_dirs_to_its_user_and_refuses_what_it_cannot_reach(
        worker_dirs: dict[str, Path], tmp_path: Path) -> None:
    sandbox = sandbox_for(hidden=[worker_dirs["home"], worker_dirs["bucket"]])
    workspace, session = worker_dirs["scratch"] / "workspace", worker_dirs["scratch"] / "session"
    (workspace / "pkg").mkdir(parents=True)
    (workspace / "pkg" / "app.py").write_text("print(1)\n")
    session.mkdir()
    sandbox.prepare([workspace, session])
    assert {p.stat().st_uid for p in (workspace, workspace / "pkg", workspace / "pkg" / "app.py", session)} == {
        SANDBOX_UID}
    assert _run_in(sandbox, f"cd {workspace} && echo x > new.txt && cat pkg/app.py").stdout == "print(1)\n"

    under_hidden = worker_dirs["home"] / "runs" / "ws"
    under_hidden.mkdir()
    with pytest.raises(SandboxUnusable, match="hidden from the agent"):
        sandbox.prepare([under_hidden])
    behind_private_parent = tmp_path / "ws"  # pytest's tmp dirs are 0700 root
    behind_private_parent.mkdir()
    with pytest.raises(SandboxUnusable, match="cannot enter and write"):
        sandbox.prepare([behind_private_parent])


def _unprivileged() -> list[str]:
    """How to start a process as an unprivileged worker: as uid 65534 when root, else as is."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] if os.geteuid() == 0 else []


def _nobody_python() -> str | None:
    """A Python 3.x of this minor version that uid 65534 can run (the venv's may live under /root)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        return sys.executable
    if setpriv is None:
        return None
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        probe = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", candidate, "-c",
                                "import pydantic, huggingface_hub"], capture_output=True, timeout=60, check=False,
                               env=_nobody_env("/tmp"))
        if probe.returncode == 0:
            return candidate
    return None


def _nobody_env(home: str, path: str = "/usr/bin:/bin") -> dict[str, str]:
    site = next(p for p in sys.path if p.endswith("site-packages"))
    return {"PATH": path, "HOME": home, "PYTHONPATH": f"{ROOT / 'src'}:{site}", "SF_MARKER": MARKER}


_NOBODY_WORKER = textwrap.dedent("""\
    import json, os, subprocess, sys
    from pathlib import Path
    os.environ["PATH"] = sys.argv[2]  # without unshare on it, the sandbox falls back to none
    from space_factory.worker.agent.isolation import sandbox_for
    home = Path(sys.argv[1])
    sandbox = sandbox_for(hidden=[home])
    script = (f"cat /proc/{os.getpid()}/environ | tr '\\\\0' '\\\\n' | grep -c SF_MARKER; ls -A {home} | wc -l; "
              f"umount {home} 2>/dev/null; cat {home}/runs/record.json 2>/dev/null | wc -c; id -u")
    done = subprocess.run(sandbox.wrap(["/bin/sh", "-c", script]), capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, **sandbox.popen_kwargs())
    print(json.dumps({"how": sandbox.how, "still_readable": sandbox.still_readable, "seen": done.stdout.split()}))
    """)


@pytest.mark.parametrize("path", ["/usr/bin:/bin", "/nonexistent"], ids=["userns", "none"])
def test_an_unprivileged_worker_gets_namespaces_when_it_can_and_is_told_what_stays_readable(path: str) -> None:
    python = _nobody_python()
    if python is None:
        pytest.skip("no setpriv to become uid 65534, or no Python it can run")
    base = _shared_dir("sf-isolation-nobody-")
    try:
        if os.geteuid() == 0:
            os.chown(base, 65534, 65534)
        home = base / "factory-home"
        done = subprocess.run(
            [*_unprivileged(), python, "-c",
             f"import os; os.makedirs('{home}/runs'); open('{home}/runs/record.json', 'w').write('secret')\n"
             + _NOBODY_WORKER, str(home), path],
            capture_output=True, text=True, timeout=120, check=False, env=_nobody_env(str(base)))
        assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads(done.stdout.splitlines()[-1])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    marker_lines, listed, record_bytes, uid = report["seen"]
    if path == "/nonexistent":
        assert report["how"] == "none"
        assert (marker_lines, listed, record_bytes) == ("1", "1", "6")  # no isolation: it reads it all
        assert any("environment" in s for s in report["still_readable"])
        assert str(home) in report["still_readable"]
        return
    if report["how"] == "none":
        pytest.skip("unprivileged user namespaces are not allowed on this machine (e.g. an AppArmor policy)")
    assert report["how"] == "userns"
    # The worker's environ is out of sight (another pid namespace), the home is an empty tmpfs that stays
    # mounted (umount fails in the locked inner namespace), and what remains readable is said plainly.
    assert (marker_lines, listed, record_bytes) == ("0", "0", "0")
    assert uid == "0"  # root of its own user namespace: the worker's user outside
    assert report["still_readable"] == [
        "every other file the worker's user can read (its home directory apart from the hidden paths)"]
