"""The coding agent never holds the token (DESIGN §9, issue 9 item 3), with the real Pi CLI.

A subprocess plays the worker: it starts with the HF token and the real agent key in its *initial*
environment (so they sit in its `/proc/<pid>/environ`, as a job's secrets do), a bucket and a factory home
with secret-bearing files, and runs sandboxed Pi behind the loopback proxy. The scripted model is the
proxy's upstream, so it is checked twice: every request reached it with the real key (through the proxy),
and nothing it received from Pi — tool results of `env`, `cat /proc/<worker>/environ`, `cat` and `ls -la`
of the bucket and the home — holds the token or the key in any form.

The Hub side of `pi-deploy` runs the real `hf upload` through the proxy against the Hub emulator: the run's
Space is uploaded to, any other repo is refused before the Hub sees it, and so are path tricks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from space_factory.domain.redaction import Redactor
from space_factory.worker.agent.install import PiInstall
from space_factory.worker.agent.proxy import DUMMY_KEY, AgentProxy, ProxiedRequest
from tests.hub_emulator.server import HubEmulator
from tests.hub_emulator.state import User
from tests.support.pi import shared_tools_dir
from tests.support.scripted_model import Request, ScriptedModel, Step, Text, ToolCall, bash
from tests.support.tokens import fake_token

HF_TOKEN = fake_token()
AGENT_KEY = "sk-agent-" + fake_token()[3:]  # a provider key with no hf_ shape: only the known value finds it

# The worker: its environment holds the secrets from exec on; only the proxy gets the key, Pi gets a sandbox.
_WORKER = textwrap.dedent("""\
    import json, os, sys
    from pathlib import Path
    from space_factory.worker.agent.install import ensure_pi
    from space_factory.worker.agent.isolation import sandbox_for
    from space_factory.worker.agent.proxy import AgentProxy
    from space_factory.worker.agent.runner import PiInvocation, run_pi

    upstream, tools, bucket, home, scratch = sys.argv[1], *map(Path, sys.argv[2:6])
    if sys.argv[6] == "uid-only":  # the fallback where namespaces do not work (a container without CAP_SYS_ADMIN)
        import shutil
        from space_factory.worker.agent import isolation
        which = shutil.which
        isolation.shutil.which = lambda name: None if name == "unshare" else which(name)
    install = ensure_pi(tools)
    sandbox = sandbox_for(hidden=[bucket, home])
    with AgentProxy(upstream=upstream, key=os.environ["SPACE_FACTORY_AGENT_API_KEY"]) as proxy:
        outcome = run_pi(install, PiInvocation(
            workspace=scratch / "ws", prompt="Look around.", base_url=proxy.openai_base_url, model="scripted-model",
            timeout=120, session_dir=scratch / "sessions", agent_dir=scratch / "agent", sandbox=sandbox))
    (scratch / "pi_stdout.jsonl").write_bytes(outcome.stdout)
    print(json.dumps({"how": sandbox.how, "still_readable": sandbox.still_readable, "ok": outcome.ok,
                      "error": outcome.error, "session": str(outcome.session_file),
                      "proxied": [[r.route, r.method, r.path, r.status] for r in proxy.requests]}))
    """)


@pytest.fixture
def worker_dirs() -> Iterator[dict[str, Path]]:
    """The bucket and the factory home, world-readable as umask 022 leaves them, each with files holding the
    secrets; and a scratch dir every user can traverse, for Pi's dirs."""
    base = Path(tempfile.mkdtemp(prefix="sf-agent-secrets-", dir="/tmp"))
    base.chmod(0o755)
    dirs = {name: base / name for name in ("bucket", "home", "scratch")}
    for path in dirs.values():
        path.mkdir(mode=0o755)
    (dirs["bucket"] / "runs").mkdir(mode=0o755)
    (dirs["bucket"] / "runs" / "job_env.json").write_text(json.dumps({"HF_TOKEN": HF_TOKEN}))
    (dirs["home"] / "config.toml").write_text(f'agent_api_key = "{AGENT_KEY}"\n')
    for path in (dirs["bucket"] / "runs" / "job_env.json", dirs["home"] / "config.toml"):
        path.chmod(0o644)
    yield dirs
    shutil.rmtree(base, ignore_errors=True)


