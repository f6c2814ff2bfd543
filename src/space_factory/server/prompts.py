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
   size) and the hardware plan. If no template covers the task, say so, or pick a task the model supports.
2. launch_build(model, idempotency_key=<a key of your own>, wait_seconds=60) — keep the run_id. Reusing the
   key after an interruption gives the same run back instead of a second build.
3. Until terminal is true: wait next_poll_seconds, then get_run_status(run_id, since_seq=<last_seq>) and tell
   the user the phase in a few words.
4. get_gate(run_id):
   - full_inference_passed: done. Give the user the Space URL and the how_to_call snippet, and call it once.
   - full_inference_candidate_health_passed / manual_hardware_required: the model needs other hardware. Tell
     the user the cost; request_hardware(run_id, flavor) only with their consent (confirm_cost=true when they
     agreed and the client could not ask them).
   - health_only / runtime_failed / build_failed: read fetch_trace_redacted(run_id, 'worker'), then
     'space_build' or 'space_run' (page with next_cursor), find the cause, fix what you can (another task,
     hardware, space_name) and launch_build again with a new idempotency_key.
   - technical_blocker: report the blockers; do not pretend it works.
5. Never claim more than the gate's evidence shows.
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
