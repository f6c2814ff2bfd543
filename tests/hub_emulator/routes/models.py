"""Models: read-only, served from the HF cache the tests build their tiny models into; public, unless
`HubRules.restricted_models` makes one gated or private (`model_access.py`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response

from space_factory.domain.safetensors_header import HEADER_PREFIX_BYTES, header_length, parse_safetensors_header
from tests.hub_emulator.answers import HubError
from tests.hub_emulator.model_access import check_access, info_fields
from tests.hub_emulator.state import Hub, HubState

router = APIRouter()


def _snapshot(hub: HubState, model_id: str) -> tuple[str, Path]:
    """The commit sha and snapshot folder of the model's `main`.

    Raises:
        HubError: 404 RepoNotFound when the cache does not hold the model.
    """
    repo = hub.models_cache / f"models--{model_id.replace('/', '--')}"
    try:
        sha = (repo / "refs" / "main").read_text().strip()
    except OSError:
        raise HubError(404, "Repository not found", "RepoNotFound") from None
    snap = repo / "snapshots" / sha
    if not snap.is_dir():
        raise HubError(404, "Repository not found", "RepoNotFound")
    return sha, snap


def _safetensors_parameters(snap: Path) -> dict[str, int]:
    params: dict[str, int] = {}
    for p in sorted(f for f in snap.rglob("*.safetensors") if f.is_file()):
        with p.open("rb") as fh:
            header = fh.read(header_length(fh.read(HEADER_PREFIX_BYTES)))
        for dtype, count in parse_safetensors_header(header).items():
            params[dtype] = params.get(dtype, 0) + count
    return params


@router.get("/api/models/{ns}/{name}")
@router.get("/api/models/{ns}/{name}/revision/{rev}")
def model_info(ns: str, name: str, request: Request, hub: Hub, rev: str = "main") -> Any:
    check_access(hub, request, f"{ns}/{name}", file=False)
    sha, snap = _snapshot(hub, f"{ns}/{name}")
    siblings = [{"rfilename": p.relative_to(snap).as_posix(), "size": p.stat().st_size}
                for p in sorted(snap.rglob("*")) if p.is_file()]
    params = _safetensors_parameters(snap)
    info: dict[str, Any] = {"id": f"{ns}/{name}", "sha": sha, **info_fields(hub, f"{ns}/{name}"),
                            "siblings": siblings, "tags": []}
    if params:
        info["safetensors"] = {"parameters": params, "total": sum(params.values())}
    return info


@router.head("/{ns}/{name}/resolve/{rev}/{path:path}")
@router.get("/{ns}/{name}/resolve/{rev}/{path:path}")
def model_resolve(ns: str, name: str, path: str, request: Request, hub: Hub) -> Any:
    check_access(hub, request, f"{ns}/{name}", file=True)
    sha, snap = _snapshot(hub, f"{ns}/{name}")
    target = snap / path
    if not target.is_file() or ".." in Path(path).parts:
        raise HubError(404, None, "EntryNotFound", headers={"X-Repo-Commit": sha})
    data = target.read_bytes()
    headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(data).hexdigest()}"', "Content-Length": str(len(data))}
    if request.method == "HEAD":
        return Response(headers=headers)
    return Response(data, headers=headers)
