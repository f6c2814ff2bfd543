"""Pi for tests: installed once into a shared tools dir, reused by every test and every worker job tests start.

A pytest plugin (listed in tests/conftest.py's `pytest_plugins`):

- `pi_install` (session): the `PiInstall` of that dir; the first session on a machine runs the real `npm ci`
  (about 10-20 s, network), later ones find it ready (`ensure_pi` is keyed on the shipped lockfile).
- `pi_tools_env` (per test): points `SPACE_FACTORY_AGENT_TOOLS_DIR` at the same dir for the test, so a
  factory, worker or job the test starts uses the install instead of making one in its fresh home.

The dir is `$SPACE_FACTORY_TEST_PI_TOOLS` when set (a CI cache), else `<tmp>/sf-test-agent-tools-<uid>`: outside
pytest's 0700 temp dirs, because a sandboxed Pi runs as another user and must reach `node_modules`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from space_factory.worker.agent.install import PiInstall, ensure_pi

TOOLS_DIR_ENV = "SPACE_FACTORY_TEST_PI_TOOLS"
SETTINGS_ENV = "SPACE_FACTORY_AGENT_TOOLS_DIR"


def shared_tools_dir() -> Path:
    """The tests' tools dir, made if needed. Refused when another user owns it or others may write to it:
    whatever sits in it is code the tests run."""
    path = Path(os.environ.get(TOOLS_DIR_ENV) or Path(tempfile.gettempdir()) / f"sf-test-agent-tools-{os.getuid()}")
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{path} is not a private directory of this user; remove it or set {TOOLS_DIR_ENV}")
    return path


@pytest.fixture(scope="session")
def pi_install() -> PiInstall:
    """Real Pi on real Node, installed once (see the module docstring)."""
    return ensure_pi(shared_tools_dir())


@pytest.fixture
def pi_tools_env(pi_install: PiInstall, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared tools dir, also set as the factory's `agent_tools_dir` (env) for this test."""
    tools_dir = shared_tools_dir()
    monkeypatch.setenv(SETTINGS_ENV, str(tools_dir))
    return tools_dir
