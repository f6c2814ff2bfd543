"""One Pi attempt as a bounded child process (DESIGN §11, `reference/pi-1.6.md` §1-§7).

`run_pi` starts the real Node ELF on Pi's `cli.js` in json mode, non-interactive, stdin closed, every
discovery (context files, extensions, skills, prompt templates, themes, MCP, project trust) off and the
tools allow-listed to read, write, edit and bash. Its configuration lives in a private agent dir:
`models.json` names one custom provider, `factory`, whose base URL is the worker's loopback proxy and whose
key is a dummy read from `$SF_AGENT_DUMMY_KEY`; `settings.json` turns retries off and bounds the wait for
headers and for a silent stream. The environment is built from scratch — never the worker's own, which holds
the token.

Pi runs in a session of its own, but its bash tool starts every command in a new session too (`detached`), and
what a command leaves in the background (`python app.py &`) outlives both. So the attempt's environment carries
a fresh `SF_AGENT_ATTEMPT` tag, which every tool child inherits, and when the attempt ends — cleanly or at the
wall-clock bound — every process carrying the tag is killed with its process group. A process that both leaves
the session and execs with a scrubbed environment escapes that sweep; the sandbox (`isolation.py`) is the
bound for it.

Pi's exit code is not trusted (json mode exits 0 after a 500 or a timeout): an attempt is `ok` only when it
exited 0, its last line is `agent_settled` not aborted, and its last assistant message stopped with `stop`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from space_factory.domain.errors import AgentUnavailable
from space_factory.domain.secret_env import secret_values
from space_factory.worker.agent.install import PiInstall
from space_factory.worker.agent.proxy import DUMMY_KEY

if TYPE_CHECKING:
    from space_factory.worker.agent.isolation import Sandbox

__all__ = ["ATTEMPT_TAG_ENV", "DUMMY_KEY_ENV", "PROVIDER", "TOOLS", "PiInvocation", "PiOutcome", "run_pi"]

PROVIDER = "factory"
DUMMY_KEY_ENV = "SF_AGENT_DUMMY_KEY"
ATTEMPT_TAG_ENV = "SF_AGENT_ATTEMPT"
TOOLS = "read,write,edit,bash"
# Pi's own network bounds (settings.json), below the attempt's wall clock: the wait for response headers, and
# for the next bytes of a stream gone silent. A slow steady trickle is bounded only by `PiInvocation.timeout`.
HEADERS_TIMEOUT_S = 180
IDLE_TIMEOUT_S = 120
# After SIGTERM to the group, how long Pi and its tools get before SIGKILL.
TERM_GRACE_S = 3.0
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_STDERR_TAIL = 2000


@dataclass(frozen=True)
class PiInvocation:
    """What one attempt runs: where, with which prompt, against which endpoint, for how long.

    `env` is added to the environment built here (a `PATH` in it is put before the default one); it must
    hold no real secret (a value equal to the worker's token is refused). `sandbox` (from `isolation.py`)
    runs Pi as its unprivileged user; None runs it as the worker's user.
    """

    workspace: Path
    prompt: str
    base_url: str
    model: str
    timeout: float
    session_dir: Path
    agent_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    sandbox: Sandbox | None = None


@dataclass(frozen=True)
class PiOutcome:
    """How an attempt ended. `stdout` is Pi's raw json lines, NOT redacted: the caller redacts it.

    `error` is the last assistant message's `errorMessage`, else why the run is not ok (timed out, exit
    code and stderr tail, did not settle, stop reason). `first_request_s` is None: only the model server
    sees when the first request arrives (bench/pi_bench.py measures it).
    """

    ok: bool
    stop_reason: str | None
    error: str | None
    timed_out: bool
    returncode: int | None
    stdout: bytes
    session_file: Path | None
    started_at: datetime
    ended_at: datetime
    first_request_s: float | None = None


def models_config(base_url: str, model: str) -> dict[str, Any]:
    """models.json: the one provider Pi may use. `"$VAR"` makes Pi read the key from the env (1.6 syntax)."""
    return {"providers": {PROVIDER: {"baseUrl": base_url, "api": "openai-completions",
                                     "apiKey": f"${DUMMY_KEY_ENV}", "models": [{"id": model}]}}}


def settings_config() -> dict[str, Any]:
    """settings.json: no retries at any level, bounded header and idle waits (`reference/pi-1.6.md` §3, §7)."""
    return {"httpIdleTimeoutMs": IDLE_TIMEOUT_S * 1000,
            "retry": {"enabled": False, "provider": {"maxRetries": 0, "timeoutMs": HEADERS_TIMEOUT_S * 1000}}}


def command(install: PiInstall, call: PiInvocation) -> list[str]:
    """Pi's argv. The prompt goes after `--` so it is never read as a flag."""
    if call.prompt.startswith("@"):
        raise ValueError("the prompt must not start with '@' (Pi would read it as a file to attach)")
    return [str(install.node), str(install.cli_js), "--model", f"{PROVIDER}/{call.model}", "--mode", "json",
            "--session-dir", str(call.session_dir), "-nc", "-ne", "-ns", "-np", "--no-themes", "--no-mcp",
            "--no-approve", "--offline", "--tools", TOOLS, "-p", "--", call.prompt]


