"""A revision run in the worker (DESIGN §12): the parent's app plus the change, committed to the same Space.

The service admitted the change (`revision_admission`) and wrote it to the run's `revision.json`. Here the
parent's analysis and hardware plan are reused (no model is read again), the parent's `generated/` is laid into
a workspace with the change applied, the revised app goes to the record (`generated/`, `app_files.json` naming
the revision that last changed each file) and is committed to the parent's Space in one commit on top of the
parent's (a Space whose head moved since is refused, `SpaceMoved`); then the build is awaited, the live app
checked and gated like a build's. A parent with no Space (a `technical_blocker` run) gets one created here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from space_factory.app_workspace import app_files, manifest_of, read_app_file
from space_factory.backends.base import SpaceRuntime
from space_factory.domain import layout
from space_factory.domain.errors import FactoryError
from space_factory.domain.phases import Phase
from space_factory.domain.revisions import RevisionPlan, check_path, parse_change, plan_revision
from space_factory.domain.schemas import (
    ModelCardAnalysis,
    RevisionChange,
    RunRequest,
    RuntimeRecommendation,
    TargetSpace,
)
from space_factory.record import RunRecord

if TYPE_CHECKING:
    from space_factory.worker.pipeline import Pipeline

__all__ = ["run_revision"]


def run_revision(p: Pipeline) -> None:
    """Apply, commit, build, check: the phases of a revision run, on `p`'s record and evidence."""
    change = p.record.read_model(layout.REVISION, RevisionChange)
    if change is None:
        raise FactoryError("this revision run has no revision.json: the change it should apply is missing")
    parent = RunRecord(p.record.bucket, change.parent_run_id)
    revision = p.request.revision
    p.evidence.revision, p.evidence.parent_run_id = revision, change.parent_run_id
    _reuse_plan(p, parent)
    p.step(Phase.GENERATING, f"applying revision {revision} to the app of run {change.parent_run_id}")
    with tempfile.TemporaryDirectory(prefix="sf-revision-") as tmp:
        workspace = Path(tmp) / "app"
        plan = _apply(p, parent, change, workspace)
        target = parent.read_model(layout.TARGET_SPACE, TargetSpace)
        if target is None:
            p.note(Phase.CREATING_SPACE, f"run {change.parent_run_id} made no Space: this revision creates one")
            p.create_space()
            runtime = p.upload_app(workspace)
        else:
            runtime = _commit(p, target, change, plan, workspace)
    p.deploy_and_check(runtime)


def _reuse_plan(p: Pipeline, parent: RunRecord) -> None:
    """The parent's model analysis and hardware plan, copied into this run's record: a revision reads no model."""
    p.step(Phase.ANALYZING, f"reusing the model analysis of run {parent.run_id}")
    p.analysis = parent.read_model(layout.ANALYSIS, ModelCardAnalysis)
    if p.analysis is None:
        raise FactoryError(f"run {parent.run_id} has no model analysis to revise from")
    p.record.write_model(layout.ANALYSIS, p.analysis)
    p.recommendation = parent.read_model(layout.RECOMMENDATION, RuntimeRecommendation)
    if p.recommendation is None:
        p.recommend()
    else:
        p.record.write_model(layout.RECOMMENDATION, p.recommendation)
        p.evidence.needs_gpu = p.recommendation.needs_gpu


def _apply(p: Pipeline, parent: RunRecord, change: RevisionChange, workspace: Path) -> RevisionPlan:
    """The parent's app with the change applied, into `workspace` and this run's record; what changed."""
    parent_request = parent.read_model(layout.REQUEST, RunRequest)
    before = app_files(parent, parent_request.revision if parent_request else 1)
    files: dict[str, bytes] = {}
    for entry in before:
        data = read_app_file(parent, check_path(entry.path))
        if data is None:
            raise FactoryError(f"the app of run {parent.run_id} lists {entry.path!r}, but its record lacks it")
        files[entry.path] = data
    # Checked again with the rules the service applied: the record is the only way in, and it is data.
    checked = parse_change(change.files, change.remove, change.note)
    plan = plan_revision({f.path: f.sha256 for f in before}, checked, parent_run_id=parent.run_id)
    files.update(checked.files)
    for path in checked.remove:
        files.pop(path, None)
    for path, data in files.items():
        target = workspace / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    p.record.write_model(layout.APP_FILES, manifest_of(p.request.run_id, p.request.revision, files, before,
                                                       plan.written))
    if p.backend.name == "local":
        env = "changed: the Space's environment is rebuilt" if plan.requirements_changed else \
            "unchanged: the Space's environment is reused, not rebuilt"
    else:
        env = "changed" if plan.requirements_changed else "unchanged"
    p.note(Phase.GENERATING, f"revision {p.request.revision}: {plan.describe()}; requirements.txt {env}",
           written=list(plan.written), removed=list(plan.removed), requirements_changed=plan.requirements_changed)
    return plan


def _commit(p: Pipeline, target: TargetSpace, change: RevisionChange, plan: RevisionPlan,
            workspace: Path) -> SpaceRuntime:
    """Commit the revised app to the parent's Space on top of the parent's commit; the Space's runtime after it."""
    space_id = target.space_id
    # The record names the Space before the commit, so a revision that fails after it still points at it.
    p.record.write_model(layout.TARGET_SPACE, target)
    p.evidence.space_id = space_id
    p.record.update_state(space={"id": space_id, "hardware": target.hardware_current})
    p.record_app(workspace)
    message = change.note or f"Space Factory revision {p.request.revision} of run {change.parent_run_id}: " \
        f"{plan.describe()}"
    p.step(Phase.UPLOADING, f"committing revision {p.request.revision} to {space_id}: {message.splitlines()[0][:200]}")
    commit = p.backend.spaces.commit(space_id, workspace, run_id=p.request.run_id, written=plan.written,
                                     removed=plan.removed, message=message, parent_commit=change.parent_commit)
    p.target = target.model_copy(update={"commit": commit})
    p.record.write_model(layout.TARGET_SPACE, p.target)
    return p.backend.spaces.runtime(space_id)
