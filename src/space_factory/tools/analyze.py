"""`analyze_model`: what a build would do with a model (task, size, license, hardware plan), without building."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from space_factory.domain.views import AnalysisView
from space_factory.tools.annotations import READ_ONLY_OPEN
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.params import AllowPaidFallback, ModelRef, Task

__all__ = ["register"]


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Analyze a model (no build)", annotations=READ_ONLY_OPEN)
    @clean_doc
    async def analyze_model(
        model: ModelRef,
        factory: FactoryDep,
        task: Task = None,
        allow_paid_fallback: AllowPaidFallback = False,
    ) -> AnalysisView:
        """Read a model's card, config and files: task, library, parameter count, dtype, memory estimate, license,
        gating, custom code, sample inputs, whether a Gradio template exists, and the hardware plan (ZeroGPU
        first; a paid GPU only with allow_paid_fallback). Builds nothing, costs nothing.

        Next: launch_build(model) if analysis.has_template is true; if not, pass a task it supports, or tell
        the user no template covers this model. Warnings say what may stop a build (gated, custom code, size).
        """
        return await call_service(factory.analyze, model, task=task, allow_paid_fallback=allow_paid_fallback)
