"""The backend protocols. The pipeline, the gate, the service and the CLI never know which backend
they run on; they talk to these (DESIGN §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.plans import ZeroGpuSlots
from space_factory.domain.schemas import BackendName, ModelFacts
from space_factory.domain.stages import TERMINAL_JOB_STAGES, JobStage, SpaceStage


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

    `atomic_append` says whether `append` is atomic across writers (a local directory: `O_APPEND` under a
    lock). Where it is not (an HF bucket through the API, a job's hf-mount), `append` is a read-modify-write
    that a concurrent writer can undo, so a log with several writers takes the others' lines through its
    inbox (`record.RunRecord.post_event`).
    """

    atomic_append: bool

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

    def create(self, key: str, data: bytes) -> bytes | None:
        """Create the object with `data` only if `key` does not exist yet: a claim, such as an idempotency key's.

        Returns None when this call created it, else the bytes that hold the key (the winner's). Of any number
        of concurrent creates of one key, exactly one gets None and every other gets the winner's bytes
        (the hf backend converges on that with a claim protocol; see its limits in docs/architecture.md).
        """
        ...

    def list(self, prefix: str) -> list[str]:
        """The immediate child names under `prefix` (a directory-like key)."""
        ...

    def lock(self, key: str) -> AbstractContextManager[None]:
        """An exclusive lock for read-modify-write of `key` across processes (a no-op where impossible)."""
        ...


@dataclass(frozen=True)
class JobStatus:
    """A job as its runner sees it, in the Hub's job stages."""

    id: str
    stage: JobStage
    message: str | None = None
    exit_code: int | None = None
    url: str | None = None
    # Ended, but what it wrote through a mounted bucket may still be arriving (the Hub's mount flushes
    # seconds after a close): readers wait for `settling` to clear before reconciling a run from this status.
    settling: bool = False

    @property
    def terminal(self) -> bool:
        return self.stage in TERMINAL_JOB_STAGES


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
    """A Space's runtime as the Hub reports it."""

    space_id: str
    stage: SpaceStage
    hardware: str | None = None
    requested_hardware: str | None = None
    url: str | None = None
    message: str | None = None


class HardwareResult(NamedTuple):
    """What a hardware request came to: one of the named outcomes (DESIGN §6) and, in our words, why."""

    outcome: HardwareOutcome
    detail: str


class SpaceHost(Protocol):
    """Creates, fills, runs and inspects Spaces."""

    def create(self, space_id: str, *, hardware: str | None, private: bool = True) -> SpaceRuntime:
        """Create a new Space; raises `SpaceExists` rather than touch an existing one."""
        ...

    def upload(self, space_id: str, folder: Path, *, run_id: str) -> str | None:
        """Upload the whole folder; the Space then builds. Returns the commit made (as `head` names it), if known."""
        ...

    def commit(self, space_id: str, folder: Path, *, run_id: str, written: Sequence[str],
               removed: Sequence[str], message: str, parent_commit: str | None) -> str | None:
        """Commit a revision in one commit: `folder` holds the whole revised app, `written` names the paths it adds
        or changes and `removed` the paths it deletes; the Space then rebuilds. Returns the commit made.

        Raises:
            SpaceMoved: `parent_commit` is given and is not the Space's head any more (someone else wrote).
        """
        ...

    def head(self, space_id: str) -> str | None:
        """The Space's current commit, named as `upload` and `commit` return it; None when it has none."""
        ...

    def runtime(self, space_id: str) -> SpaceRuntime:
        ...

    def logs(self, space_id: str, kind: str) -> str:
        """The `build` or `run` log, as text (untrusted: redact before storing)."""
        ...

    def grant_model_access(self, space_id: str, model: str) -> bool:
        """Let the Space's app download `model` at start-up when that needs the owner's token (gated, private).

        Called before the upload, so the app starts with it. The token goes only through the host's secrets
        (the Space's `HF_TOKEN` secret on the Hub), never into a file. True if the Space was given it.
        """
        ...

    def request_hardware(self, space_id: str, flavor: str) -> HardwareResult:
        """Ask for `flavor`; never raises for the named outcomes (an unknown flavor is `NOT_AVAILABLE`)."""
        ...

    def stop(self, space_id: str) -> bool:
        """Stop the Space's app; True if something was running."""
        ...

    def auth_headers(self) -> dict[str, str]:
        """Headers a client needs to reach the Space's app (a private Space needs the token)."""
        ...


class HostingPlan(Protocol):
    """What the owner's plan lets it host, counted where the Spaces are."""

    def zerogpu_slots(self) -> ZeroGpuSlots:
        """The owner's ZeroGPU slots: the plan's limit and the Spaces that hold one.

        Raises:
            BackendError: the Spaces could not be listed.
        """
        ...


@dataclass
class Backend:
    """One backend's parts, bound to one owner (the caller whose runs and Spaces they are)."""

    name: BackendName
    owner: str
    bucket: Bucket
    jobs: JobRunner
    spaces: SpaceHost
    models: ModelSource
    # Whether the owner's plan lets it host ZeroGPU Spaces at all (domain.plans); None where unknown or irrelevant.
    zerogpu_allowed: bool | None = None
    # The owner's hosting limits (ZeroGPU slots), counted before a launch; None where nothing is limited (local).
    hosting: HostingPlan | None = None
