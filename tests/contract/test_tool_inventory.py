"""The tool list is a contract (STYLE R11; DESIGN §7): each tool's JSON is snapshotted in tests/contract/tools/,
and invariants hold for the whole inventory, in both protocol eras.

Regenerate after an intended change with `UPDATE_TOOLSNAPS=1 pytest tests/contract`, and commit the
snapshots with the change. A missing snapshot fails: it must be reviewed like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool

from space_factory.service import Factory
from tests.tools.helpers import MODES, make_app

pytestmark = pytest.mark.anyio

SNAP_DIR = Path(__file__).parent / "tools"
UPDATE = os.environ.get("UPDATE_TOOLSNAPS", "").lower() in ("1", "true", "yes")
FIXED_NAMES = {"launch_build", "get_run_status", "get_gate", "request_hardware", "fetch_trace_redacted",
               "analyze_model", "validate_space", "list_runs", "cancel_run", "get_app_files",
               "revise_build"}  # DESIGN §7
FIXED_PARAMS = {  # the parameters DESIGN §7 / issue 3 name, per tool
    "launch_build": {"model", "mode", "hardware", "allow_paid_fallback", "space_name", "idempotency_key",
                     "wait_seconds"},
    "get_run_status": {"run_id", "since_seq"},
    "get_gate": {"run_id"},
    "request_hardware": {"run_id", "flavor"},
    "fetch_trace_redacted": {"run_id", "kind", "cursor", "max_bytes"},
    "analyze_model": {"model"},
    "validate_space": {"space", "task"},
    "cancel_run": {"run_id"},
    "get_app_files": {"run_id", "path"},
    "revise_build": {"run_id", "files", "remove", "note", "wait_seconds"},
}
HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")


def snapshot_of(tool: Tool) -> dict[str, Any]:
    wire = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
    keep = ("name", "title", "description", "inputSchema", "outputSchema", "annotations", "_meta")
    return {key: wire[key] for key in keep if key in wire}


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def list_tools(factory: Factory, mode: str) -> list[Tool]:
    async with Client(make_app(factory), mode=mode) as client:  # type: ignore[arg-type]
        return list((await client.list_tools()).tools)


async def test_every_tool_matches_its_committed_snapshot(factory: Factory, mode: str) -> None:
    tools = await list_tools(factory, mode)
    assert {t.name for t in tools} == FIXED_NAMES
    SNAP_DIR.mkdir(exist_ok=True)
    for tool in tools:
        path = SNAP_DIR / f"{tool.name}.json"
        current = dumps(snapshot_of(tool))
        if UPDATE:
            path.write_text(current)
            continue
        assert path.exists(), f"missing snapshot {path}; run UPDATE_TOOLSNAPS=1 pytest tests/contract and commit it"
        assert path.read_text() == current, f"{tool.name} changed; if intended, UPDATE_TOOLSNAPS=1 and commit"


def test_no_snapshot_is_left_for_a_tool_that_is_gone() -> None:
    assert {p.stem for p in SNAP_DIR.glob("*.json")} <= FIXED_NAMES


async def test_both_eras_list_the_same_tools(factory: Factory) -> None:
    eras = [[snapshot_of(t) for t in sorted(await list_tools(factory, mode), key=lambda t: t.name)] for mode in MODES]
    assert eras[0] == eras[1]


async def test_every_tool_has_a_title_all_four_hints_and_an_output_schema(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        wire = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
        assert wire.get("title"), tool.name
        assert set(HINTS) <= set(wire.get("annotations", {})), (tool.name, wire.get("annotations"))
        assert wire.get("outputSchema", {}).get("type") == "object", tool.name
        assert wire.get("description") and "\n" in wire["description"], tool.name  # what it does, then what next


async def test_no_schema_has_a_top_level_combinator_and_every_input_is_described(client: Client) -> None:
    """Some providers reject a whole tools/list when an input schema starts with anyOf/oneOf/allOf."""
    for tool in (await client.list_tools()).tools:
        for schema in (tool.input_schema, tool.output_schema or {}):
            assert not {"anyOf", "oneOf", "allOf"} & set(schema), tool.name
        assert tool.input_schema["type"] == "object"
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"


async def test_the_fixed_parameters_are_there(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name, params in FIXED_PARAMS.items():
        assert params <= set(tools[name].input_schema["properties"]), name


async def test_annotations_tell_the_truth(client: Client) -> None:
    """Readers are read-only and idempotent; only cancel_run is destructive; launching is not idempotent (§7)."""
    ann = {t.name: t.annotations for t in (await client.list_tools()).tools}
    for name in ("get_run_status", "get_gate", "fetch_trace_redacted", "list_runs", "analyze_model", "get_app_files"):
        assert ann[name].read_only_hint is True and ann[name].idempotent_hint is True, name  # type: ignore[union-attr]
    assert [n for n, a in ann.items() if a.destructive_hint] == ["cancel_run"]  # type: ignore[union-attr]
    for name in ("launch_build", "validate_space", "request_hardware", "revise_build"):
        assert ann[name].read_only_hint is False and ann[name].open_world_hint is True, name  # type: ignore[union-attr]
    assert ann["launch_build"].idempotent_hint is False  # type: ignore[union-attr]
    assert ann["revise_build"].idempotent_hint is False  # type: ignore[union-attr]  # each call is a new revision