def _secret_free(text: str) -> bool:
    """No trace of either secret: raw, encoded (URL, JSON, base64, split) or token-shaped."""
    return HF_TOKEN not in text and AGENT_KEY not in text and not Redactor([HF_TOKEN, AGENT_KEY]).findings(text)


@pytest.mark.parametrize("level", ["strongest", "uid-only"])
def test_pi_run_sandboxed_behind_the_proxy_has_no_secret_to_read_and_the_key_reaches_only_the_upstream(
        pi_install: PiInstall, worker_dirs: dict[str, Path], level: str) -> None:
    bucket, home = worker_dirs["bucket"], worker_dirs["home"]
    worker: dict[str, int] = {}

    def look_at_the_worker(request: Request) -> ToolCall:  # the worker's pid is known once it runs
        pid = worker["pid"]
        return bash(f"cat /proc/{pid}/environ; echo; echo environ-rc=$?; "
                    "for f in /proc/[0-9]*/environ; do cat $f 2>/dev/null | tr '\\0' '\\n'; done | head -c 100000; "
                    f"ls /proc/{pid} 2>&1 | head -3")

    steps: list[Step] = [
        bash("env"),
        look_at_the_worker,
        bash(f"cat {bucket}/runs/job_env.json {home}/config.toml; ls -la {bucket} {bucket}/runs {home}"),
        bash("cat ~/.cache/huggingface/token /root/.cache/huggingface/token 2>&1; id"),
        Text("Nothing to see."),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOKEN", "SPACE_FACTORY_AGENT"))}
    env |= {"HF_TOKEN": HF_TOKEN, "SPACE_FACTORY_AGENT_API_KEY": AGENT_KEY}
    with ScriptedModel(steps) as upstream:
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, upstream.base_url, str(shared_tools_dir()), str(bucket),
                                 str(home), str(worker_dirs["scratch"]), level],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        worker["pid"] = proc.pid
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out.splitlines()[-1])
    if report["how"] == "none" or (level == "uid-only" and report["how"] != "user"):
        pytest.skip(f"the {level} sandbox does not exist on this machine ({report['how']})")
    assert report["ok"], report["error"]
    if report["how"] == "user":
        assert report["still_readable"] == []

    # The upstream is the model: it got every turn, each with the real key that only the proxy added ...
    assert len(upstream.requests) == len(steps)
    assert {r.authorization for r in upstream.requests} == {f"Bearer {AGENT_KEY}"}
    assert all(DUMMY_KEY not in json.dumps(r.headers) for r in upstream.requests)
    assert [tuple(p) for p in report["proxied"]] == [("openai", "POST", "/v1/chat/completions", 200)] * len(steps)
    # ... and what Pi sent it holds neither secret, while the commands did run and show what they were refused.
    results = upstream.requests[-1].tool_results
    assert len(results) == 4
    assert f"SF_AGENT_DUMMY_KEY={DUMMY_KEY}" in results[0]
    assert "environ-rc=" in results[1]
    if level == "uid-only":  # the worker is visible, but its environ is not the sandbox user's to read
        assert f"/proc/{worker['pid']}/environ: Permission denied" in results[1]
    assert "Permission denied" in results[2] or "No such file" in results[2]
    for request in upstream.requests:
        body = json.dumps(request.body)
        assert _secret_free(body), f"a secret reached the model in turn {upstream.requests.index(request)}"
    # Nothing Pi wrote holds them either: its raw json stdout and its session file (redaction has nothing to do).
    assert _secret_free((worker_dirs["scratch"] / "pi_stdout.jsonl").read_text())
    assert _secret_free(Path(report["session"]).read_text())


# -- pi-deploy: the Hub endpoint ----------------------------------------------------------------------------

ALICE = User("alice", fake_token())
BOB = User("bob", fake_token())
SPACE = "alice/the-app"


