"""The `build_space` prompt: the build → poll → gate → fix loop, for agents that want a recipe."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from space_factory.domain.errors import InvalidInput
from space_factory.domain.ids import parse_model_id
from space_factory.domain.tasks import TASKS

__all__ = ["BUILD_SPACE_RECIPE", "register"]

BUILD_SPACE_RECIPE = """\
Make a private, running, verified Gradio Space (a demo) of the Hugging Face model {model}{task_note}, with the
Space Factory tools. Work in this loop and do not stop at the first answer:

1. analyze_model(model) — check the task, the template (analysis.has_template), warnings (gated, custom code,
   size) and the hardware plan.
2. launch_build(model, idempotency_key=<a key of your own>, wait_seconds=60) — keep the run_id. Reusing the
   key after an interruption gives the same run back instead of a second build. Choose `agent`:
   - leave the default 'auto': the task template when one fits; the Pi coding agent (inside the job, with no
     token) when no template fits, when the card needs custom code (custom_code / auto_map) or when the
     template's gate did not pass — it then repairs the app and the gate is run again;
   - 'pi' to have the agent write or adapt the app even where a template fits (e.g. a template gate that
     failed in an earlier run); 'pi-deploy' when the agent should also push the app to the Space itself;
   - 'none' for the template only (no agent; a task without a template then ends technical_blocker).
3. Until terminal is true: wait next_poll_seconds, then get_run_status(run_id, since_seq=<last_seq>) and tell
   the user the phase in a few words.
4. get_gate(run_id):
   - full_inference_passed: done. Give the user the Space URL and the how_to_call snippet, and call it once.
   - full_inference_candidate_health_passed / manual_hardware_required: the model needs other hardware. Tell
     the user the cost; request_hardware(run_id, flavor) only with their consent (confirm_cost=true when they
     agreed and the client could not ask them).
   - health_only / runtime_failed / build_failed: read fetch_trace_redacted(run_id, 'worker'), then
     'space_build' or 'space_run' (page with next_cursor), find the cause, fix what you can (another task,
     hardware, space_name) and launch_build again with a new idempotency_key (agent='pi' if the agent did
     not run yet).
   - technical_blocker: report the blockers (source 'agent' ones the coding agent declared, with what it
     tried); do not pretend it works.
   When the agent ran, get_gate's attempts say how each attempt ended; fetch_trace_redacted(run_id, 'agent')
   pages through its redacted traces ('agent:attempt-N' for one attempt).
5. Fix the app yourself when the gate did not pass (or the user wants a change), without starting over:
   get_app_files(run_id) lists the deployed files; get_app_files(run_id, 'app.py') gives one file's text.
   Write the fix and revise_build(run_id, files={{'app.py': <full new content>}}, remove=[...], note=<what it
   does>, wait_seconds=60): a new run (revision n+1) on the same Space, rebuilt and gated again; a
   technical_blocker run with no Space gets one. Then back to 3 and 4 with the new run_id. A revision that
   fails leaves the Space on its code: revise again, or restore the previous run's files (get_app_files of
   that run) to go back. Revise only a run that has ended, the latest revision of its Space.
6. Never claim more than the gate's evidence shows.
"""


def register(app: MCPServer[Any]) -> None:
    @app.prompt(title="Build a verified Space for a model")
    def build_space(
        model: Annotated[str, Field(description="Model id 'owner/name' or its Hub URL.")],
        task: Annotated[str, Field(description="Optional task override, e.g. 'text-classification'.")] = "",
    ) -> str:
        """The build → poll → gate → fix loop for one model, as instructions for the agent."""
        # Both arguments become text the agent follows: only validated values go in (a token-shaped or
        # hostile "model" is refused, with a redacted message, like launch_build refuses it).
        model = parse_model_id(model)
        if task and task not in TASKS:
            raise InvalidInput(f"unknown task; known tasks: {', '.join(TASKS)}")
        task_note = f" (task {task})" if task else ""
        return BUILD_SPACE_RECIPE.format(model=model, task_note=task_note)
