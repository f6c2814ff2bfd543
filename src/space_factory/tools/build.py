"""Tools that start runs: `launch_build` (a model → a gated Space) and `validate_space` (gate an app that runs)."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from space_factory.domain.phases import TERMINAL_STATUSES
from space_factory.domain.schemas import BuildOptions, RunState
from space_factory.service import Factory
from space_factory.tools.annotations import LAUNCH, VALIDATE
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.follow import follow_run, launch_view
from space_factory.tools.params import (
    Agent,
    AllowPaidFallback,
    BuildMode,
    HardwareChoice,
    IdempotencyKey,
    ModelRef,
    SpaceName,
    Task,
    ValidationTarget,
    WaitSeconds,
)
from space_factory.tools.views import DASHBOARD_META, LaunchView

__all__ = ["register"]


async def _answer(factory: Factory, state: RunState, wait_seconds: int, ctx: Context[Any, Any]) -> LaunchView:
    started = anyio.current_time()
    if wait_seconds > 0 and state.status not in TERMINAL_STATUSES:
        view = await follow_run(factory, state.run_id, wait_seconds, ctx)
    else:
        view = await call_service(factory.run_status, state.run_id, 0)
    return launch_view(view, anyio.current_time() - started)


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Build a verified Space for a model", annotations=LAUNCH, meta=DASHBOARD_META)
    @clean_doc
    async def launch_build(
        model: ModelRef,
        factory: FactoryDep,
        ctx: Context[Any, Any],
        mode: BuildMode = "build",
        hardware: HardwareChoice = None,
        allow_paid_fallback: AllowPaidFallback = False,
        space_name: SpaceName = None,
        idempotency_key: IdempotencyKey = None,
        wait_seconds: WaitSeconds = 0,
        task: Task = None,
        agent: Agent = "auto",
    ) -> LaunchView:
        """Turn a Hugging Face model into a private, running Gradio Space, and gate whether real inference works.

        Returns run_id at once; the build goes on in a job (a small model takes a few minutes). With
        wait_seconds > 0 the call follows the run, sending progress notifications, and returns the status
        reached. Next: poll get_run_status(run_id, since_seq) every next_poll_seconds until terminal is
        true, then call get_gate(run_id) for the verdict and how_to_call. Call analyze_model first to see
        the task and hardware plan without building. Never overwrites an existing Space. A coding agent
        (Pi) inside the job writes or repairs the app where no template fits or the template's gate failed
        (agent='auto'); the factory, never the agent, decides the gate.
        """
        options = BuildOptions(task=task, hardware=hardware.value if hardware else None, space_name=space_name,
                               allow_paid_fallback=allow_paid_fallback, idempotency_key=idempotency_key)
        state = await call_service(factory.launch, model, options=options, agent=agent, mode=mode)
        return await _answer(factory, state, wait_seconds, ctx)

    @app.tool(title="Gate a running app or Space", annotations=VALIDATE)
    @clean_doc
    async def validate_space(
        space: ValidationTarget,
        factory: FactoryDep,
        ctx: Context[Any, Any],
        task: Task = None,
        idempotency_key: IdempotencyKey = None,
        wait_seconds: WaitSeconds = 0,
    ) -> LaunchView:
        """Gate a Gradio app that already runs (built by hand, or by an older run): checks /health, calls its API
        and judges the output, like the last phases of a build. Nothing is built or changed.

        Starts a validation-only run and returns its run_id (wait_seconds works as in launch_build). Pass task
        so the right input is sent and the output judged. Next: poll get_run_status until terminal, then
        get_gate(run_id).
        """
        state = await call_service(factory.validate, space, task=task, idempotency_key=idempotency_key)
        return await _answer(factory, state, wait_seconds, ctx)
