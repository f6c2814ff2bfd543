"""What the service answers: the result models shared by the MCP tools and the CLI's `--json`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.schemas import AppFile, Event, ModelCardAnalysis, RunState, RuntimeRecommendation


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


class AppFileText(BaseModel):
    """One file of a run's app, as text: redacted, and only when it is text of a bounded size."""

    path: str
    bytes: int
    sha256: str = Field(description="Of the file as stored (before redaction).")
    revision: int = Field(description="The revision that last changed this file.")
    text: str
    redacted: bool = Field(description="True if something secret-looking was replaced in the text shown.")


class AppFilesView(BaseModel):
    """The app a run deployed (or generated, for a run that stopped before a Space): its files, or one file's text."""

    run_id: str
    revision: int = Field(description="The run's revision: 1 for a first build.")
    parent_run_id: str | None = Field(None, description="The run this revision was made from, else null.")
    space_id: str | None = Field(None, description="The Space the app was deployed to; null if none was made.")
    files: list[AppFile] = Field(default_factory=list, description="Path, bytes, sha256 and the revision that last "
                                 "changed each file.")
    total_bytes: int = 0
    file: AppFileText | None = Field(None, description="With a path: that file's text; else null.")
