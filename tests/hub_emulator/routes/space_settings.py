"""A Space's secrets (hf-apis.md §3.2), and the owner's Spaces listed with their runtime (`list_spaces`).

Secret values are kept on the emulated Hub only and never answered: `GET` gives their names, as on the Hub.
The listing answers `GET /api/spaces?author=<ns>&expand=runtime`: the author's Spaces the caller may see (a
private one only to its owner), with the runtime a Space's own route answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tests.hub_emulator.answers import HubError
from tests.hub_emulator.routes.spaces import SpaceId, space_runtime_json
from tests.hub_emulator.state import Hub

router = APIRouter()


@router.post("/api/spaces/{ns}/{name}/secrets")
async def add_secret(space_id: SpaceId, request: Request, hub: Hub) -> Any:
    body = await request.json()
    key, value = body.get("key"), body.get("value")
    if not isinstance(key, str) or not isinstance(value, str):
        raise HubError(400, "a secret needs a key and a value")
    with hub.lock:
        hub.spaces[space_id].setdefault("secrets", {})[key] = value
    return {}


@router.get("/api/spaces/{ns}/{name}/secrets")
def list_secrets(space_id: SpaceId, hub: Hub) -> Any:
    return {key: {"description": None} for key in hub.spaces[space_id].get("secrets") or {}}


@router.delete("/api/spaces/{ns}/{name}/secrets")
async def delete_secret(space_id: SpaceId, request: Request, hub: Hub) -> Any:
    key = (await request.json()).get("key")
    with hub.lock:
        (hub.spaces[space_id].get("secrets") or {}).pop(key, None)
    return {}


@router.get("/api/spaces")
def list_spaces(request: Request, hub: Hub, author: str | None = None) -> Any:
    user = hub.user_of(request)
    out = []
    for space_id, meta in sorted(hub.spaces.items()):
        ns = space_id.partition("/")[0]
        if (author is not None and ns != author) or (meta.get("private") and (user is None or user.name != ns)):
            continue
        entry: dict[str, Any] = {"_id": f"id-{space_id}", "id": space_id, "author": ns,
                                 "private": bool(meta.get("private"))}
        if "runtime" in request.query_params.getlist("expand"):
            entry["runtime"] = space_runtime_json(hub, space_id)
        out.append(entry)
    return out
