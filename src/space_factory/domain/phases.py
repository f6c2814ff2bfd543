"""Run statuses and phases (DESIGN §5), as str enums whose values are the wire values."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"  # a gate was written; the gate says how it went
    FAILED = "failed"  # the factory broke before a gate could be written
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELED})


class Phase(StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    ANALYZING = "analyzing"
    RECOMMENDING = "recommending"
    GENERATING = "generating"
    AGENT = "agent"
    CREATING_SPACE = "creating_space"
    UPLOADING = "uploading"
    BUILDING = "building"
    REQUESTING_HARDWARE = "requesting_hardware"
    VALIDATING_HEALTH = "validating_health"
    VALIDATING_API = "validating_api"
    GATING = "gating"
    REPORTING = "reporting"
    DONE = "done"


PHASE_ORDER: tuple[Phase, ...] = tuple(Phase)


def phase_step(phase: Phase) -> tuple[int, int]:
    """`(step, total)` of a phase, for progress displays: `queued` is 0, `done` is the total."""
    return PHASE_ORDER.index(phase), len(PHASE_ORDER) - 1
