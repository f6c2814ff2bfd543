"""The backend protocols. The pipeline, the gate, the service and the CLI never know which backend
they run on; they talk to these (DESIGN §2).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from space_factory.domain.schemas import ModelFacts


class ModelSource(Protocol):
    """Reads a model's card, config and file list."""

    def model_facts(self, model: str) -> ModelFacts:
        """Facts about `model` (`owner/name`).

        Raises:
            ModelNotFound: the model does not exist in this source.
            ModelGated: the model is gated and the caller has no access.
        """
        ...


class Bucket(Protocol):
    """Where run records live: a key → bytes store with appends (a directory locally, an HF bucket remotely).

    Keys are POSIX paths relative to the bucket root, built by `domain.layout` only.
    """

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        ...

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (empty past the end or for a missing key)."""
        ...

    def size(self, key: str) -> int | None:
        ...

    def write(self, key: str, data: bytes) -> None:
        """Replace the object atomically (readers see the old or the new bytes, never a mix)."""
        ...

    def append(self, key: str, data: bytes) -> None:
        ...

    def list(self, prefix: str) -> list[str]:
        """The immediate child names under `prefix` (a directory-like key)."""
        ...

    def lock(self, key: str) -> AbstractContextManager[None]:
        """An exclusive lock for read-modify-write of `key` across processes (a no-op where impossible)."""
        ...


@dataclass(frozen=True)
class JobStatus:
    """A job as its runner sees it. `stage` uses the Hub's job stages (RUNNING, COMPLETED, ERROR, CANCELED)."""

    id: str
    stage: str
    message: str | None = None
    exit_code: int | None = None
    url: str | None = None

    @property
    def terminal(self) -> bool:
        return self.stage in TERMINAL_JOB_STAGES


TERMINAL_JOB_STAGES = frozenset({"COMPLETED", "ERROR", "CANCELED", "DELETED"})


class JobRunner(Protocol):
    """Starts, inspects and cancels the job that runs a run's worker."""

    def launch(self, run_id: str) -> JobStatus:
        ...

    def status(self, job_id: str) -> JobStatus:
        ...

    def cancel(self, job_id: str) -> JobStatus:
        ...


@dataclass(frozen=True)
class SpaceRuntime:
    """A Space's runtime as the Hub reports it (stages: BUILDING, APP_STARTING, RUNNING, BUILD_ERROR, …)."""

    space_id: str
    stage: str
    hardware: str | None = None
    requested_hardware: str | None = None
    url: str | None = None
    message: str | None = None


class SpaceHost(Protocol):
    """Creates, fills, runs and inspects Spaces."""

    def create(self, space_id: str, *, hardware: str | None, private: bool = True) -> SpaceRuntime:
        """Create a new Space; raises `SpaceExists` rather than touch an existing one."""
        ...

    def upload(self, space_id: str, folder: Path, *, run_id: str) -> None:
        """Upload the whole folder; the Space then builds."""
        ...

    def runtime(self, space_id: str) -> SpaceRuntime:
        ...

    def logs(self, space_id: str, kind: str) -> str:
        """The `build` or `run` log, as text (untrusted: redact before storing)."""
        ...

    def request_hardware(self, space_id: str, flavor: str) -> tuple[str, str]:
        """Ask for `flavor`; returns `(HardwareOutcome value, detail)` — never raises for the named outcomes."""
        ...

    def stop(self, space_id: str) -> bool:
        """Stop the Space's app; True if something was running."""
        ...

    def auth_headers(self) -> dict[str, str]:
        """Headers a client needs to reach the Space's app (a private Space needs the token)."""
        ...


@dataclass
class Backend:
    """One backend's parts, bound to one owner (the caller whose runs and Spaces they are)."""

    name: str
    owner: str
    bucket: Bucket
    jobs: JobRunner
    spaces: SpaceHost
    models: ModelSource
    # Whether the owner may use ZeroGPU (a PRO account, from whoami); None where unknown or irrelevant (local).
    zerogpu_allowed: bool | None = None
