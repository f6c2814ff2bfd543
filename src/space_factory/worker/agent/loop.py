"""The coding agent in the loop (DESIGN §7, §11): who writes the app, when Pi repairs it, and one Pi attempt.

`plan_agent` turns the request's `agent` and what the analysis found into a plan; `wants_repair` says whether
a gate is worth another attempt; `PiSession.attempt` runs Pi once — behind the loopback proxy that holds the
real key, in the strongest sandbox the machine allows — and files its output in the run record: stdout
(redacted) in `logs/pi_output.txt`, the session raw in `traces/raw/` and redacted in `traces/redacted/`.
The rounds themselves (attempt → deploy → validate → gate) run in `Pipeline`'s agent section, which owns the
Space and the gate.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import huggingface_hub.constants

from space_factory.config import Settings
from space_factory.domain import layout
from space_factory.domain.errors import AgentUnavailable
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import AgentName
from space_factory.record import RunRecord
from space_factory.worker.agent.install import PiInstall, ensure_pi
from space_factory.worker.agent.isolation import Sandbox, sandbox_for
from space_factory.worker.agent.proxy import DUMMY_KEY, AgentProxy
from space_factory.worker.agent.runner import PiInvocation, PiOutcome, run_pi

# The gates another attempt can change: the app did not build, did not start, or did not infer. A verdict
# that waits for hardware or for a person (candidate, manual hardware), or one already declared, is final.
REPAIRABLE = frozenset({GateStatus.BUILD_FAILED, GateStatus.RUNTIME_FAILED, GateStatus.HEALTH_ONLY})
# The endpoint hosts an HF token may be sent to as the agent's key: only the Hugging Face router. Any other
# endpoint needs SPACE_FACTORY_AGENT_API_KEY, so the user's token never reaches a third party.
HF_KEY_HOSTS = frozenset({"router.huggingface.co"})
HF_TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
WITHHELD_TRACE_LINE = {"type": "withheld", "message": "this trace was withheld: redaction could not clean it"}


@dataclass(frozen=True)
class AgentPlan:
    """Who writes the app and who repairs it.

    Attributes:
        pi_first: Pi runs before the first deploy (adapting the template when there is one, else writing the app).
        repairs: Pi repairs the app after a gate that did not pass, while attempts remain.
        pi_deploys: Pi pushes the app itself (`pi-deploy` on a backend with a Hub).
        note: one sentence for the event log, or None.
    """

    pi_first: bool
    repairs: bool
    pi_deploys: bool = False
    note: str | None = None

    @property
    def uses_pi(self) -> bool:
        return self.pi_first or self.repairs


def plan_agent(agent: AgentName, *, has_template: bool, custom_code: bool, has_key: bool,
               hub: bool = True) -> AgentPlan:
    """The plan for `agent` (DESIGN §7): `none` the template only; `pi` and `pi-deploy` Pi first and for repairs;
    `auto` the template when one fits, Pi when none fits or the card needs custom code, and Pi to repair.

    Args:
        agent: what the request asked for.
        has_template: a task template fits the model.
        custom_code: the model ships its own code (`auto_map`, modeling files): `trust_remote_code`.
        has_key: the worker has a key for the agent's endpoint.
        hub: the backend has a Hub Pi can push to (`pi-deploy`); the local backend has none.

    Raises:
        AgentUnavailable: `pi` or `pi-deploy` without a key.

    Example:
        >>> plan_agent("auto", has_template=True, custom_code=False, has_key=True)
        AgentPlan(pi_first=False, repairs=True, pi_deploys=False, note=None)
    """
    if agent == "none":
        return AgentPlan(pi_first=False, repairs=False)
    if not has_key:
        if agent == "auto":
            return AgentPlan(pi_first=False, repairs=False, note=(
                "coding agent: none — no key for the agent's endpoint (set SPACE_FACTORY_AGENT_API_KEY, or an HF "
                "token for the Hugging Face router); the template is used as generated"))
        raise AgentUnavailable(
            f"--agent {agent} needs a key for the agent's endpoint and the worker has none",
            "Set SPACE_FACTORY_AGENT_API_KEY (any OpenAI-compatible endpoint) or log in with an HF token (the "
            "Hugging Face router, the default SPACE_FACTORY_AGENT_BASE_URL), or build with --agent none.")
    if agent == "auto":
        if not has_template:
            return AgentPlan(pi_first=True, repairs=True, note="coding agent: Pi writes the app (no template fits)")
        if custom_code:
            return AgentPlan(pi_first=True, repairs=True,
                             note="coding agent: Pi adapts the template (the model ships its own code)")
        return AgentPlan(pi_first=False, repairs=True,
                         note="coding agent: the template first; Pi repairs it if its gate does not pass")
    pi_deploys = agent == "pi-deploy" and hub
    note = None if pi_deploys or agent == "pi" else (
        "coding agent: pi-deploy on a backend without a Hub — Pi writes the app and the factory uploads it")
    return AgentPlan(pi_first=True, repairs=True, pi_deploys=pi_deploys, note=note)


def wants_repair(status: GateStatus | None) -> bool:
    """Whether another attempt could change this gate.

    Example:
        >>> wants_repair(GateStatus.HEALTH_ONLY), wants_repair(GateStatus.FULL_INFERENCE_PASSED)
        (True, False)
    """
    return status is None or status in REPAIRABLE


def agent_key(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """The key the proxy adds to the agent's requests: `agent_api_key`, else the caller's HF token when the
    endpoint is the Hugging Face router; None when there is none."""
    if settings.agent_api_key is not None and settings.agent_api_key.get_secret_value().strip():
        return settings.agent_api_key.get_secret_value().strip()
    if (urlsplit(settings.agent_base_url).hostname or "") not in HF_KEY_HOSTS:
        return None
    return next((environ[name].strip() for name in HF_TOKEN_VARS if environ.get(name, "").strip()), None)


def hub_token(environ: Mapping[str, str]) -> str | None:
    """The caller's HF token in the worker's environment (a job secret), for the `pi-deploy` Hub proxy."""
    return next((environ[name].strip() for name in HF_TOKEN_VARS if environ.get(name, "").strip()), None)


class TraceFiler:
    """Files one attempt's output in the run record: stdout redacted, the session raw (private) and redacted.

    Args:
        record: the run record.
        redactor: the worker's redactor (it knows the run's secret values and the agent's key).
    """

    def __init__(self, record: RunRecord, redactor: Redactor) -> None:
        self.record = record
        self.redactor = redactor

    def stdout(self, n: int, data: bytes) -> None:
        text = self.redactor.redact_jsonl(data.decode("utf-8", errors="replace"))
        header = f"=== agent attempt {n} ===\n"
        body = text if text.endswith("\n") or not text else text + "\n"
        self.record.bucket.append(self.record.key(layout.PI_OUTPUT), (header + body).encode("utf-8"))

    def session(self, n: int, session_file: Path | None) -> bool:
        """Store the session trace; True when its redacted copy was withheld (the re-scan still found something)."""
        name = f"attempt-{n}.jsonl"
        raw = b""
        if session_file is not None and session_file.is_file() and not session_file.is_symlink():
            raw = session_file.read_bytes()
        self.record.bucket.write(self.record.key(f"{layout.RAW_TRACES}/{name}"), raw)
        checked = self.redactor.redact_checked(raw.decode("utf-8", errors="replace"), jsonl=True)
        text = json.dumps(WITHHELD_TRACE_LINE) + "\n" if checked.withheld else checked.text
        self.record.bucket.write(self.record.key(f"{layout.REDACTED_TRACES}/{name}"), text.encode("utf-8"))
        return checked.withheld


class PiSession:
    """Runs Pi for one run's attempts: installed once, each attempt behind a fresh proxy and in a sandbox.

    Args:
        settings: the agent's endpoint, model and timeout.
        record: where the attempt's output is filed.
        redactor: the worker's redactor.
        key: the real key for the agent's endpoint; only the proxy holds it.
        tools_dir: where Pi is (or gets) installed.
        scratch: the run's scratch dir (traversable by Pi's uid); each attempt gets its own dirs in it.
        hidden: what Pi must not read (the bucket, the factory's data dir).
        space_id: the run's Space.
        pi_deploys: Pi pushes the app itself; the proxy then serves a Hub endpoint for this Space only.
        note: posts an event (message, data).
    """

    def __init__(self, *, settings: Settings, record: RunRecord, redactor: Redactor, key: str, tools_dir: Path,
                 scratch: Path, hidden: list[Path], space_id: str, pi_deploys: bool,
                 note: Callable[[str, dict[str, object]], None]) -> None:
        self.settings = settings
        self.tools_dir = tools_dir
        self.key = key
        self.scratch = scratch
        self.hidden = hidden
        self.space_id = space_id
        self.pi_deploys = pi_deploys
        self.note = note
        self.traces = TraceFiler(record, redactor)
        self._install: PiInstall | None = None
        self._sandbox: Sandbox | None = None
        self.pushed = False  # the last attempt committed to the Space through the Hub proxy (pi-deploy)

    def _ready(self) -> tuple[PiInstall, Sandbox]:
        if self._install is None:
            self._install = ensure_pi(self.tools_dir)
        if self._sandbox is None:
            self._sandbox = sandbox_for(hidden=self.hidden)
            if self._sandbox.uid is not None:
                _check_reachable(self._install)
            self.note(f"sandboxed: {self._sandbox.describe()}",
                      {"sandbox": self._sandbox.how, "still_readable": list(self._sandbox.still_readable)})
        return self._install, self._sandbox

    def attempt(self, n: int, prompt: str, workspace: Path) -> PiOutcome:
        """Run Pi once in `workspace` with `prompt`; its output is filed in the record whatever happened.

        Raises:
            AgentUnavailable: Pi could not be installed or started.
        """
        install, sandbox = self._ready()
        session_dir, agent_dir = self.scratch / f"pi-session-{n}", self.scratch / f"pi-agent-{n}"
        hub_endpoint, token = (huggingface_hub.constants.ENDPOINT, hub_token(os.environ)) if self.pi_deploys \
            else (None, None)
        with AgentProxy(upstream=self.settings.agent_base_url, key=self.key, hub_endpoint=hub_endpoint,
                        hub_token=token, space_id=self.space_id if token else None) as proxy:
            env = {"HF_ENDPOINT": proxy.hub_url, "HF_TOKEN": DUMMY_KEY} if proxy.hub_url else {}
            outcome = run_pi(install, PiInvocation(
                workspace=workspace, prompt=prompt, base_url=proxy.openai_base_url, model=self.settings.agent_model,
                timeout=self.settings.agent_timeout, session_dir=session_dir, agent_dir=agent_dir, env=env,
                sandbox=sandbox))
            self.pushed = any(r.route == "hub" and r.method == "POST" and "/commit/" in r.path and r.status < 300
                              for r in proxy.requests)
        self.traces.stdout(n, outcome.stdout)
        withheld = self.traces.session(n, outcome.session_file)
        if withheld:
            self.note(f"agent attempt {n}: the redacted trace was withheld (the re-scan still found a secret)",
                      {"attempt": n})
        return outcome


def _check_reachable(install: PiInstall) -> None:
    """Pi runs as another user: its Node and its install must be readable to every user, down every parent.

    Raises:
        AgentUnavailable: a parent directory is not traversable by other users (a data dir under /root).
    """
    for target in (install.node, install.cli_js):
        for folder in target.parents:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
                raise AgentUnavailable(
                    "the Pi install (or its Node) sits under a directory other users cannot enter, and Pi runs as "
                    "an unprivileged user of its own",
                    "Set SPACE_FACTORY_AGENT_TOOLS_DIR to a directory every user can traverse (for example "
                    "/opt/space-factory-agent-tools), or make the parent directories of the factory's data dir "
                    "traversable (chmod o+x); the Python environment must be reachable too.")
