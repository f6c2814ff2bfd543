"""pytest fixtures around the Hub emulator, registered for the whole suite by tests/conftest.py.

The test session runs with `HF_HUB_OFFLINE=1` and huggingface_hub already imported (tests/conftest.py),
so the in-process Hub client is pointed at the emulator through the library's own module constants
(`ENDPOINT`, `HF_HUB_OFFLINE`) for the duration of a test, and the xet session seam is replaced as
hf-apis.md §2.4 shows. Job processes get `HF_ENDPOINT` in their environment instead. Nothing of
space_factory is patched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import huggingface_hub.utils._xet
import pytest
from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

from space_factory.backends.hf import hf_backend
from space_factory.config import Settings
from space_factory.service import Factory
from tests.hub_emulator import xet
from tests.hub_emulator.server import HubEmulator
from tests.hub_emulator.state import User
from tests.support.processes import end_processes_under
from tests.support.tokens import fake_token

# The emulator maps these run-time tokens to its users.
ALICE = User("alice", fake_token())
BOB = User("bob", fake_token(), is_pro=False, can_pay=False)
HF_CACHE = Path(os.environ["HF_HOME"]) / "hub"
# How long the service waits after a job ended before it reconciles the run: longer than the emulated mount's
# flush delay (mount.py), much shorter than the real default (45 s, for hf-mount's 30 s flush window).
JOB_SETTLE_SECONDS = 8.0


@pytest.fixture(scope="module")
def hub_emulator(tiny_models: dict[str, str]) -> Iterator[HubEmulator]:
    """An emulator per test module, so each module meets an empty Hub (a user's run list holds only the
    module's runs), serving the tiny models from the session's HF cache; afterwards nothing it started (jobs,
    Spaces and their apps) is left running when its folder is deleted."""
    root = Path(tempfile.mkdtemp(prefix="sf-hub-emulator-"))
    emulator = HubEmulator(root, HF_CACHE, [ALICE, BOB]).start()
    try:
        yield emulator
    finally:
        emulator.stop()
        end_processes_under(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def hub(hub_emulator: HubEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    """The emulator, with this process's Hub client pointed at it and its faults and request log cleared;
    the jobs and Spaces the test started are ended afterwards."""
    hub_emulator.clear()
    monkeypatch.setenv("SPACE_FACTORY_JOB_SETTLE_SECONDS", str(JOB_SETTLE_SECONDS))
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub_emulator.url)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    original = xet.install(hub_emulator.url)
    disable_progress_bars()
    try:
        yield hub_emulator
    finally:
        enable_progress_bars()
        huggingface_hub.utils._xet.get_xet_session = original
        hub_emulator.end_jobs_and_spaces()
        hub_emulator.clear()


def hf_factory(token: str, **settings: object) -> Factory:
    """A factory on the hf backend for `token`'s user (the server side of a build)."""
    config = Settings(backend="hf", **settings)  # type: ignore[arg-type]
    return Factory(config, hf_backend(config, token))


def client_env(hub: HubEmulator, token: str) -> dict[str, str]:
    """The environment of a subprocess that talks to the emulator as `token`'s user: set before it imports
    huggingface_hub (HF_ENDPOINT is read at import), the token in the environment, never on a command line."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update({"HF_ENDPOINT": hub.url, "HF_TOKEN": token, "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "HUB_EMULATOR_URL": hub.url, "PYTHONPATH": f"{Path(__file__).parent / 'site'}:{root}"})
    return env
