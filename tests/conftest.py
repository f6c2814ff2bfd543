"""Test session setup: an offline HF cache and a private factory home, set before anything imports HF code.

huggingface_hub and transformers freeze HF_HOME / HF_HUB_OFFLINE when they are imported (tiny-models P1),
so these variables are set at the top of this file, before any test module is collected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_BASE = Path(tempfile.mkdtemp(prefix="sf-tests-"))
os.environ["HF_HOME"] = str(_BASE / "hf-home")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["SPACE_FACTORY_HOME"] = str(_BASE / "factory-home")
os.environ["SPACE_FACTORY_OWNER"] = "tester"
os.environ["SPACE_FACTORY_SPACE_STARTUP_TIMEOUT"] = "180"
os.environ["SPACE_FACTORY_PREDICT_TIMEOUT"] = "120"
for _token_var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
    os.environ.pop(_token_var, None)

import pytest  # noqa: E402

from space_factory.service import Factory  # noqa: E402
from tests.support.processes import end_factory_processes, end_processes_under  # noqa: E402
from tests.tools.helpers import make_factory  # noqa: E402

pytest_plugins = ["tests.support.mcp_fixtures", "tests.hub_emulator.fixtures", "tests.support.pi"]

HF_HOME = Path(os.environ["HF_HOME"])
FACTORY_HOME = Path(os.environ["SPACE_FACTORY_HOME"])


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, str]:
    """The 8 tiny random-weight models, built in a subprocess into the session's HF cache: name → repo id."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from tests.support.tiny_models import build_all; "
            "print(json.dumps(build_all(sys.argv[2])))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), str(HF_HOME)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[Factory]:
    """The tester's factory on the local backend, in a fresh home; every job and Space started in that home
    (by this factory or another one over it) is ended afterwards."""
    made = make_factory(tmp_path / "home")
    assert made.backend.owner == "tester"
    yield made
    end_factory_processes(made.settings.home)


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the last test: stop the local Spaces of the shared factory home (as the backend stops them), then
    end whatever still works under the session's temporary directories (jobs and Spaces of per-test homes)."""
    yield
    end_factory_processes(FACTORY_HOME)
    end_processes_under(tmp_path_factory.getbasetemp())
    end_processes_under(_BASE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete the session's HF cache and factory home, ending first anything still running from them."""
    end_processes_under(_BASE)
    shutil.rmtree(_BASE, ignore_errors=True)
