"""What the service answers: the result models shared by the MCP tools and the CLI's `--json`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.schemas import Event, ModelCardAnalysis, RunState, RuntimeRecommendation


class RunStatusView(BaseModel):
    """A run's state, the events after `since_seq`, and when to poll again."""

    run_id: str
    state: RunState
    events: list[Event] = Field(default_factory=list)
    last_seq: int = Field(0, description="Pass this as since_seq next time to get only newer events.")
    terminal: bool = Field(description="True once the run is finished, failed or canceled: call get_gate next.")
    next_poll_seconds: float | None = Field(None, description="Seconds to wait before polling again; null if terminal.")
    stale: bool = Field(False, description="True when the state could not be refreshed and is shown as last read.")


class AnalysisView(BaseModel):
    """A model-card analysis and the hardware plan it leads to, without a build."""

    analysis: ModelCardAnalysis
    recommendation: RuntimeRecommendation


class HardwareRequestView(BaseModel):
    run_id: str
    space_id: str
    flavor: str
    outcome: HardwareOutcome
    detail: str
    hourly_cost_usd: float | None = None


class TracePage(BaseModel):
    """One page of a redacted log or trace."""

    run_id: str
    kind: str
    text: str
    cursor: int = Field(description="Byte offset this page starts at.")
    next_cursor: int | None = Field(description="Pass as cursor for the next page; null at the end.")
    total_bytes: int
    withheld: bool = Field(False, description="True if the page still looked secret after redaction and was withheld.")
    available_kinds: list[str] = Field(default_factory=list)


class RunList(BaseModel):
    """One page of the caller's runs, newest first."""

    runs: list[RunState]
    next_cursor: str | None = Field(None, description="Pass as cursor for the next (older) page; null on the last.")
