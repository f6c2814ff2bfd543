"""Tools over a run's app (DESIGN §12): `get_app_files` reads what was deployed, `revise_build` changes it.

The calling agent is often the strongest coder in the loop: it reads the app, fixes it, and gets a new gate
on the same Space as a new run (revision n+1), followed like `launch_build`.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from space_factory.domain.phases import TERMINAL_STATUSES
from space_factory.domain.revisions import MAX_NOTE_CHARS, MAX_PATH_CHARS, MAX_REVISION_BYTES, MAX_REVISION_FILES
from space_factory.domain.schemas import RunId
from space_factory.service import Factory
from space_factory.tools.annotations import APP_FILES, REVISE
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.follow import follow_run, launch_view
from space_factory.tools.params import WaitSeconds
from space_factory.tools.views import AppFilesAnswer, LaunchView

__all__ = ["app_files_answer", "register"]

AppPath = Annotated[str | None, Field(
    max_length=MAX_PATH_CHARS,
    description="A file of the app, relative to its workspace (e.g. 'app.py'): return its text. Omit it for the "
                "file list.")]
RevisionFiles = Annotated[dict[str, str], Field(
    description=f"The files to write: relative path → new full UTF-8 content (at most {MAX_REVISION_FILES} files and "
                f"{MAX_REVISION_BYTES} bytes per revision). Files not named keep the parent's content.")]
RemovePaths = Annotated[list[str], Field(description="Relative paths of files of the app to delete.")]
Note = Annotated[str | None, Field(
    max_length=MAX_NOTE_CHARS, description="What the revision does: the commit message on the Space.")]


def app_files_answer(factory: Factory, run_id: str, path: str | None = None) -> AppFilesAnswer:
    """What `get_app_files` answers (the run dashboard's files endpoint answers the same): the files, or one's text."""
    view = factory.app_files(run_id, path)
    if view.file is not None:
        next_step = ("Change what needs changing and call revise_build(run_id, files={path: new content}) with the "
                     "full new content of each file you change.")
    elif view.files:
        next_step = "Call get_app_files(run_id, path) for a file's text, e.g. app.py."
    else:
        next_step = ("This run generated no app. Write one (app.py, requirements.txt, README.md) and call "
                     "revise_build(run_id, files=...) to deploy and gate it.")
    return AppFilesAnswer(**view.model_dump(), next_step=next_step)


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Read the app a run deployed", annotations=APP_FILES)
    @clean_doc
    async def get_app_files(run_id: RunId, factory: FactoryDep, path: AppPath = None) -> AppFilesAnswer:
        """The files of the Gradio app a run deployed (app.py, requirements.txt, README.md, …), or one file's text.

        Without path: each file's path, bytes, sha256 and the revision that last changed it. With path: that file's
        text (secrets redacted; binary or very large files are refused with their size). Works for runs that
        stopped before a Space (technical_blocker) too. Next: fix the app and call revise_build.
        """
        return await call_service(app_files_answer, factory, run_id, path)

    @app.tool(title="Revise a run's app and gate it again", annotations=REVISE)
    @clean_doc
    async def revise_build(
        run_id: RunId,
        files: RevisionFiles,
        factory: FactoryDep,
        ctx: Context[Any, Any],
        remove: RemovePaths = [],  # noqa: B006 - never mutated; the schema's default is an empty list
        note: Note = None,
        wait_seconds: WaitSeconds = 0,
    ) -> LaunchView:
        """Change the app of a finished run and get a new gate on the same Space, as a new run (revision n+1).

        files maps relative paths to full new UTF-8 contents; remove lists paths to delete; note is the commit
        message. The factory applies the change to the run's app, commits it to the same Space (or creates the
        Space when the run had none), rebuilds, validates and gates it. Returns the new run_id at once
        (wait_seconds works as in launch_build); poll get_run_status, then get_gate. Refused, with nothing
        changed, while the run is still going, when a path leaves the workspace, when nothing changes, or when
        someone else committed to the Space since. Read the current files with get_app_files first.
        """
        started = anyio.current_time()
        state = await call_service(factory.revise, run_id, files, remove, note)
        return await _answer(factory, state.run_id, state.status in TERMINAL_STATUSES, wait_seconds, ctx, started)


async def _answer(factory: Factory, run_id: str, terminal: bool, wait_seconds: int, ctx: Context[Any, Any],
                  started: float) -> LaunchView:
    if wait_seconds > 0 and not terminal:
        view = await follow_run(factory, run_id, wait_seconds, ctx)
    else:
        view = await call_service(factory.run_status, run_id, 0)
    return launch_view(view, anyio.current_time() - started)
