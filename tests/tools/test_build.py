"""launch_build and validate_space through the in-memory client, in both protocol eras (issue 3, DESIGN §7)."""

from __future__ import annotations

import pytest
from mcp import Client

from space_factory.domain.phases import Phase, phase_step
from space_factory.service import Factory
from tests.tools.helpers import MISSING_MODEL, call, call_error, wait_terminal

pytestmark = pytest.mark.anyio


async def test_launch_build_returns_the_run_id_at_once_with_a_poll_hint_and_links(client: Client,
                                                                                  factory: Factory) -> None:
    """launch_build answers before the build runs: run_id, next_poll_seconds, resource links (DESIGN §7)."""
    out = await call(client, "launch_build", {"model": f"https://huggingface.co/{MISSING_MODEL}"})
    run_id = out["run_id"]
    assert out["state"]["model"] == MISSING_MODEL
    assert out["terminal"] is False and out["next_poll_seconds"] > 0
    assert out["links"]["state"] == f"factory://runs/{run_id}/state.json"
    assert out["links"]["gate"] == f"factory://runs/{run_id}/inference_gate.json"
    assert "get_run_status" in out["next_step"]
    assert out["waited_seconds"] < 5
    await wait_terminal(factory, run_id)


async def test_launch_build_with_the_same_idempotency_key_returns_the_same_run(client: Client,
                                                                               factory: Factory) -> None:
    """The same idempotency_key from the same caller gives the same run, not a second build (issue 3)."""
    args = {"model": MISSING_MODEL, "idempotency_key": "demo-1"}
    first = await call(client, "launch_build", args)
    second = await call(client, "launch_build", args)
    assert first["run_id"] == second["run_id"]
    other = await call(client, "launch_build", {**args, "idempotency_key": "demo-2"})
    assert other["run_id"] != first["run_id"]
    assert len(await factory_runs(factory)) == 2
    for run_id in {first["run_id"], other["run_id"]}:
        await wait_terminal(factory, run_id)


async def factory_runs(factory: Factory) -> list[str]:
    import anyio

    return [s.run_id for s in await anyio.to_thread.run_sync(factory.list_runs)]


@pytest.mark.parametrize(("model", "rule"), [
    ("not-a-model", "exactly one '/'"),
    ("https://huggingface.co/spaces/owner/app", "names a space"),
    ("https://example.com/owner/model", "must point at huggingface.co"),
    ("owner/bad..name", "'..'"),
])
async def test_launch_build_with_an_invalid_model_id_is_a_tool_error_naming_the_rule(
        client: Client, factory: Factory, model: str, rule: str) -> None:
    """A bad model id is refused before anything starts, and the message says which rule it broke (§9)."""
    text = await call_error(client, "launch_build", {"model": model})
    assert "invalid model id" in text and rule in text
    assert await factory_runs(factory) == []


@pytest.mark.parametrize("args", [
    {"wait_seconds": 601}, {"wait_seconds": -1}, {"space_name": "../escape"}, {"hardware": "h100"},
    {"mode": "validate"}, {"task": "make-coffee"}, {"idempotency_key": "has space"},
])
async def test_launch_build_refuses_arguments_outside_the_schema(client: Client, factory: Factory,
                                                                 args: dict[str, object]) -> None:
    """Bounds and enums are schema constraints: the SDK rejects them before the service runs (issue 3)."""
    await call_error(client, "launch_build", {"model": MISSING_MODEL, **args})
    assert await factory_runs(factory) == []


async def test_launch_build_with_wait_seconds_sends_growing_progress_until_the_run_ends(
        client: Client, factory: Factory) -> None:
    """With wait_seconds the call follows the run, sends progress (phase as message, step/total), and returns
    the status reached (issue 3). The model is missing, so the real job ends quickly."""
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    out = await call(client, "launch_build", {"model": MISSING_MODEL, "wait_seconds": 60},
                     progress_callback=on_progress)
    assert out["terminal"] is True and out["status"] in ("failed", "finished")
    assert "get_gate" in out["next_step"]
    total = phase_step(Phase.DONE)[1]
    assert len(seen) >= 2
    assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})  # strictly increasing, as the spec asks
    assert all(t == total for _, t, _ in seen)
    assert seen[0][2] is not None and seen[0][2].startswith("queued")
    assert seen[-1][0] == total and seen[-1][2] is not None and seen[-1][2].startswith(out["status"])


async def test_wait_seconds_returns_a_running_status_when_time_is_up(client: Client, factory: Factory) -> None:
    """A run that outlives wait_seconds is returned as it stands, not as an error (issue 3).

    launch_build and validate_space share the wait; a validation run against a port where nothing answers
    polls /health for validate_timeout, so it surely outlives the one second (a missing model could fail first).
    """
    out = await call(client, "validate_space", {"space": "http://127.0.0.1:9/", "task": "text-classification",
                                                "wait_seconds": 1})
    assert 0.9 <= out["waited_seconds"] < 10
    assert out["terminal"] is False and out["next_poll_seconds"] > 0
    await call(client, "cancel_run", {"run_id": out["run_id"]})
    await wait_terminal(factory, out["run_id"])


async def test_validate_space_of_an_app_url_starts_a_validation_run(client: Client, factory: Factory) -> None:
    """validate_space starts a validation-only run for any app URL and returns its run id (DESIGN §7)."""
    out = await call(client, "validate_space", {"space": "http://127.0.0.1:9/", "task": "text-classification"})
    assert out["state"]["mode"] == "validate" and out["terminal"] is False
    assert out["links"]["report"].endswith("/report.md")
    canceled = await call(client, "cancel_run", {"run_id": out["run_id"]})  # nothing answers there: don't wait
    assert canceled["status"] == "canceled"


@pytest.mark.parametrize(("space", "expected"), [
    ("http://user:pw@127.0.0.1:7860/", "credentials in the URL are refused"),
    ("ftp://127.0.0.1/", "only http(s) URLs"),
    ("tester/no-such-space", "not running"),
    ("just words", "neither a URL nor"),
])
async def test_validate_space_with_a_bad_target_is_a_tool_error_saying_why(client: Client, space: str,
                                                                           expected: str) -> None:
    """Targets are validated (no credentials stored, Space ids must name a running Space) (DESIGN §9)."""
    text = await call_error(client, "validate_space", {"space": space})
    assert "invalid validation target" in text and expected in text
    assert "user:pw" not in text  # the refused credentials are redacted from the message too
