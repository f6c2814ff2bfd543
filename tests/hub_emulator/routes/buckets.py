"""Buckets: private to their namespace (another user gets 404 + `X-Error-Code: RepoNotFound`, as on the Hub),
kept as directories. Uploads arrive through the fake xet session's side channel (`PUT /__fake_cas__/…`,
see `xet.py`) and are committed by `batch`."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tests.hub_emulator.answers import HubError
from tests.hub_emulator.jobs import iso_now
from tests.hub_emulator.routes.auth import Caller
from tests.hub_emulator.state import Hub

router = APIRouter()


def owned_bucket(ns: str, name: str, user: Caller, hub: Hub) -> Path:
    """The folder of the caller's bucket `ns/name`.

    Raises:
        HubError: 401 without a known token; 404 RepoNotFound for a missing or another user's bucket.
    """
    folder = hub.bucket_dir(ns, name)
    if user.name != ns or not folder.is_dir():
        raise HubError(404, "Bucket not found", "RepoNotFound")
    return folder


Bucket = Annotated[Path, Depends(owned_bucket)]


def _file_entry(path: Path, rel: str) -> dict[str, Any]:
    data = path.read_bytes()
    return {"type": "file", "path": rel, "size": len(data), "xetHash": hashlib.sha256(b"xet" + data).hexdigest(),
            "mtime": iso_now(), "uploadedAt": iso_now()}


@router.put("/__fake_cas__/{digest}")
async def cas_put(digest: str, request: Request, hub: Hub) -> Any:
    (hub.root / "cas").mkdir(parents=True, exist_ok=True)
    (hub.root / "cas" / digest).write_bytes(await request.body())
    return {}


@router.post("/api/buckets/{ns}/{name}")
def create_bucket(ns: str, name: str, user: Caller, hub: Hub) -> Any:
    if user.name != ns:
        raise HubError(403, "You cannot create a bucket in this namespace")
    url = f"{hub.url}/buckets/{ns}/{name}"
    folder = hub.bucket_dir(ns, name)
    if folder.is_dir():
        raise HubError(409, "Bucket already exists", url=url)
    folder.mkdir(parents=True)
    return {"url": url}


@router.get("/api/buckets/{ns}/{name}")
def bucket_info(ns: str, name: str, folder: Bucket) -> Any:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {"id": f"{ns}/{name}", "private": True, "createdAt": iso_now(),
            "size": sum(p.stat().st_size for p in files), "totalFiles": len(files)}


@router.get("/api/buckets/{ns}/{name}/xet-write-token")
@router.get("/api/buckets/{ns}/{name}/xet-read-token")
def xet_token(folder: Bucket, hub: Hub) -> Any:
    return Response(headers={"X-Xet-Cas-Url": f"{hub.url}/__fake_cas__", "X-Xet-Access-Token": "xet",
                             "X-Xet-Token-Expiration": str(int(time.time()) + 3600)})


@router.get("/api/buckets/{ns}/{name}/tree")
@router.get("/api/buckets/{ns}/{name}/tree/{prefix:path}")
def bucket_tree(folder: Bucket, hub: Hub, prefix: str = "", recursive: str = "false") -> Any:
    base = folder / prefix.strip("/") if prefix.strip("/") else folder
    bases = [base]
    if hub.faults.rules.lexical_tree and base != folder and base.parent.is_dir():
        # The Hub matches the prefix lexically (rules.py): "runs/dat" also lists "runs/data/…".
        bases = sorted(d for d in base.parent.iterdir() if d.is_dir() and d.name.startswith(base.name))
    if not any(b.is_dir() for b in bases):
        raise hub.faults.objects.missing("Folder not found")  # the Hub's 404 (ranges.py), not []
    walk = [p for b in bases if b.is_dir() for p in (b.rglob("*") if recursive == "true" else b.iterdir())]
    out = []
    for p in sorted(walk):
        rel = p.relative_to(folder).as_posix()
        out.append(_file_entry(p, rel) if p.is_file() else {"type": "directory", "path": rel, "uploadedAt": iso_now()})
    return out


@router.post("/api/buckets/{ns}/{name}/paths-info")
async def paths_info(folder: Bucket, request: Request) -> Any:
    paths = (await request.json()).get("paths", [])
    return [_file_entry(folder / p, p) for p in paths if (folder / p).is_file()]


@router.post("/api/buckets/{ns}/{name}/batch")
async def batch(folder: Bucket, request: Request, hub: Hub) -> Any:
    failed = []
    for line in (await request.body()).decode().splitlines():
        if not line.strip():
            continue
        op = json.loads(line)
        target = folder / op["path"]
        if ".." in Path(op["path"]).parts:
            failed.append({"path": op["path"], "error": "invalid path"})
        elif op["type"] == "addFile":
            blob = hub.root / "cas" / op["xetHash"]
            if not blob.is_file():
                failed.append({"path": op["path"], "error": "unknown xet hash"})
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            shutil.copyfile(blob, tmp)
            tmp.replace(target)
        elif op["type"] == "deleteFile":
            target.unlink(missing_ok=True)
    return JSONResponse({"failed": failed}, status_code=422 if failed else 200)


@router.head("/buckets/{ns}/{name}/resolve/{path:path}")
@router.get("/buckets/{ns}/{name}/resolve/{path:path}")
def bucket_resolve(path: str, folder: Bucket, request: Request, hub: Hub) -> Any:
    target = folder / path
    if not target.is_file():
        raise hub.faults.objects.missing()  # with or without X-Error-Code (ranges.py)
    data = target.read_bytes()
    return hub.faults.objects.answer(data, request.headers.get("range"),
                                     {"X-Xet-Hash": hashlib.sha256(b"xet" + data).hexdigest()})
