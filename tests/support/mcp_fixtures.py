"""Fixtures for the MCP tests (tools, server, contract): the server over the `factory` fixture, a client per era."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client

from space_factory.service import Factory
from tests.tools.helpers import MODES, make_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(factory: Factory, mode: str) -> AsyncIterator[Client]:
    async with Client(make_app(factory), mode=mode) as c:  # type: ignore[arg-type]
        yield c
