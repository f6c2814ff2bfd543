"""Fixtures the local-Space tests share: a Space host in a private folder over one venvs folder per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from space_factory.backends.local.spaces import LocalSpaceHost, factory_env


@pytest.fixture(scope="module")
def venvs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Space venvs are shared by requirements (docs/architecture.md), so the module shares one folder."""
    return tmp_path_factory.mktemp("venvs")


@pytest.fixture
def host(tmp_path: Path, venvs_dir: Path) -> Iterator[LocalSpaceHost]:
    """A Space host in a private folder; every Space it made is stopped afterwards."""
    env = {**factory_env(), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    spaces = LocalSpaceHost(tmp_path / "spaces", venvs_dir, env)
    yield spaces
    for space in spaces.list_spaces():
        spaces.stop(str(space["id"]))
