"""The hf backend against the emulator made as strict as the Hub (issue 13 points 4-7; `hub_emulator/rules.py`).

Each switch alone, with the behaviour it forces; then a build of a gated tiny model in a private Space, and
the ZeroGPU plan rules at launch. The switches are on by default; a test that shows one switch's effect turns
it off to compare.
"""

from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from space_factory.backends.hf import hf_backend
from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.hf.spaces import MODEL_TOKEN_SECRET, HfSpaceHost
from space_factory.config import Settings
from space_factory.domain.errors import BillingRequired, NoZeroGpuSlot, SpaceCardRejected, TokenRefused
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.layout import RUNS_PREFIX
from space_factory.domain.phases import RunStatus
from space_factory.domain.schemas import BuildOptions
from space_factory.domain.stages import JobStage, SpaceStage
from tests.hub_emulator import plans
from tests.hub_emulator.containers import container_dir
from tests.hub_emulator.fixtures import ALICE, BOB, HF_CACHE, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.hub_emulator.state import User
from tests.support import runs
from tests.support.tiny_models import install_into_cache
from tests.support.tokens import fake_token
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e
RUN_TIMEOUT = 300.0
# An app that needs nothing installed: it answers every GET with 200 on $PORT (a Space's app, minus Gradio).
TINY_APP = """import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "ok"}'
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
VALID_README = "---\ntitle: t\nsdk: gradio\napp_file: app.py\nlicense: mit\n---\n# t\n"


def tiny_app(tmp_path: Path, readme: str = VALID_README) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "app.py").write_text(TINY_APP)
    (folder / "README.md").write_text(readme)
    return folder


def add_user(hub: HubEmulator, name: str, token: str | None = None, **plan: object) -> User:
    """A user the running emulator knows from now on (the session's users are ALICE and BOB)."""
    user = User(name, token or fake_token(), **plan)  # type: ignore[arg-type]
    hub.state.users[user.token] = user
    return user


def running(host: HfSpaceHost, space_id: str) -> SpaceStage:
    return wait_until(lambda: (rt := host.runtime(space_id)).stage in (SpaceStage.RUNNING, SpaceStage.RUNTIME_ERROR)
                      and rt.stage, 120, f"{space_id} to run")


# -- §4 front matter ------------------------------------------------------------------------------------


def test_validate_yaml_refuses_a_free_text_license_and_the_upload_is_a_clear_factory_error(
        hub: HubEmulator, tmp_path: Path) -> None:
    host = HfSpaceHost(HfApi(), ALICE.token)
    host.create("alice/card-check", hardware=None)
    folder = tiny_app(tmp_path, VALID_README.replace("license: mit", 'license: "Apache License 2.0"'))
    with pytest.raises(SpaceCardRejected) as caught:
        host.upload("alice/card-check", folder, run_id="r")
    assert caught.value.fields == ("license",)
    assert not any("/commit/" in r.path for r in hub.hub_requests())  # refused before anything was uploaded
    hub.rules.validate_yaml = False
    host.upload("alice/card-check", folder, run_id="r")  # the lenient emulator of before took it


# -- §5 Spaces ------------------------------------------------------------------------------------------


def test_hardware_is_null_while_building_and_the_build_takes_its_time(hub: HubEmulator, tmp_path: Path) -> None:
    hub.rules.build_delay_seconds = 3.0
    host = HfSpaceHost(HfApi(), ALICE.token)
    host.create("alice/slow-build", hardware="zero-a10g")
    started = time.monotonic()
    host.upload("alice/slow-build", tiny_app(tmp_path), run_id="r")
    raw = HfApi().get_space_runtime("alice/slow-build", token=ALICE.token)
    assert raw.stage == "BUILDING" and raw.hardware is None and raw.requested_hardware == "zero-a10g"
    assert host.runtime("alice/slow-build").hardware == "zero-a10g"  # the requested flavor stands in
    assert running(host, "alice/slow-build") is SpaceStage.RUNNING
    assert time.monotonic() - started >= 3.0
    assert host.runtime("alice/slow-build").hardware == "zero-a10g"  # now the Hub's current flavor


def test_a_private_spaces_app_answers_only_through_the_proxy_with_the_owners_token(
        hub: HubEmulator, tmp_path: Path) -> None:
    host = HfSpaceHost(HfApi(), ALICE.token)
    host.create("alice/behind-proxy", hardware=None)
    host.upload("alice/behind-proxy", tiny_app(tmp_path), run_id="r")
    assert running(host, "alice/behind-proxy") is SpaceStage.RUNNING
    url = host.runtime("alice/behind-proxy").url or ""
    app_url = hub.state.space_host.runtime("alice/behind-proxy").url or ""
    assert url and url.rstrip("/") != app_url.rstrip("/")  # the Hub names the proxy, never the app
    assert httpx.get(f"{url}/health").status_code == 404
    assert httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {BOB.token}"}).status_code == 404
    assert httpx.get(f"{url}/health", headers=host.auth_headers()).status_code == 200
    assert httpx.get(f"{url}/health", headers={"x-hf-authorization": f"Bearer {ALICE.token}"}).status_code == 200


def test_a_gated_model_needs_the_token_and_a_private_one_is_invisible_without_it(hub: HubEmulator) -> None:
    hub.rules.restricted_models.update({"alice/gated-thing": "gated", "alice/private-thing": "private"})
    host = HfSpaceHost(HfApi(), ALICE.token)
    host.create("alice/needs-token", hardware=None)
    host.create("alice/needs-none", hardware=None)
    for model in ("alice/gated-thing", "alice/private-thing"):
        assert host.grant_model_access("alice/needs-token", model) is True
    assert host.grant_model_access("alice/needs-none", "factory-test/tiny-gpt2") is False
    assert set(hub.spaces["alice/needs-token"]["secrets"]) == {MODEL_TOKEN_SECRET}
    assert "secrets" not in hub.spaces["alice/needs-none"]
    probes = [r for r in hub.hub_requests() if r.path.startswith("/api/models/")]
    assert probes and all(r.user is None for r in probes)  # asked as an anonymous app would


# -- §6 smaller -----------------------------------------------------------------------------------------


def test_whoami_variants_an_app_token_an_oauth_token_without_jobs_and_a_refused_token(hub: HubEmulator) -> None:
    app = add_user(hub, "appuser", kind="app")
    backend = hf_backend(Settings(backend="hf"), app.token)
    assert backend.owner == "appuser" and backend.zerogpu_allowed is None  # no isPro: not known, not False
    oauth = add_user(hub, "oauthuser", "hf_oauth_" + fake_token().removeprefix("hf_"),
                     scopes=("openid", "profile", "write-repos"))
    state = hf_factory(oauth.token).launch("factory-test/not-on-the-hub")
    assert state.status is RunStatus.FAILED and "OAuth token needs the 'jobs' scope" in (state.error or "")
    with pytest.raises(TokenRefused) as caught:
        hf_factory(fake_token())
    assert "https://huggingface.co/settings/tokens" in str(caught.value)


@pytest.mark.parametrize("status", [403, 402])
def test_no_credits_is_billing_whether_the_hub_answers_403_or_402(hub: HubEmulator, status: int) -> None:
    hub.rules.no_credits_status = status
    state = hf_factory(BOB.token).launch("factory-test/not-on-the-hub")
    assert state.status is RunStatus.FAILED and "needs a paid Hugging Face plan" in (state.error or "")
    assert "permission" not in (state.error or "")
    with pytest.raises(BillingRequired):
        hf_factory(BOB.token).backend.jobs.launch("20260101-000000-x-000000")


def test_a_running_jobs_logs_come_back_without_waiting_for_the_job(hub: HubEmulator) -> None:
    api = HfApi()
    job = api.run_job(image="python:3.12", command=["sh", "-c", "echo first line; sleep 60"], namespace="alice",
                      token=ALICE.token)
    wait_until(lambda: hub.jobs[job.id].stage is JobStage.RUNNING and (hub.jobs[job.id].folder / "job.log").exists()
               and "first line" in (hub.jobs[job.id].folder / "job.log").read_text(), 60, "the job to print")
    started = time.monotonic()
    logs = hf_factory(ALICE.token).backend.jobs.logs(job.id)  # type: ignore[attr-defined]
    took = time.monotonic() - started
    assert "first line" in logs and took < 15 and hub.jobs[job.id].stage is JobStage.RUNNING
    print(f"\n[job logs] a running job's logs read in {took:.1f} s (the stream stays open)")


def test_a_bucket_listing_keeps_only_real_children_when_the_hub_matches_lexically(hub: HubEmulator) -> None:
    factory = hf_factory(ALICE.token)
    folder = hub.state.bucket_dir("alice", "space-factory-runs") / RUNS_PREFIX
    for rel in ("dat/a.json", "data/b.json"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("{}")
    raw = [e.path for e in HfApi().list_bucket_tree("alice/space-factory-runs", f"{RUNS_PREFIX}/dat",
                                                    token=ALICE.token)]
    assert f"{RUNS_PREFIX}/data/b.json" in raw  # the Hub's lexical match, emulated
    bucket = factory.backend.bucket
    assert isinstance(bucket, HfBucket) and bucket.list(f"{RUNS_PREFIX}/dat") == ["a.json"]


# -- §7 plans -------------------------------------------------------------------------------------------


def test_a_free_account_with_both_zerogpu_slots_taken_is_refused_before_any_job(hub: HubEmulator) -> None:
    carol = add_user(hub, "carol", is_pro=False, can_pay=True)
    plans.add_space(hub.state, "carol/first-zero")
    plans.add_space(hub.state, "carol/second-zero", stage=SpaceStage.BUILDING)
    plans.add_space(hub.state, "carol/paused-zero", stage=SpaceStage.PAUSED)  # holds no slot
    factory = hf_factory(carol.token)
    mark = len(hub.hub_requests())
    started = time.monotonic()
    with pytest.raises(NoZeroGpuSlot) as caught:
        factory.launch("factory-test/tiny-gpt2", options=BuildOptions(hardware="zero-a10g"))
    refused_in = time.monotonic() - started
    asked = hub.hub_requests()[mark:]
    assert "carol/first-zero, carol/second-zero" in str(caught.value) and "paused-zero" not in str(caught.value)
    assert not any(r.path.startswith("/api/jobs/") for r in asked)
    assert factory.backend.bucket.list(RUNS_PREFIX) == []  # no run either
    print(f"\n[zerogpu] refused in {refused_in * 1000:.0f} ms with {len(asked)} Hub request(s): "
          f"{'; '.join(f'{r.method} {r.path}' for r in asked)}")


def header_only_llm(tmp_path: Path, repo_id: str) -> str:
    """A "7B" text-generation model the Hub describes (card, config, a safetensors header) but never serves whole:
    enough for the analysis, which reads only headers, to plan ZeroGPU."""
    folder = tmp_path / "llm"
    folder.mkdir()
    (folder / "README.md").write_text("---\npipeline_tag: text-generation\nlibrary_name: transformers\n---\n# llm\n")
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    header = json.dumps({"w": {"dtype": "BF16", "shape": [7_000_000_000], "data_offsets": [0, 14_000_000_000]}})
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())
    install_into_cache(folder, repo_id, HF_CACHE.parent)
    return repo_id


def test_a_build_planned_on_zerogpu_is_refused_after_reading_the_model_when_no_slot_is_left(
        hub: HubEmulator, tmp_path: Path) -> None:
    frank = add_user(hub, "frank", is_pro=False, can_pay=True)
    plans.add_space(hub.state, "frank/a")
    plans.add_space(hub.state, "frank/b")
    model = header_only_llm(tmp_path, "factory-test/header-only-7b")
    factory = hf_factory(frank.token)
    mark = len(hub.hub_requests())
    started = time.monotonic()
    with pytest.raises(NoZeroGpuSlot):
        factory.launch(model)
    refused_in = time.monotonic() - started
    asked = hub.hub_requests()[mark:]
    assert not any(r.path.startswith("/api/jobs/") for r in asked)
    assert factory.analyze(model).recommendation.primary == "zero-a10g"  # what a slot would have given
    # With a paid GPU allowed the same build goes ahead (its job then starts).
    state = factory.launch(model, options=BuildOptions(allow_paid_fallback=True))
    assert state.job.id and any(r.path == "/api/jobs/frank" for r in hub.hub_requests()[mark:])
    factory.cancel(state.run_id)
    print(f"\n[zerogpu] planned build refused in {refused_in * 1000:.0f} ms with {len(asked)} Hub request(s): "
          f"{'; '.join(f'{r.method} {r.path}' for r in asked)}")


def test_the_same_free_account_with_a_slot_left_is_admitted_and_its_space_gets_zerogpu(
        hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    dave = add_user(hub, "dave", is_pro=False, can_pay=True)
    plans.add_space(hub.state, "dave/first-zero")
    factory = hf_factory(dave.token)
    state = factory.launch(tiny_models["tiny-bert-cls"], options=BuildOptions(hardware="zero-a10g"))
    assert state.status is not RunStatus.FAILED and state.job.id
    space_id = wait_until(lambda: factory.state(state.run_id).space.id, RUN_TIMEOUT, "the Space to be created")
    assert hub.spaces[space_id]["hardware"] == "zero-a10g"  # the second slot
    factory.cancel(state.run_id)


def test_a_zerogpu_space_beyond_the_plan_runs_on_cpu_and_the_backend_sees_it(hub: HubEmulator,
                                                                             tmp_path: Path) -> None:
    erin = add_user(hub, "erin", is_pro=False, can_pay=True)
    plans.add_space(hub.state, "erin/a")
    plans.add_space(hub.state, "erin/b")
    host = HfSpaceHost(HfApi(), erin.token)
    host.create("erin/third", hardware="zero-a10g")
    host.upload("erin/third", tiny_app(tmp_path), run_id="r")
    assert running(host, "erin/third") is SpaceStage.RUNNING
    runtime = host.runtime("erin/third")
    assert (runtime.requested_hardware, runtime.hardware) == ("zero-a10g", "cpu-basic")


# -- a whole build: a gated tiny model in a private Space -----------------------------------------------


def test_a_gated_tiny_model_builds_in_a_private_space_that_downloads_it_with_its_secret(
        hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    source = tiny_models["tiny-bert-cls"]
    gated = "factory-test/tiny-gated-bert-cls"
    target = HF_CACHE / f"models--{gated.replace('/', '--')}"
    if not target.exists():
        shutil.copytree(HF_CACHE / f"models--{source.replace('/', '--')}", target, symlinks=True)
    hub.rules.restricted_models[gated] = "gated"
    hub.rules.model_grants.add(("alice", gated))
    factory = hf_factory(ALICE.token)
    state = runs.wait_terminal(factory, factory.launch(gated).run_id, RUN_TIMEOUT)
    assert state.status is RunStatus.FINISHED, factory.trace(state.run_id).text[-3000:]
    assert state.gate_status is GateStatus.FULL_INFERENCE_PASSED, factory.gate(state.run_id).summary
    space_id = state.space.id or ""
    assert hub.spaces[space_id]["private"] is True
    secrets = [r for r in hub.hub_requests() if r.method == "POST" and r.path == f"/api/spaces/{space_id}/secrets"]
    assert len(secrets) == 1
    # The app itself downloaded the weights, through the emulator, with the Space's secret.
    weights = [r for r in hub.hub_requests() if r.path.startswith(f"/{gated}/resolve/")
               and r.path.endswith(".safetensors") and r.method == "GET"]
    assert weights and all(r.user == "alice" for r in weights)
    # The token: only in the job's secrets and the Space's secret, never in a file or the run record.
    for request in hub.hub_requests():
        if request not in secrets and not (request.method == "POST" and request.path == "/api/jobs/alice"):
            assert ALICE.token.encode() not in request.body, request.path
    # What the factory wrote (the bucket, the Space's repo and its folder, the job's output); the emulated Hub
    # keeps the secret in the container's environment only (containers.py).
    written = [p for d in ("buckets", "repos", "spaces") for p in (hub.root / d).rglob("*")]
    written += list((hub.root / "jobs").rglob("job.log"))
    assert not any(container_dir(hub.state, space_id) in p.parents for p in written)
    for path in written:
        if path.is_file() and not path.is_symlink():
            assert ALICE.token.encode() not in path.read_bytes(), path
    assert ALICE.token not in factory.trace(state.run_id).text
