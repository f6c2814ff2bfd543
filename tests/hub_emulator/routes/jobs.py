"""Jobs: posted specs run by the emulator's `JobRunner` as local processes; listed, inspected, canceled and
their logs streamed, each by its owner only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tests.hub_emulator.answers import HubError, event_stream
from tests.hub_emulator.jobs import EmulatedJob
from tests.hub_emulator.log_streams import live_job_log
from tests.hub_emulator.routes.auth import Caller
from tests.hub_emulator.state import Hub

router = APIRouter()


def owned_job(ns: str, job_id: str, user: Caller, hub: Hub) -> EmulatedJob:
    """The caller's job `job_id` in namespace `ns`.

    Raises:
        HubError: 401 without a known token; 404 for a missing or another user's job.
    """
    job = hub.jobs.get(job_id)
    if job is None or job.owner != ns or user.name != ns:
        raise HubError(404, "Job not found")
    return job


Job = Annotated[EmulatedJob, Depends(owned_job)]


@router.post("/api/jobs/{ns}")
async def run_job(ns: str, request: Request, user: Caller, hub: Hub) -> Any:
    if user.name != ns:
        raise HubError(403, "You cannot run jobs in this namespace")
    if user.scopes is not None and "jobs" not in user.scopes:
        raise HubError(403, "This OAuth token was not granted the 'jobs' scope")
    if not user.can_pay:
        # The Hub has answered "no credits" both ways; the 403 is the one a client could misread (rules.py).
        status = hub.faults.rules.no_credits_status
        raise HubError(status, "You have no pre-paid credits left: add credits or a payment method to run Jobs"
                       if status == 403 else "Jobs need a PRO account or a payment method")
    spec = await request.json()
    job_id = uuid.uuid4().hex[:24]
    folder = hub.root / "jobs" / job_id
    folder.mkdir(parents=True)
    job = EmulatedJob(job_id, ns, spec, folder)
    hub.jobs[job_id] = job
    hub.runner.start(job)
    return job.info(hub.url)


@router.get("/api/jobs/{ns}")
def list_jobs(ns: str, request: Request, user: Caller, hub: Hub) -> Any:
    labels = [v.split("=", 1) for v in request.query_params.getlist("label")]
    return [j.info(hub.url) for j in hub.jobs.values() if j.owner == ns == user.name
            and all(j.spec.get("labels", {}).get(k) == v for k, v in labels)]


@router.get("/api/jobs/{ns}/{job_id}")
def inspect_job(job: Job, hub: Hub) -> Any:
    return job.info(hub.url)


@router.post("/api/jobs/{ns}/{job_id}/cancel")
def cancel_job(job: Job, hub: Hub) -> Any:
    hub.runner.cancel(job)
    return {}


@router.get("/api/jobs/{ns}/{job_id}/logs")
def job_logs(job: Job, hub: Hub) -> Any:
    log = job.folder / "job.log"
    if hub.faults.rules.stream_job_logs:
        return live_job_log(job, log)  # open while the job runs, as the Hub's stream is
    return event_stream(log.read_text(errors="replace").splitlines() if log.exists() else [])
