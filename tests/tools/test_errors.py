"""The error policy at the MCP boundary (STYLE R6-R8): a FactoryError is a tool error the agent reads, redacted;
anything unexpected is logged under a reference and the client sees only "internal error, reference <id>"."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest
from mcp import Client

from space_factory.domain.errors import FactoryError
from space_factory.domain.schemas import ModelFacts
from space_factory.server.app import create_app
from space_factory.service import Factory
from tests.tools.helpers import call_error, make_app

pytestmark = pytest.mark.anyio

FAKE_HF_TOKEN = "hf_" + "ZyXwVuTsRqPoNmLkJiHgFeDcBa98765432"


class BrokenModelSource:
    """A model source that crashes the way a buggy backend would, with a secret and a path in its message."""

    def model_facts(self, model: str) -> ModelFacts:
        raise RuntimeError(f"boom in /srv/secret/path with {FAKE_HF_TOKEN}")


async def test_an_unexpected_exception_is_logged_and_answered_with_a_reference_only(
        factory: Factory, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    broken = Factory(factory.settings, dataclasses.replace(factory.backend, models=BrokenModelSource()))
    caplog.set_level(logging.ERROR)
    async with Client(make_app(broken), mode=mode) as client:
        text = await call_error(client, "analyze_model", {"model": "factory-test/anything"})
    match = re.search(r"internal error, reference ([0-9a-f]{8}); see the server log", text)
    assert match, text
    assert FAKE_HF_TOKEN not in text and "/srv/secret" not in text
    assert any(match.group(1) in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_provider_that_refuses_the_caller_is_a_tool_error_with_its_reason(mode: str) -> None:
    def refuse(subject: str | None, token: str | None = None) -> Factory:
        raise FactoryError("the 'hf' backend is not available in this version yet")

    async with Client(create_app(refuse), mode=mode) as client:
        text = await call_error(client, "list_runs")
    assert "'hf' backend is not available" in text


async def test_a_provider_that_crashes_is_an_internal_error_with_a_reference(mode: str) -> None:
    def crash(subject: str | None, token: str | None = None) -> Factory:
        raise RuntimeError(f"cannot open {FAKE_HF_TOKEN}")

    async with Client(create_app(crash), mode=mode) as client:
        text = await call_error(client, "get_run_status", {"run_id": "20261128-000000-nothing-abcdef"})
    assert "internal error, reference" in text and FAKE_HF_TOKEN not in text


async def test_a_factory_error_quoting_a_token_is_redacted_before_it_reaches_the_client(client: Client) -> None:
    """Error messages pass through the redactor too (DESIGN §9): the quoted value loses its secret."""
    text = await call_error(client, "launch_build", {"model": f"https://huggingface.co/{FAKE_HF_TOKEN}"})
    assert "invalid model id" in text and FAKE_HF_TOKEN not in text
