"""The run dashboard as an MCP App (issue 12 part 2; MCP Apps 2026-01-26, SEP-2133), through the in-memory client.

The `ui://` resource is one self-contained document (no external loads, no markup built from strings); get_gate
and launch_build link it with `_meta.ui.resourceUri`; a client with or without the Apps extension gets the same
tool results as before.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import ClientExtension
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from space_factory.domain.phases import Phase, RunStatus
from space_factory.server.dashboard import page_file
from space_factory.service import Factory
from space_factory.tools.gate import gate_view
from space_factory.tools.views import DASHBOARD_URI
from tests.tools.helpers import MISSING_MODEL, call, make_app, passed_gate, result_text, write_run

pytestmark = pytest.mark.anyio
LINKED = {"get_gate", "launch_build"}
# What would build markup from a string, or load or run something from elsewhere.
FORBIDDEN = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
             "srcdoc", "import(")


class AppsHost(ClientExtension):
    """A client that renders MCP Apps, as a host advertises it (MCP Apps: capability negotiation)."""

    identifier = EXTENSION_ID

    def settings(self) -> dict[str, Any]:
        return {"mimeTypes": [APP_MIME_TYPE]}


async def test_the_dashboard_resource_is_one_self_contained_mcp_app_document(client: Client) -> None:
    listed = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert listed[DASHBOARD_URI].mime_type == APP_MIME_TYPE
    (content,) = (await client.read_resource(DASHBOARD_URI)).contents
    assert content.mime_type == APP_MIME_TYPE
    assert (content.meta or {})["ui"] == {"csp": {}, "prefersBorder": True}  # no domain may be reached
    html = getattr(content, "text", "")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en" data-transport="mcp-app">' in html
    assert page_file("dashboard.js") in html and page_file("dashboard.css") in html  # inlined, unchanged
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", html)  # nothing loaded from elsewhere
    assert "http://" not in html and "https://" not in html
    assert "<script src" not in html and 'rel="stylesheet"' not in html
    assert [word for word in FORBIDDEN if word in html] == []


def test_the_shipped_page_builds_its_dom_from_text_only() -> None:
    """DESIGN §9: record text is untrusted; the page never turns a string into markup."""
    for name in ("dashboard.js", "dashboard.html", "dashboard.css"):
        text = page_file(name)
        assert [word for word in FORBIDDEN if word in text] == [], name
    assert "<script>" not in page_file("dashboard.html")  # the web page's CSP allows no inline script


async def test_get_gate_and_launch_build_link_the_dashboard_and_no_other_tool_does(client: Client) -> None:
    tools = (await client.list_tools()).tools
    linked = {t.name: (t.meta or {}).get("ui", {}).get("resourceUri") for t in tools}
    assert {name for name, uri in linked.items() if uri} == LINKED
    assert {linked[name] for name in LINKED} == {DASHBOARD_URI}


async def test_the_server_advertises_the_apps_extension_in_the_2026_era(factory: Factory) -> None:
    """SEP-2133 capabilities.extensions exist from 2026-07-28; a 2025-11-25 host reads the tools' `_meta` only."""
    async with Client(make_app(factory), mode="auto") as client:  # type: ignore[arg-type]
        assert EXTENSION_ID in (client.server_capabilities.extensions or {})


@pytest.mark.parametrize("apps", [False, True], ids=["plain-client", "apps-host"])
async def test_linked_tools_answer_the_same_with_or_without_the_apps_extension(factory: Factory, mode: str,
                                                                              apps: bool) -> None:
    """SEP-2133: an extension degrades gracefully; the tool still returns its normal text and structured result."""
    run_id = write_run(factory, status=RunStatus.FINISHED, phase=Phase.DONE, gate=passed_gate())
    extensions = [AppsHost()] if apps else None
    async with Client(make_app(factory), mode=mode, extensions=extensions) as client:  # type: ignore[arg-type]
        gate = await client.call_tool("get_gate", {"run_id": run_id})
        launched = await call(client, "launch_build", {"model": MISSING_MODEL})
    assert not gate.is_error and gate.structured_content == gate_view(factory, run_id).model_dump(mode="json",
                                                                                                  by_alias=True)
    assert "full_inference_passed" in result_text(gate)
    assert launched["run_id"] and launched["links"]["dashboard"] is None  # no public URL in tests
