"""The hf backend's job carries the coding agent's settings, and its key only as a job secret (issue 9; DESIGN §8,
§9), checked on the wire: every request the real `huggingface_hub` client sent to the Hub emulator."""

from __future__ import annotations

import json
import secrets

from space_factory.domain.phases import RunStatus
from tests.hub_emulator.fixtures import ALICE, hf_factory
from tests.hub_emulator.server import HubEmulator

MISSING = "factory-test/not-on-the-hub"


def _job_spec(hub: HubEmulator, run_id: str) -> dict[str, object]:
    [job] = [j for j in hub.jobs.values() if j.spec["labels"].get("space-factory-run") == run_id]
    return dict(job.spec)


def test_the_agent_key_reaches_the_job_only_as_a_secret_and_its_settings_as_env(hub: HubEmulator) -> None:
    """SPACE_FACTORY_AGENT_API_KEY is a job secret — never in the env, the command, the labels or any other
    request — and the agent's plain settings are forwarded for the worker's own Settings."""
    key = "sk-agent-" + secrets.token_hex(16)
    factory = hf_factory(ALICE.token, agent_api_key=key, agent_base_url="https://llm.example.test/v1",
                         agent_model="acme/coder-7b", agent_attempts=2, agent_timeout=120.0)
    state = factory.launch(MISSING, agent="pi")
    assert state.status is not RunStatus.FAILED and state.agent == "pi"
    spec = _job_spec(hub, state.run_id)
    assert spec["secrets"] == {"HF_TOKEN": ALICE.token, "SPACE_FACTORY_AGENT_API_KEY": key}
    env = spec["environment"]
    assert isinstance(env, dict)
    assert {k: env[k] for k in env if k.startswith("SPACE_FACTORY_AGENT_")} == {
        "SPACE_FACTORY_AGENT_MODEL": "acme/coder-7b", "SPACE_FACTORY_AGENT_BASE_URL": "https://llm.example.test/v1",
        "SPACE_FACTORY_AGENT_ATTEMPTS": "2", "SPACE_FACTORY_AGENT_TIMEOUT": "120.0"}
    outside = json.dumps({k: v for k, v in spec.items() if k != "secrets"})
    assert key not in outside and key[9:25] not in outside
    carrying = [r for r in hub.hub_requests() if key.encode() in r.body or key in r.path
                or any(key in v for v in r.headers.values())]
    assert [(r.method, r.path) for r in carrying] == [("POST", "/api/jobs/alice")]
    # The Hub answers secret names, never values; what the service keeps of the job is its id, stage and url.
    assert key not in json.dumps(hub.jobs[state.job.id or ""].info(hub.url), default=str)
    assert key not in factory.state(state.run_id).model_dump_json()


def test_without_an_agent_key_the_job_has_only_the_hf_token_secret(hub: HubEmulator) -> None:
    """No key configured: the worker falls back to the caller's HF token, the job's one secret (DESIGN §8)."""
    factory = hf_factory(ALICE.token, agent_api_key=None)
    state = factory.launch(MISSING)
    spec = _job_spec(hub, state.run_id)
    assert spec["secrets"] == {"HF_TOKEN": ALICE.token} and state.agent == "auto"
    env = spec["environment"]
    assert isinstance(env, dict) and "SPACE_FACTORY_AGENT_API_KEY" not in env
    assert env["SPACE_FACTORY_AGENT_BASE_URL"] == "https://router.huggingface.co/v1"
