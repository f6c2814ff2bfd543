"""Spaces: created through the repos API, committed to, run by the local backend's `LocalSpaceHost`, private
to their namespace (another user, or no token, gets 404 + `X-Error-Code: RepoNotFound`). `host` in space_info
is the local app's URL, or for a private Space its auth proxy's (`proxy.py`). The runtime, the hardware a Space
gets and the README check follow the Hub's rules (`rules.py`: `containers.py`, `plans.py`, `cards.py`)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from space_factory.domain.stages import SpaceStage
from tests.hub_emulator import containers, plans
from tests.hub_emulator.answers import HubError, event_stream
from tests.hub_emulator.cards import card_errors
from tests.hub_emulator.faults import BAD_REQUIREMENT
from tests.hub_emulator.routes.auth import Caller
from tests.hub_emulator.state import Hub, HubState

router = APIRouter()


def owned_space(ns: str, name: str, request: Request, hub: Hub) -> str:
    """The id of the caller's Space `ns/name`.

    Raises:
        HubError: 404 RepoNotFound for a missing Space, another user's, or a caller without a known token.
    """
    user = hub.user_of(request)
    space_id = f"{ns}/{name}"
    if user is None or user.name != ns or space_id not in hub.spaces:
        raise HubError(404, "Repository not found", "RepoNotFound")
    return space_id


SpaceId = Annotated[str, Depends(owned_space)]


def space_runtime_json(hub: HubState, space_id: str) -> dict[str, Any]:
    """The Space's runtime as `GET /api/spaces/{id}/runtime` answers it (`containers.runtime`)."""
    stage, message, _url = containers.runtime(hub, space_id)
    return {"stage": stage, "hardware": containers.hardware(hub, space_id, stage),
            "gcTimeout": None, "storage": None, "devMode": False,
            **({"errorMessage": message} if message and stage != SpaceStage.RUNNING else {})}


@router.post("/api/repos/create")
async def create_repo(request: Request, user: Caller, hub: Hub) -> Any:
    body = await request.json()
    ns = body.get("organization") or user.name
    space_id = f"{ns}/{body['name']}"
    if body.get("type") != "space":
        raise HubError(400, "the emulator creates only Spaces")
    if ns != user.name:
        raise HubError(403, "You cannot create a repo in this namespace")
    url = f"{hub.url}/spaces/{space_id}"
    requested = body.get("hardware") or "cpu-basic"
    with hub.lock:
        if space_id in hub.spaces:
            raise HubError(409, "You already created this space repo", url=url)
        hub.spaces[space_id] = {"hardware": plans.granted_hardware(hub, user, space_id, requested),
                                "requested": requested,
                                "private": body.get("visibility") == "private", "files": {}}
    hub.space_host.create(space_id, hardware=body.get("hardware"))
    return {"url": url}


@router.post("/api/validate-yaml")
async def validate_yaml(request: Request, hub: Hub) -> Any:
    body = await request.json()
    errors = card_errors(str(body.get("content") or ""), str(body.get("repoType") or "model")) \
        if hub.faults.rules.validate_yaml else []
    if errors:
        raise HubError(400, "Invalid metadata in README.md", errors=[{"message": e} for e in errors], warnings=[])
    return {"errors": [], "warnings": []}


@router.post("/api/spaces/{ns}/{name}/preupload/{rev}")
async def preupload(space_id: SpaceId, request: Request) -> Any:
    files = (await request.json()).get("files", [])
    return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                      for f in files]}


@router.post("/api/spaces/{ns}/{name}/commit/{rev}")
async def commit(ns: str, name: str, space_id: SpaceId, request: Request, hub: Hub) -> Any:
    """One commit: its files added, changed or deleted at once, on top of `parentCommit` when the header names one
    (the Hub's compare-and-swap: 412 "A commit has happened since" when the head moved); the Space rebuilds."""
    repo = hub.root / "repos" / ns / name
    ops = [json.loads(line) for line in (await request.body()).decode().splitlines() if line.strip()]
    header = next((op["value"] for op in ops if op.get("key") == "header"), {})
    with hub.lock:
        commits: list[dict[str, Any]] = hub.spaces[space_id].setdefault("commits", [])
        head = commits[-1]["oid"] if commits else None
        parent = header.get("parentCommit")
        if parent and parent != head:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        oid = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        commits.append({"oid": oid, "summary": header.get("summary"), "parent": head})
    for op in ops:
        value = op.get("value") or {}
        if op.get("key") == "file":
            target = repo / value["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(value["content"]))
        elif op.get("key") == "deletedFile":
            (repo / value["path"]).unlink(missing_ok=True)
    if hub.faults.space_build_error:
        reqs = repo / "requirements.txt"
        reqs.write_text((reqs.read_text() if reqs.exists() else "") + f"\n{BAD_REQUIREMENT}\n")
    containers.start_space(hub, space_id, repo)
    return {"commitOid": oid, "commitUrl": f"{hub.url}/spaces/{space_id}/commit/{oid}"}


@router.get("/api/spaces/{ns}/{name}")
def space_info(ns: str, name: str, space_id: SpaceId, hub: Hub) -> Any:
    _stage, _message, url = containers.runtime(hub, space_id)
    host = (url or "").rstrip("/") or None
    if host and hub.spaces[space_id]["private"] and hub.faults.rules.auth_proxy:
        host = hub.proxies.url_for(space_id, host, lambda token: getattr(hub.users.get(token), "name", None) == ns)
    commits = hub.spaces[space_id].get("commits") or []
    return {"id": space_id, "author": ns, "private": hub.spaces[space_id]["private"], "sdk": "gradio",
            "host": host, "subdomain": f"{ns}-{name}", "sha": commits[-1]["oid"] if commits else None,
            "runtime": space_runtime_json(hub, space_id), "siblings": [], "tags": []}


@router.get("/api/spaces/{ns}/{name}/runtime")
def space_runtime(space_id: SpaceId, hub: Hub) -> Any:
    return space_runtime_json(hub, space_id)


@router.post("/api/spaces/{ns}/{name}/hardware")
async def space_hardware(space_id: SpaceId, request: Request, user: Caller, hub: Hub) -> Any:
    flavor = (await request.json()).get("flavor")
    hub.spaces[space_id]["requested"] = flavor
    if flavor == plans.ZEROGPU:  # granted at once when a slot is left; a paid flavor waits for the user (local)
        hub.spaces[space_id]["hardware"] = plans.granted_hardware(hub, user, space_id, flavor)
    return space_runtime_json(hub, space_id)


@router.post("/api/spaces/{ns}/{name}/pause")
def space_pause(space_id: SpaceId, hub: Hub) -> Any:
    hub.space_host.stop(space_id)
    return space_runtime_json(hub, space_id)


@router.get("/api/spaces/{ns}/{name}/logs/{kind}")
def space_logs(kind: str, space_id: SpaceId, hub: Hub) -> Any:
    return event_stream(hub.space_host.logs(space_id, kind).splitlines())
