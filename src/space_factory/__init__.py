"""Space Factory: turn a Hugging Face model into a private, running, verified Gradio Space.

The public surface is small: the `Factory` service, its `Settings`, and the run record's types.
Everything else (backends, worker, server) is reached through them or through the CLI.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from space_factory.config import Settings
from space_factory.domain.errors import (
    FactoryError,
    InvalidInput,
    InvalidModelId,
    ModelGated,
    ModelNotFound,
    RunNotFinished,
    RunNotFound,
    SpaceExists,
)
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import BuildOptions, Event, Gate, RunState
from space_factory.service import Factory

try:
    __version__ = _metadata.version("space-factory")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "BuildOptions",
    "Event",
    "Factory",
    "FactoryError",
    "Gate",
    "GateStatus",
    "HardwareOutcome",
    "InvalidInput",
    "InvalidModelId",
    "ModelGated",
    "ModelNotFound",
    "Phase",
    "RunNotFinished",
    "RunNotFound",
    "RunState",
    "RunStatus",
    "Settings",
    "SpaceExists",
    "__version__",
]
