"""Revisions on the hf backend against the Hub emulator (issue 10; DESIGN §12): one `create_commit` per revision on
top of the parent's commit, on the same private Space; a Space whose head another writer moved is refused, by the
service before any run exists and by the Hub (412) if it moves between the check and the commit.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from huggingface_hub import HfApi
from mcp import Client

from space_factory.domain.errors import SpaceMoved
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.schemas import BuildOptions
from space_factory.server.app import create_app
from space_factory.service import Factory
from tests.hub_emulator.fixtures import ALICE, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.hub_emulator.state import Logged
from tests.support.runs import wait_terminal
from tests.tools.helpers import call, call_error

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
RUN_TIMEOUT = 600
V1_RETURN = 'return str(outputs[0]["generated_text"])'


def commits_of(hub: HubEmulator, space_id: str) -> list[dict[str, Any]]:
    return list(hub.spaces[space_id].get("commits") or [])


def record_of(hub: HubEmulator, run_id: str) -> Path:
    return hub.root / "buckets" / "alice" / "space-factory-runs" / "runs" / run_id


def runs_in_bucket(hub: HubEmulator) -> set[str]:
    folder = hub.root / "buckets" / "alice" / "space-factory-runs" / "runs"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def hub_side(requests: list[Logged]) -> list[Logged]:
    """The requests that reach the Hub proper (Spaces, models, whoami, commits), not the bucket or the jobs API."""
    return [r for r in requests if not r.path.startswith(("/buckets/", "/api/buckets/", "/api/jobs/"))
            and not r.headers.get("user-agent", "").startswith("hf-mount")]


async def test_a_revision_is_one_commit_on_the_same_space_and_a_moved_head_is_refused(
        hub: HubEmulator, tiny_models: dict[str, str]) -> None:
    factory: Factory = hf_factory(ALICE.token)
    state = await anyio.to_thread.run_sync(
        lambda: factory.launch(tiny_models["tiny-gpt2"], options=BuildOptions(), agent="none"))
    state = await anyio.to_thread.run_sync(wait_terminal, factory, state.run_id, RUN_TIMEOUT)
    assert state.gate_status is GateStatus.FULL_INFERENCE_PASSED, factory.trace(state.run_id).text[-3000:]
    base, space_id = state.run_id, str(state.space.id)
    assert len(commits_of(hub, space_id)) == 1

    async with Client(create_app(lambda subject, token=None: factory)) as client:
        v1 = (await call(client, "get_app_files", {"run_id": base, "path": "app.py"}))["file"]["text"]
        v2 = v1.replace(V1_RETURN, 'return "[v2] " + str(outputs[0]["generated_text"])')
        mark = len(hub.hub_requests())
        launched = await call(client, "revise_build", {"run_id": base, "files": {"app.py": v2},
                                                       "note": "prefix the output with [v2]"})
        admission = hub.hub_requests()[mark:]
        revised = await anyio.to_thread.run_sync(wait_terminal, factory, launched["run_id"], RUN_TIMEOUT)
        during = hub.hub_requests()[mark:]
        gate = await call(client, "get_gate", {"run_id": launched["run_id"]})
        assert revised.gate_status is GateStatus.FULL_INFERENCE_PASSED, gate["message"]
        assert gate["gate"]["space"]["id"] == space_id and gate["revision"] == 2

        commits = commits_of(hub, space_id)
        assert len(commits) == 2 and commits[-1]["parent"] == commits[0]["oid"]
        assert commits[-1]["summary"] == "prefix the output with [v2]"
        posts = [r for r in during if r.method == "POST" and "/commit/" in r.path]
        assert len(posts) == 1 and [json.loads(line)["key"] for line in posts[0].body.decode().splitlines()] == [
            "header", "file"]  # only the changed file travels
        target = json.loads((record_of(hub, launched["run_id"]) / "target_space.json").read_text())
        assert target["commit"] == commits[-1]["oid"] and target["space_id"] == space_id
        result = json.loads((record_of(hub, launched["run_id"]) / "tests" / "test_result.json").read_text())
        assert result["call"]["output_excerpt"].lstrip("'\"").startswith("[v2] "), result["call"]
        print(f"\n[hf revision] {len(hub_side(during))} Hub requests per revision (service admission "
              f"{len(hub_side(admission))}: {[f'{r.method} {r.path}' for r in hub_side(admission)]}); "
              f"{len(during)} in all with the bucket and jobs")

        # Another writer commits to the Space (its owner, by hand): the next revision is refused, nothing written.
        await anyio.to_thread.run_sync(lambda: HfApi(token=ALICE.token).upload_file(
            path_or_fileobj=b"notes\n", path_in_repo="NOTES.md", repo_id=space_id, repo_type="space"))
        before = (runs_in_bucket(hub), len(commits_of(hub, space_id)))
        text = await call_error(client, "revise_build", {"run_id": launched["run_id"], "files": {"app.py": v1}})
        assert "changed since run" in text and "someone else wrote to it" in text and "nothing was changed" in text
        assert (runs_in_bucket(hub), len(commits_of(hub, space_id))) == before

    # The Hub's own compare-and-swap: a commit on top of a commit that is no longer the head is a 412, never a write.
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "app.py").write_text(v1)
        with pytest.raises(SpaceMoved, match="someone else wrote to it"):
            factory.backend.spaces.commit(space_id, Path(tmp), run_id="x", written=["app.py"], removed=[],
                                          message="stale", parent_commit=target["commit"])
    assert len(commits_of(hub, space_id)) == before[1]
