"""Result models that exist only at the MCP boundary (the service's own live in `domain/views.py`).

Each carries `next_step`: one sentence telling the agent which tool to call next, so a model that
reads only the last result still knows how to go on.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field

from space_factory.domain.gate_status import GateStatus
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import AgentName, AttemptRecord, Gate, RunState
from space_factory.domain.views import AppFilesView

__all__ = ["DASHBOARD_META", "DASHBOARD_URI", "PUBLIC_URL_ENV", "AppFilesAnswer", "CancelView", "GateView",
           "HardwareView", "LaunchView", "RunLinks", "run_links"]

# The run dashboard as an MCP App (server/dashboard_app.py registers the resource): the tools whose results it
# renders carry this `_meta` (MCP Apps: `_meta.ui.resourceUri`); clients without Apps ignore it.
DASHBOARD_URI = "ui://space-factory/dashboard"
DASHBOARD_META: dict[str, Any] = {"ui": {"resourceUri": DASHBOARD_URI}}
# The HTTP server's public base URL (server/run.py reads it too); the dashboard link is given only when it is set.
PUBLIC_URL_ENV = "SPACE_FACTORY_PUBLIC_URL"


class RunLinks(BaseModel):
    """Where to read the run: MCP resources, and the Space and job once they exist."""

    state: str = Field(description="MCP resource with the run's state.json.")
    gate: str = Field(description="MCP resource with the run's inference_gate.json (once finished).")
    report: str = Field(description="MCP resource with the run's report.md (once finished).")
    space_url: str | None = Field(None, description="The Space's app URL, once created.")
    job_url: str | None = Field(None, description="The job's page, where the backend has one.")
    dashboard: str | None = Field(None, description="The run's page on the server's web dashboard (a person opens "
                                                    "it and pastes their token); null when no public URL is set.")


def _dashboard_url(run_id: str) -> str | None:
    """`<public URL>/runs/<run_id>` when the operator set the HTTP server's public URL, else None.

    Only an explicit http(s) URL: stdio has no web page, and a guessed host could name a server that is not there.
    """
    public = os.environ.get(PUBLIC_URL_ENV, "").strip().rstrip("/")
    return f"{public}/runs/{run_id}" if public.startswith(("http://", "https://")) else None


def run_links(state: RunState) -> RunLinks:
    base = f"factory://runs/{state.run_id}"
    return RunLinks(state=f"{base}/state.json", gate=f"{base}/inference_gate.json", report=f"{base}/report.md",
                    space_url=state.space.url, job_url=state.job.url, dashboard=_dashboard_url(state.run_id))


class LaunchView(BaseModel):
    """A run just started (or found again by its idempotency key), and how far it got while the call waited."""

    run_id: str = Field(description="Pass this to every other tool.")
    status: RunStatus
    phase: Phase
    terminal: bool = Field(description="True once the run is finished, failed or canceled.")
    gate_status: GateStatus | None = Field(None, description="The gate's verdict, once the run is finished.")
    next_poll_seconds: float | None = Field(description="Seconds to wait before get_run_status; null if terminal.")
    waited_seconds: float = Field(description="How long this call followed the run.")
    state: RunState
    links: RunLinks
    next_step: str


class GateView(BaseModel):
    """A run's gate when it has one; otherwise where the run is, as a result rather than an error."""

    run_id: str
    revision: int = Field(1, description="The run's revision: 1 for a first build, n+1 for a revision (revise_build).")
    parent_run_id: str | None = Field(None, description="The run this revision was made from, else null.")
    ready: bool = Field(description="True when `gate` holds the run's verdict.")
    status: RunStatus
    phase: Phase
    gate_status: GateStatus | None = None
    gate: Gate | None = Field(None, description="Checks, evidence, blockers and how_to_call; null until ready. "
                                                "Blockers with source 'agent' are the ones the coding agent declared.")
    agent: AgentName = Field(description="The coding-agent choice the run was launched with.")
    attempts: list[AttemptRecord] = Field(
        default_factory=list, description="The coding agent's attempts so far, in order, each with how it ended and "
                                          "the gate it led to; empty when no agent ran. The last one's gate is the "
                                          "run's. Their traces: fetch_trace_redacted(run_id, 'agent').")
    message: str
    next_poll_seconds: float | None = Field(None, description="When not ready and still running: poll again after.")


class CancelView(BaseModel):
    run_id: str
    canceled: bool = Field(description="True if this call stopped the run; false if it had already ended.")
    status: RunStatus
    state: RunState
    next_step: str


CostConfirmation = Literal["not_needed", "confirm_cost", "user_confirmed", "user_declined", "user_canceled"]


class HardwareView(BaseModel):
    """The outcome of a hardware request, or why none was made (the user declined the cost)."""

    run_id: str
    flavor: str
    requested: bool = Field(description="False when nothing was asked of the backend (the user declined).")
    outcome: HardwareOutcome | None = Field(None, description="The backend's answer; null when not requested.")
    detail: str
    hourly_cost_usd: float | None = None
    cost_confirmation: CostConfirmation = Field(
        description="How the cost was settled: not_needed (free flavor or not billed on this backend), confirm_cost "
                    "(the caller passed confirm_cost=true), or the user's answer to the server's question.")
    space_id: str | None = None
    next_step: str


class AppFilesAnswer(AppFilesView):
    """`get_app_files`: the app a run deployed, file by file (or one file's text), and what to do with it."""

    next_step: str