def environment(install: PiInstall, call: PiInvocation, home: Path, tmp: Path, tag: str) -> dict[str, str]:
    """Pi's environment, from scratch. Pi's bash tool hands all of it to every command it runs."""
    real = set(secret_values(os.environ))
    leaked = sorted(name for name, value in call.env.items() if value in real)
    if leaked:
        raise ValueError(f"refusing to give the coding agent a real secret in {', '.join(leaked)}")
    extra = dict(call.env)
    path = f"{install.bin_dir}:{_SYSTEM_PATH}"
    if extra.get("PATH"):
        path = f"{extra.pop('PATH')}:{path}"
    return {**extra, "PATH": path, "HOME": str(home), "TMPDIR": str(tmp), "LANG": "C.UTF-8",
            "PI_CODING_AGENT_DIR": str(call.agent_dir), "PI_OFFLINE": "1", "PI_TELEMETRY": "0",
            "PI_SKIP_VERSION_CHECK": "1", "NODE_COMPILE_CACHE": str(tmp / "node-compile-cache"),
            DUMMY_KEY_ENV: DUMMY_KEY, ATTEMPT_TAG_ENV: tag}


def run_pi(install: PiInstall, call: PiInvocation) -> PiOutcome:
    """Run one attempt to its end or to `call.timeout` (then SIGTERM, SIGKILL to the whole process group)."""
    home, tmp = call.agent_dir / "home", call.agent_dir / "tmp"
    for path in (call.workspace, call.session_dir, call.agent_dir, home, tmp):
        path.mkdir(parents=True, exist_ok=True)
    (call.agent_dir / "models.json").write_text(json.dumps(models_config(call.base_url, call.model)))
    (call.agent_dir / "settings.json").write_text(json.dumps(settings_config()))
    cmd = command(install, call)
    tag = uuid.uuid4().hex
    env = environment(install, call, home, tmp, tag)
    popen: dict[str, Any] = {}
    if call.sandbox is not None:
        call.sandbox.prepare([call.workspace, call.session_dir, call.agent_dir, home, tmp])
        cmd = call.sandbox.wrap(cmd)
        popen = call.sandbox.popen_kwargs()
    sessions_before = set(call.session_dir.glob("*.jsonl"))
    started_at = datetime.now(UTC)
    try:
        proc = subprocess.Popen(cmd, cwd=call.workspace, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, **popen)
    except OSError as exc:
        raise AgentUnavailable(f"Pi could not be started ({exc.strerror or exc})",
                               "Delete the agent tools dir so that Pi is installed again, then build again.") from None
    stdout, stderr = _Drain(proc.stdout), _Drain(proc.stderr)
    timed_out = False
    try:
        proc.wait(timeout=call.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=TERM_GRACE_S)
    finally:
        # Whatever Pi's tools left running (a server started with `&`) goes with it, even after a clean exit.
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        _sweep(f"{ATTEMPT_TAG_ENV}={tag}".encode())
    ended_at = datetime.now(UTC)
    out, err = stdout.collected(), stderr.collected()
    events = _events(out)
    verdict = _verdict(events, proc.returncode, timed_out, call.timeout, err)
    return PiOutcome(ok=verdict.ok, stop_reason=verdict.stop_reason, error=verdict.error, timed_out=timed_out,
                     returncode=None if timed_out else proc.returncode, stdout=out,
                     session_file=_session_file(call.session_dir, sessions_before, events),
                     started_at=started_at, ended_at=ended_at)


