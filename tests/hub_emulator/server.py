"""A loopback Hugging Face Hub for tests: the routes hf-apis.md §7 lists, for the calls the hf backend makes.

- Users: whoami by token, one namespace each (`isPro` / `canPay` per user). Buckets and Spaces are
  private to their namespace: another user gets 404 + `X-Error-Code: RepoNotFound`, as on the Hub.
- Buckets: plain directories (so a job's bucket volume is that directory, read-write); xet uploads
  arrive through the fake session's side channel (`xet.py`).
- Jobs: run by `jobs.JobRunner` as local processes.
- Spaces: run with the local backend's `LocalSpaceHost`; `host` in space_info is the local app URL.
- Models: served read-only from an HF cache directory (the tiny models the tests build).
- Faults: `fail(method, path_regex, status, times)` answers `status` on matching requests N times.
- Every request is logged (`requests`) with its method, path, the user and the body, for assertions.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from space_factory.backends.local.spaces import LocalSpaceHost, factory_env
from space_factory.domain.safetensors_header import HEADER_PREFIX_BYTES, header_length, parse_safetensors_header
from tests.hub_emulator.jobs import EmulatedJob, JobRunner, iso_now

BAD_REQUIREMENT = "space-factory-emulator-missing-package==0.0.0"
RUN_LABEL = "space-factory-run"  # the label the hf backend puts the run id in (job faults target one run)


@dataclass
class User:
    name: str
    token: str
    is_pro: bool = True
    can_pay: bool = True


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    hits: int = 0


@dataclass
class Logged:
    method: str
    path: str
    user: str | None
    body: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def _err(status: int, message: str, code: str | None = None, **extra: Any) -> JSONResponse:
    headers = {"X-Error-Code": code} if code else {}
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sse(lines: list[str]) -> StreamingResponse:
    # Timestamps in the past: the client drops events stamped after the response's Date (hf-apis.md §1.4).
    stamp = "2026-01-01T00:00:00.000Z"
    body = "".join(f"data: {json.dumps({'data': line, 'timestamp': stamp})}\n\n" for line in lines)
    return StreamingResponse(iter([body.encode()]), media_type="text/event-stream")


class HubEmulator:
    """Start with `start()`, stop with `stop()`; `url` is the HF_ENDPOINT to use."""

    def __init__(self, root: Path, models_cache: Path, users: list[User]) -> None:
        self.root = root
        self.models_cache = models_cache
        self.users = {u.token: u for u in users}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Logged] = []
        self.faults: list[Fault] = []
        self.jobs: dict[str, EmulatedJob] = {}
        self.job_faults: dict[str, str] = {}  # events.jsonl substring → error message to kill the job with
        self.space_build_error = False
        self.spaces: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        space_env = factory_env()
        space_env.update({"HF_HUB_OFFLINE": "1", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        space_env.pop("HF_ENDPOINT", None)
        self.space_host = LocalSpaceHost(root / "spaces", root / "venvs", space_env)
        self.runner = JobRunner(self.url, root / "jobs", self._volume_dir, self._job_fault)
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None

    # -- control -------------------------------------------------------------------------------

    def start(self) -> HubEmulator:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", date_header=False)
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True, name="hub-emulator").start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the Hub emulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.runner.stop_all(list(self.jobs.values()))
        for space_id in list(self.spaces):
            self.space_host.stop(space_id)
        if self._server is not None:
            self._server.should_exit = True

    def fail(self, method: str, path_regex: str, status: int, times: int = 1) -> Fault:
        fault = Fault(method.upper(), re.compile(path_regex), status, times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
        self.job_faults.clear()
        self.space_build_error = False

    def hub_requests(self) -> list[Logged]:
        """The logged requests a Hub client made (the xet side channel excluded)."""
        with self._lock:
            return [r for r in self.requests if not r.path.startswith("/__fake_cas__")]

    # -- helpers -------------------------------------------------------------------------------

    def _user(self, request: Request) -> User | None:
        auth = request.headers.get("authorization", "")
        return self.users.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None

    def _bucket_dir(self, ns: str, name: str) -> Path:
        return self.root / "buckets" / ns / name

    def _volume_dir(self, owner: str, volume: dict[str, Any]) -> Path:
        if volume.get("type") != "bucket":
            raise PermissionError(f"the emulator mounts only buckets, not {volume.get('type')}")
        ns, _, name = str(volume["source"]).partition("/")
        folder = self._bucket_dir(ns, name)
        if ns != owner or not folder.is_dir():
            raise PermissionError(f"bucket {volume['source']} is not accessible to {owner}")
        return folder / volume["path"] if volume.get("path") else folder

    def _job_fault(self, job: EmulatedJob) -> str | None:
        """The error to end `job` with, once its own run's events contain a `job_faults` needle."""
        run_id = (job.spec.get("labels") or {}).get(RUN_LABEL)
        if not run_id:
            return None
        for needle, message in self.job_faults.items():
            for vol in job.spec.get("volumes") or []:
                ns, _, name = str(vol["source"]).partition("/")
                events = self._bucket_dir(ns, name) / "runs" / run_id / "events.jsonl"
                if events.is_file() and needle in events.read_text(errors="replace"):
                    return message
        return None

    @staticmethod
    def _file_entry(path: Path, rel: str) -> dict[str, Any]:
        data = path.read_bytes()
        return {"type": "file", "path": rel, "size": len(data), "xetHash": hashlib.sha256(b"xet" + data).hexdigest(),
                "mtime": iso_now(), "uploadedAt": iso_now()}

    def _space_runtime(self, space_id: str) -> dict[str, Any]:
        rt = self.space_host.runtime(space_id)
        meta = self.spaces[space_id]
        return {"stage": rt.stage, "hardware": {"current": meta["hardware"], "requested": meta["requested"]},
                "gcTimeout": None, "storage": None, "devMode": False,
                **({"errorMessage": rt.message} if rt.message and rt.stage != "RUNNING" else {})}

    def _model_snapshot(self, model_id: str) -> tuple[str, Path] | None:
        repo = self.models_cache / f"models--{model_id.replace('/', '--')}"
        try:
            sha = (repo / "refs" / "main").read_text().strip()
        except OSError:
            return None
        snap = repo / "snapshots" / sha
        return (sha, snap) if snap.is_dir() else None

    # -- the app -------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        emu = self

        @app.middleware("http")
        async def log_and_faults(request: Request, call_next: Any) -> Response:
            body = await request.body()
            user = emu._user(request)
            entry = Logged(request.method, request.url.path, user.name if user else None, body,
                           headers={k.lower(): v for k, v in request.headers.items()})
            with emu._lock:
                emu.requests.append(entry)
                fault = next((f for f in emu.faults if f.method in (request.method, "*") and f.hits < f.times
                              and f.pattern.search(request.url.path)), None)
                if fault is not None:
                    fault.hits += 1
            if fault is not None:
                response: Response = JSONResponse({"error": f"emulated fault {fault.status}"},
                                                  status_code=fault.status,
                                                  headers={"Retry-After": "0"} if fault.status == 429 else {})
            else:
                response = await call_next(request)
            entry.status = response.status_code
            response.headers["Date"] = email.utils.formatdate(usegmt=True)  # exact, for SSE cut-offs (§1.4)
            return response

        def need_user(request: Request) -> User | JSONResponse:
            user = emu._user(request)
            if user is None:
                return _err(401, "Invalid credentials in Authorization header")
            return user

        # -- auth & misc ----------------------------------------------------------------------

        @app.get("/api/whoami-v2")
        def whoami(request: Request) -> Any:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            return {"type": "user", "id": f"id-{user.name}", "name": user.name, "fullname": user.name,
                    "isPro": user.is_pro, "canPay": user.can_pay, "orgs": [],
                    "auth": {"type": "access_token", "accessToken": {"displayName": "t", "role": "write"}}}

        @app.get("/api/agent-harnesses")
        def harnesses() -> Any:
            return {"standardEnvVars": [], "harnesses": {}}

        @app.put("/__fake_cas__/{digest}")
        async def cas_put(digest: str, request: Request) -> Any:
            (emu.root / "cas").mkdir(parents=True, exist_ok=True)
            (emu.root / "cas" / digest).write_bytes(await request.body())
            return {}

        # -- buckets --------------------------------------------------------------------------

        def bucket_or_error(request: Request, ns: str, name: str) -> Path | JSONResponse:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            folder = emu._bucket_dir(ns, name)
            if user.name != ns or not folder.is_dir():
                return _err(404, "Bucket not found", "RepoNotFound")
            return folder

        @app.post("/api/buckets/{ns}/{name}")
        def create_bucket(ns: str, name: str, request: Request) -> Any:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            if user.name != ns:
                return _err(403, "You cannot create a bucket in this namespace")
            url = f"{emu.url}/buckets/{ns}/{name}"
            folder = emu._bucket_dir(ns, name)
            if folder.is_dir():
                return JSONResponse({"error": "Bucket already exists", "url": url}, status_code=409)
            folder.mkdir(parents=True)
            return {"url": url}

        @app.get("/api/buckets/{ns}/{name}")
        def bucket_info(ns: str, name: str, request: Request) -> Any:
            folder = bucket_or_error(request, ns, name)
            if isinstance(folder, JSONResponse):
                return folder
            files = [p for p in folder.rglob("*") if p.is_file()]
            return {"id": f"{ns}/{name}", "private": True, "createdAt": iso_now(),
                    "size": sum(p.stat().st_size for p in files), "totalFiles": len(files)}

        @app.get("/api/buckets/{ns}/{name}/xet-write-token")
        @app.get("/api/buckets/{ns}/{name}/xet-read-token")
        def xet_token(ns: str, name: str, request: Request) -> Any:
            folder = bucket_or_error(request, ns, name)
            if isinstance(folder, JSONResponse):
                return folder
            return Response(headers={"X-Xet-Cas-Url": f"{emu.url}/__fake_cas__", "X-Xet-Access-Token": "xet",
                                     "X-Xet-Token-Expiration": str(int(time.time()) + 3600)})

        @app.get("/api/buckets/{ns}/{name}/tree")
        @app.get("/api/buckets/{ns}/{name}/tree/{prefix:path}")
        def bucket_tree(ns: str, name: str, request: Request, prefix: str = "", recursive: str = "false") -> Any:
            folder = bucket_or_error(request, ns, name)
            if isinstance(folder, JSONResponse):
                return folder
            base = folder / prefix.strip("/") if prefix.strip("/") else folder
            if not base.is_dir():
                return []
            walk = base.rglob("*") if recursive == "true" else base.iterdir()
            out = []
            for p in sorted(walk):
                rel = p.relative_to(folder).as_posix()
                out.append(emu._file_entry(p, rel) if p.is_file() else {"type": "directory", "path": rel,
                                                                          "uploadedAt": iso_now()})
            return out

        @app.post("/api/buckets/{ns}/{name}/paths-info")
        async def paths_info(ns: str, name: str, request: Request) -> Any:
            folder = bucket_or_error(request, ns, name)
            if isinstance(folder, JSONResponse):
                return folder
            paths = (await request.json()).get("paths", [])
            return [emu._file_entry(folder / p, p) for p in paths if (folder / p).is_file()]

        @app.post("/api/buckets/{ns}/{name}/batch")
        async def batch(ns: str, name: str, request: Request) -> Any:
            folder = bucket_or_error(request, ns, name)
            if isinstance(folder, JSONResponse):
                return folder
            failed = []
            for line in (await request.body()).decode().splitlines():
                if not line.strip():
                    continue
                op = json.loads(line)
                target = folder / op["path"]
                if ".." in Path(op["path"]).parts:
                    failed.append({"path": op["path"], "error": "invalid path"})
                elif op["type"] == "addFile":
                    blob = emu.root / "cas" / op["xetHash"]
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

        @app.head("/buckets/{ns}/{name}/resolve/{path:path}")
        @app.get("/buckets/{ns}/{name}/resolve/{path:path}")
        def bucket_resolve(ns: str, name: str, path: str, request: Request) -> Any:
            folder = bucket_or_error(request, ns, name)
            if isinstance(folder, JSONResponse):
                return folder
            target = folder / path
            if not target.is_file():
                return _err(404, "Entry not found", "EntryNotFound")
            data = target.read_bytes()
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("range", ""))
            if match:
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else len(data) - 1
                if start >= len(data):
                    return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
                return Response(data[start:end + 1], status_code=206,
                                headers={"Content-Range": f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"})
            return Response(data, headers={"X-Xet-Hash": hashlib.sha256(b"xet" + data).hexdigest()})

        # -- jobs -----------------------------------------------------------------------------

        def job_or_error(request: Request, ns: str, job_id: str) -> EmulatedJob | JSONResponse:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            job = emu.jobs.get(job_id)
            if job is None or job.owner != ns or user.name != ns:
                return _err(404, "Job not found")
            return job

        @app.post("/api/jobs/{ns}")
        async def run_job(ns: str, request: Request) -> Any:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            if user.name != ns:
                return _err(403, "You cannot run jobs in this namespace")
            if not user.can_pay:
                return _err(402, "Jobs need a PRO account or a payment method")
            spec = await request.json()
            job_id = uuid.uuid4().hex[:24]
            folder = emu.root / "jobs" / job_id
            folder.mkdir(parents=True)
            job = EmulatedJob(job_id, ns, spec, folder)
            emu.jobs[job_id] = job
            emu.runner.start(job)
            return job.info(emu.url)

        @app.get("/api/jobs/{ns}")
        def list_jobs(ns: str, request: Request) -> Any:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            labels = [v.split("=", 1) for v in request.query_params.getlist("label")]
            out = [j.info(emu.url) for j in emu.jobs.values() if j.owner == ns == user.name
                   and all(j.spec.get("labels", {}).get(k) == v for k, v in labels)]
            return out

        @app.get("/api/jobs/{ns}/{job_id}")
        def inspect_job(ns: str, job_id: str, request: Request) -> Any:
            job = job_or_error(request, ns, job_id)
            return job if isinstance(job, JSONResponse) else job.info(emu.url)

        @app.post("/api/jobs/{ns}/{job_id}/cancel")
        def cancel_job(ns: str, job_id: str, request: Request) -> Any:
            job = job_or_error(request, ns, job_id)
            if isinstance(job, JSONResponse):
                return job
            emu.runner.cancel(job)
            return {}

        @app.get("/api/jobs/{ns}/{job_id}/logs")
        def job_logs(ns: str, job_id: str, request: Request) -> Any:
            job = job_or_error(request, ns, job_id)
            if isinstance(job, JSONResponse):
                return job
            log = job.folder / "job.log"
            return _sse(log.read_text(errors="replace").splitlines() if log.exists() else [])

        # -- repos and Spaces -----------------------------------------------------------------

        def space_or_error(request: Request, ns: str, name: str) -> str | JSONResponse:
            user = need_user(request)
            space_id = f"{ns}/{name}"
            if isinstance(user, JSONResponse) or user.name != ns or space_id not in emu.spaces:
                return _err(404, "Repository not found", "RepoNotFound")
            return space_id

        @app.post("/api/repos/create")
        async def create_repo(request: Request) -> Any:
            user = need_user(request)
            if isinstance(user, JSONResponse):
                return user
            body = await request.json()
            ns = body.get("organization") or user.name
            space_id = f"{ns}/{body['name']}"
            if body.get("type") != "space":
                return _err(400, "the emulator creates only Spaces")
            if ns != user.name:
                return _err(403, "You cannot create a repo in this namespace")
            url = f"{emu.url}/spaces/{space_id}"
            with emu._lock:
                if space_id in emu.spaces:
                    return JSONResponse({"error": "You already created this space repo", "url": url}, 409)
                emu.spaces[space_id] = {"hardware": body.get("hardware") or "cpu-basic",
                                        "requested": body.get("hardware") or "cpu-basic",
                                        "private": body.get("visibility") == "private", "files": {}}
            emu.space_host.create(space_id, hardware=body.get("hardware"))
            return {"url": url}

        @app.post("/api/validate-yaml")
        def validate_yaml() -> Any:
            return {"errors": [], "warnings": []}

        @app.post("/api/spaces/{ns}/{name}/preupload/{rev}")
        async def preupload(ns: str, name: str, rev: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            if isinstance(space_id, JSONResponse):
                return space_id
            files = (await request.json()).get("files", [])
            return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                              for f in files]}

        @app.post("/api/spaces/{ns}/{name}/commit/{rev}")
        async def commit(ns: str, name: str, rev: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            if isinstance(space_id, JSONResponse):
                return space_id
            import base64

            repo = emu.root / "repos" / ns / name
            for line in (await request.body()).decode().splitlines():
                op = json.loads(line) if line.strip() else {}
                if op.get("key") == "file":
                    value = op["value"]
                    target = repo / value["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(base64.b64decode(value["content"]))
            if emu.space_build_error:
                reqs = repo / "requirements.txt"
                reqs.write_text((reqs.read_text() if reqs.exists() else "") + f"\n{BAD_REQUIREMENT}\n")
            emu.space_host.upload(space_id, repo, run_id="hub-emulator")
            oid = uuid.uuid4().hex + uuid.uuid4().hex[:8]
            return {"commitOid": oid, "commitUrl": f"{emu.url}/spaces/{space_id}/commit/{oid}"}

        @app.get("/api/spaces/{ns}/{name}")
        def space_info(ns: str, name: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            if isinstance(space_id, JSONResponse):
                return space_id
            rt = emu.space_host.runtime(space_id)
            return {"id": space_id, "author": ns, "private": emu.spaces[space_id]["private"], "sdk": "gradio",
                    "host": (rt.url or "").rstrip("/") or None, "subdomain": f"{ns}-{name}",
                    "runtime": emu._space_runtime(space_id), "siblings": [], "tags": []}

        @app.get("/api/spaces/{ns}/{name}/runtime")
        def space_runtime(ns: str, name: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            return space_id if isinstance(space_id, JSONResponse) else emu._space_runtime(space_id)

        @app.post("/api/spaces/{ns}/{name}/hardware")
        async def space_hardware(ns: str, name: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            if isinstance(space_id, JSONResponse):
                return space_id
            emu.spaces[space_id]["requested"] = (await request.json()).get("flavor")
            return emu._space_runtime(space_id)

        @app.post("/api/spaces/{ns}/{name}/pause")
        def space_pause(ns: str, name: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            if isinstance(space_id, JSONResponse):
                return space_id
            emu.space_host.stop(space_id)
            return emu._space_runtime(space_id)

        @app.get("/api/spaces/{ns}/{name}/logs/{kind}")
        def space_logs(ns: str, name: str, kind: str, request: Request) -> Any:
            space_id = space_or_error(request, ns, name)
            if isinstance(space_id, JSONResponse):
                return space_id
            return _sse(emu.space_host.logs(space_id, kind).splitlines())

        # -- models (public, read-only, from the cache) ---------------------------------------

        @app.get("/api/models/{ns}/{name}")
        @app.get("/api/models/{ns}/{name}/revision/{rev}")
        def model_info(ns: str, name: str, rev: str = "main") -> Any:
            found = emu._model_snapshot(f"{ns}/{name}")
            if found is None:
                return _err(404, "Repository not found", "RepoNotFound")
            sha, snap = found
            siblings, params = [], {}
            for p in sorted(snap.rglob("*")):
                if p.is_file():
                    siblings.append({"rfilename": p.relative_to(snap).as_posix(), "size": p.stat().st_size})
                    if p.suffix == ".safetensors":
                        with p.open("rb") as fh:
                            header = fh.read(header_length(fh.read(HEADER_PREFIX_BYTES)))
                        for dtype, count in parse_safetensors_header(header).items():
                            params[dtype] = params.get(dtype, 0) + count
            info: dict[str, Any] = {"id": f"{ns}/{name}", "sha": sha, "private": False, "gated": False,
                                    "siblings": siblings, "tags": []}
            if params:
                info["safetensors"] = {"parameters": params, "total": sum(params.values())}
            return info

        @app.head("/{ns}/{name}/resolve/{rev}/{path:path}")
        @app.get("/{ns}/{name}/resolve/{rev}/{path:path}")
        def model_resolve(ns: str, name: str, rev: str, path: str, request: Request) -> Any:
            found = emu._model_snapshot(f"{ns}/{name}")
            if found is None:
                return _err(404, "Repository not found", "RepoNotFound")
            sha, snap = found
            target = snap / path
            if not target.is_file() or ".." in Path(path).parts:
                return Response(status_code=404, headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
            data = target.read_bytes()
            headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                       "Content-Length": str(len(data))}
            if request.method == "HEAD":
                return Response(headers=headers)
            return Response(data, headers=headers)

        @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
        def unknown(rest: str) -> Any:
            return _err(404, f"the Hub emulator does not implement /{rest}")

        return app
