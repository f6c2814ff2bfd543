"""Stateless-friendly: the server keeps no run state, so a fresh server answers for a run another one started
(issue 3: "a restarted server or a second replica answers for every run")."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.tools.helpers import MISSING_MODEL, call, make_app, make_factory, wait_terminal

pytestmark = pytest.mark.anyio


async def test_a_fresh_server_answers_for_a_run_launched_through_another(tmp_path: Path, mode: str) -> None:
    first_factory = make_factory(tmp_path / "home")
    async with Client(make_app(first_factory), mode=mode) as first:
        launched = await call(first, "launch_build", {"model": MISSING_MODEL, "idempotency_key": "k1"})
    second_factory = make_factory(tmp_path / "home")  # a new process would build exactly this
    async with Client(make_app(second_factory), mode=mode) as second:
        status = await call(second, "get_run_status", {"run_id": launched["run_id"]})
        again = await call(second, "launch_build", {"model": MISSING_MODEL, "idempotency_key": "k1"})
    assert status["run_id"] == launched["run_id"] and again["run_id"] == launched["run_id"]
    await wait_terminal(second_factory, launched["run_id"])
