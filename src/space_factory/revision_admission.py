"""What a revision is held to before any run exists (`Factory.revise`, DESIGN §12).

The change is checked by the pure rules of `domain.revisions` first (paths, count, size, text), then against its
parent: a run of the caller's that has ended, that built (or tried to build) an app, whose files the change
really changes, and — when it has a Space — whose Space still has the commit the parent made (on the hf backend,
someone else's commit since means the revision is refused, never written over). A refusal here leaves nothing
behind: no record, no index entry, no job, no commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from space_factory.app_workspace import app_files
from space_factory.backends.base import Backend
from space_factory.domain import layout
from space_factory.domain.errors import InvalidRevision, RunStillGoing, SpaceMoved
from space_factory.domain.phases import TERMINAL_STATUSES
from space_factory.domain.revisions import Change, RevisionPlan, parse_change, plan_revision
from space_factory.domain.schemas import ModelCardAnalysis, RunRequest, RunState, TargetSpace
from space_factory.record import RunRecord

__all__ = ["AdmittedRevision", "admit_revision"]


@dataclass(frozen=True)
class AdmittedRevision:
    """A revision that may start: its parent, the checked change, what it changes, and the Space it commits to."""

    parent: RunRequest
    change: Change
    plan: RevisionPlan
    target: TargetSpace | None  # None: the parent made no Space, and the revision creates one

    @property
    def revision(self) -> int:
        return self.parent.revision + 1


def admit_revision(backend: Backend, parent: RunRecord, state: RunState, files: Mapping[str, str],
                   remove: Iterable[str], note: str | None) -> AdmittedRevision:
    """Check a revision of the run of `parent` (the caller's own, its `state` reconciled) before anything is written.

    Raises:
        InvalidRevision: a rule of `domain.revisions` is broken, the parent is a validation run or never got as far
            as an analysis, or the change changes nothing.
        RunStillGoing: the parent has not ended yet.
        SpaceMoved: the parent's Space has a commit the parent did not make.
    """
    change = parse_change(files, remove, note)
    run_id = parent.run_id
    if state.status not in TERMINAL_STATUSES:
        raise RunStillGoing(run_id, state.phase.value)
    request = parent.read_model(layout.REQUEST, RunRequest)
    assert request is not None  # `Factory._record` found it
    if request.mode == "validate":
        raise InvalidRevision(f"run {run_id!r} is a validation run: it deployed no app of its own. Revise the run "
                              "that built the Space; nothing was changed")
    if parent.read_model(layout.ANALYSIS, ModelCardAnalysis) is None:
        raise InvalidRevision(f"run {run_id!r} ended before it analysed its model ({state.error or state.phase.value}),"
                              " so there is no app to revise: launch_build again; nothing was changed")
    current = {f.path: f.sha256 for f in app_files(parent, request.revision)}
    plan = plan_revision(current, change, parent_run_id=run_id)
    target = parent.read_model(layout.TARGET_SPACE, TargetSpace)
    if target is not None and target.commit is not None:
        head = backend.spaces.head(target.space_id)
        if head != target.commit:
            raise SpaceMoved(target.space_id, target.commit, head, run_id=run_id)
    return AdmittedRevision(parent=request, change=change, plan=plan, target=target)
