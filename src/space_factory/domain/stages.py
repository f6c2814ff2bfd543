"""The lifecycle stages of a Space and of a Job, as the Hub spells them on the wire.

Both backends, the pipeline, the gate and the Hub emulator share these two enums and their named sets, so a
stage is spelled once. The values are the Hub's own strings: a `StrEnum` member compares, hashes and
serialises (JSON, pydantic) exactly like its value, so records written before these types existed read the
same and records written now look the same.

The Hub reports stages as plain strings and may add new ones before huggingface_hub (and this module) name
them. Such a stage still parses, as an unnamed member that belongs to no set below, so the factory treats it
as it did when stages were bare strings: still moving, neither serving nor failed.

    >>> SpaceStage("RUNNING") is SpaceStage.RUNNING
    True
    >>> SpaceStage.BUILD_ERROR in SPACE_BUILD_ERROR_STAGES
    True
    >>> "CANCELED" in TERMINAL_JOB_STAGES
    True
    >>> SpaceStage("SLEEPING") in SETTLED_SPACE_STAGES, str(SpaceStage("SLEEPING"))
    (False, 'SLEEPING')
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "ACTIVE_SPACE_STAGES",
    "SETTLED_SPACE_STAGES",
    "SPACE_BUILD_ERROR_STAGES",
    "SPACE_RUNTIME_ERROR_STAGES",
    "TERMINAL_JOB_STAGES",
    "JobStage",
    "SpaceStage",
]


# What a stage the Hub may add looks like; anything else is not a stage and fails to parse.
_WIRE_STAGE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class _HubStage(StrEnum):
    """A stage enum that also parses stages the Hub added after this module was written."""

    @classmethod
    def _missing_(cls, value: object) -> _HubStage | None:
        if not isinstance(value, str) or not _WIRE_STAGE.fullmatch(value):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member


class SpaceStage(_HubStage):
    """Where a Space is in its life: the `runtime.stage` the Hub reports (and the local backend imitates).

    `NOT_FOUND` is the local backend's own: its answer for a Space that does not exist, where the Hub
    answers HTTP 404 instead.
    """

    NO_APP_FILE = "NO_APP_FILE"
    CONFIG_ERROR = "CONFIG_ERROR"
    BUILDING = "BUILDING"
    BUILD_ERROR = "BUILD_ERROR"
    APP_STARTING = "APP_STARTING"
    RUNNING = "RUNNING"
    RUNNING_BUILDING = "RUNNING_BUILDING"
    RUNNING_APP_STARTING = "RUNNING_APP_STARTING"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    DELETING = "DELETING"
    STOPPED = "STOPPED"
    PAUSED = "PAUSED"
    NOT_FOUND = "NOT_FOUND"


class JobStage(_HubStage):
    """Where a Job is in its life: the `status.stage` the Hub reports (and the local backend imitates)."""

    SCHEDULING = "SCHEDULING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    ERROR = "ERROR"
    DELETED = "DELETED"


SPACE_BUILD_ERROR_STAGES: frozenset[SpaceStage] = frozenset(
    {SpaceStage.BUILD_ERROR, SpaceStage.CONFIG_ERROR, SpaceStage.NO_APP_FILE}
)
"""The Space never got as far as starting its app: the build (or the repo's config) is at fault."""

SPACE_RUNTIME_ERROR_STAGES: frozenset[SpaceStage] = frozenset(
    {SpaceStage.RUNTIME_ERROR, SpaceStage.STOPPED, SpaceStage.PAUSED, SpaceStage.DELETING}
)
"""The app was built but is not serving, and will not start serving without someone acting."""

SETTLED_SPACE_STAGES: frozenset[SpaceStage] = (
    frozenset({SpaceStage.RUNNING}) | SPACE_BUILD_ERROR_STAGES | SPACE_RUNTIME_ERROR_STAGES
)
"""Stages a build wait can stop at: the Space is serving or has failed; any other stage is still moving."""

ACTIVE_SPACE_STAGES: frozenset[SpaceStage] = frozenset(
    {
        SpaceStage.BUILDING,
        SpaceStage.APP_STARTING,
        SpaceStage.RUNNING,
        SpaceStage.RUNNING_BUILDING,
        SpaceStage.RUNNING_APP_STARTING,
    }
)
"""Stages in which something (a build or the app) should be alive on the Space's behalf."""

TERMINAL_JOB_STAGES: frozenset[JobStage] = frozenset(
    {JobStage.COMPLETED, JobStage.ERROR, JobStage.CANCELED, JobStage.DELETED}
)
"""The Job has stopped for good and will not run further."""