@pytest.fixture(scope="module")
def emulator() -> Iterator[HubEmulator]:
    root = Path(tempfile.mkdtemp(prefix="sf-agent-hub-"))
    hub = HubEmulator(root, root / "no-models", [ALICE, BOB]).start()
    try:
        yield hub
    finally:
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def hub_proxy(emulator: HubEmulator) -> Iterator[AgentProxy]:
    emulator.clear()
    with AgentProxy(upstream="http://127.0.0.1:9/v1", key=AGENT_KEY, hub_endpoint=emulator.url,
                    hub_token=ALICE.token, space_id=SPACE) as proxy:
        yield proxy
    emulator.end_jobs_and_spaces()


def _hf_upload(proxy: AgentProxy, repo: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`hf upload` as Pi's bash would run it: the proxy as HF_ENDPOINT, the dummy key as the token."""
    assert proxy.hub_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env |= {"HF_ENDPOINT": proxy.hub_url, "HF_TOKEN": DUMMY_KEY, "HF_HOME": str(folder.parent / "hf-home"),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    hf = Path(sys.executable).with_name("hf")
    return subprocess.run([str(hf), "upload", repo, ".", "--repo-type", "space"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "app.py").write_text("print('hello')\n")
    (folder / "README.md").write_text("---\ntitle: the app\nsdk: gradio\napp_file: app.py\n---\n")
    return folder


def test_hf_upload_through_the_hub_proxy_reaches_the_runs_space_with_the_real_token(
        emulator: HubEmulator, hub_proxy: AgentProxy, app_folder: Path) -> None:
    done = _hf_upload(hub_proxy, SPACE, app_folder)
    assert done.returncode == 0, done.stderr[-2000:]
    assert SPACE in emulator.spaces
    assert (emulator.root / "repos" / SPACE / "app.py").read_text() == "print('hello')\n"
    seen = emulator.hub_requests()
    assert {r.user for r in seen if r.path != "/api/agent-harnesses"} == {"alice"}
    assert all(DUMMY_KEY not in json.dumps(r.headers) for r in seen)
    assert [(r.route, r.status) for r in hub_proxy.requests if r.path.endswith("/commit/main")] == [("hub", 200)]
    assert _secret_free(done.stdout + done.stderr)


@pytest.mark.parametrize("repo", ["alice/other-app", "bob/the-app", "alice/The-App"])
def test_hf_upload_through_the_hub_proxy_to_any_other_repo_is_refused_before_the_hub_sees_it(
        emulator: HubEmulator, hub_proxy: AgentProxy, app_folder: Path, repo: str) -> None:
    done = _hf_upload(hub_proxy, repo, app_folder)
    assert done.returncode != 0
    assert SPACE in done.stdout + done.stderr  # the refusal names the one Space the agent may reach
    assert repo not in emulator.spaces
    assert not [r for r in emulator.hub_requests() if repo.lower() in r.path.lower() or repo.encode() in r.body]
    assert {r.status for r in hub_proxy.requests if r.path != "/hub/api/agent-harnesses"} == {403}


TRICKS = [
    f"/hub/api/spaces/{SPACE}/../other-app/commit/main",
    f"/hub/api/spaces/{SPACE}/%2e%2e/other-app/commit/main",
    f"/hub/api/spaces/{SPACE}%2F..%2Fother-app/commit/main",
    "/hub/api/spaces/alice%2Fother-app/commit/main",
    f"/hub/api/spaces/{SPACE}/commit/..%2F..%2Fother-app%2Fcommit%2Fmain",
    f"/hub//api/spaces/{SPACE}/../../spaces/alice/other-app/commit/main",
    "/hub/API/spaces/alice/other-app/commit/main",
    f"/hub/api/spaces/{SPACE}/./../other-app/commit/main",
]


def test_path_tricks_through_the_hub_proxy_are_refused_and_never_reach_the_hub(
        emulator: HubEmulator, hub_proxy: AgentProxy) -> None:
    assert hub_proxy.hub_url is not None
    port = int(hub_proxy.hub_url.split(":")[2].split("/")[0])
    body = b'{"key": "header", "value": {"summary": "x"}}\n'
    for path in TRICKS:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 403"), path
    assert emulator.hub_requests() == []
    assert hub_proxy.requests == [ProxiedRequest("hub", "POST", path, 403) for path in TRICKS]