class _Drain:
    """Reads a pipe to EOF in a daemon thread, so a full pipe never blocks Pi and the wait stays bounded."""

    def __init__(self, pipe: Any) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: Any) -> None:
        with pipe:
            while chunk := pipe.read1(65536):
                self._chunks.append(chunk)

    def collected(self) -> bytes:
        # The group is dead, so EOF is near; a grandchild that escaped the group (setsid) and holds the pipe
        # must not hold the attempt, hence the bound.
        self._thread.join(timeout=5.0)
        return b"".join(self._chunks)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _tagged(entry: bytes) -> list[int]:
    """The live processes whose initial environment holds `entry` (`NAME=value`), from /proc."""
    found = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if entry in (proc_dir / "environ").read_bytes().split(b"\0"):
                found.append(int(proc_dir.name))
        except (OSError, ValueError):
            continue  # gone, a zombie, or not ours to read
    return found


def _sweep(entry: bytes, rounds: int = 5) -> None:
    """Kill every process tagged with `entry`, and its process group, until none is left (or `rounds` pass)."""
    own_group = os.getpgrp()
    for _ in range(rounds):
        pids = _tagged(entry)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _events(stdout: bytes) -> list[dict[str, Any]]:
    """Pi's json lines; a line that is not a JSON object (a partial last line after a kill) is skipped."""
    events = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    stop_reason: str | None
    error: str | None


def _verdict(events: list[dict[str, Any]], returncode: int, timed_out: bool, timeout: float,
             stderr: bytes) -> _Verdict:
    """`reference/pi-1.6.md` §5: rc 0, settled not aborted, and the last assistant message stopped with `stop`."""
    last: dict[str, Any] = {}
    for event in events:
        message = event.get("message")
        if event.get("type") == "message_end" and isinstance(message, dict) and message.get("role") == "assistant":
            last = message
    stop_reason = last.get("stopReason") if isinstance(last.get("stopReason"), str) else None
    reported = last.get("errorMessage") if isinstance(last.get("errorMessage"), str) else None
    settled = bool(events) and events[-1] == {"type": "agent_settled", "aborted": False}
    ok = not timed_out and returncode == 0 and settled and stop_reason == "stop"
    if ok:
        return _Verdict(True, stop_reason, None)
    if timed_out:
        error = f"Pi did not finish within {timeout:g} s; it was stopped" + (f" (last error: {reported})"
                                                                              if reported else "")
    elif reported:
        error = reported
    elif returncode != 0:
        tail = stderr.decode(errors="replace").strip()[-_STDERR_TAIL:]
        error = f"Pi exited with code {returncode}" + (f": {tail}" if tail else "")
    elif not settled:
        error = "Pi ended without settling (its output stops before agent_settled)"
    else:
        error = f"Pi's last answer stopped with {stop_reason!r}, not 'stop'"
    return _Verdict(False, stop_reason, error)


def _session_file(session_dir: Path, before: set[Path], events: list[dict[str, Any]]) -> Path | None:
    """The session this run wrote: named by the id in Pi's header line, else the one new file in the dir."""
    session_id = next((e.get("id") for e in events if e.get("type") == "session"), None)
    new = sorted(set(session_dir.glob("*.jsonl")) - before, key=lambda p: p.stat().st_mtime)
    if isinstance(session_id, str):
        named = [path for path in new if path.stem.endswith(session_id)]
        if named:
            return named[-1]
    return new[-1] if new else None
