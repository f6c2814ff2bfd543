"""Tool parameter types, each described once (STYLE R4, R9).

`RunId` lives in `domain/schemas.py` with the run-record models; the types here exist only at the MCP
boundary. Every bound is a schema constraint, so the SDK rejects a bad argument with a message the
agent can correct before any of our code runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from space_factory.domain.hardware import HardwareFlavor
from space_factory.domain.ids import space_name_problem
from space_factory.domain.schemas import AgentName
from space_factory.domain.tasks import TASKS
from space_factory.service import MAX_TRACE_PAGE

__all__ = [
    "MAX_WAIT_SECONDS",
    "Agent",
    "AllowPaidFallback",
    "BuildMode",
    "ConfirmCost",
    "Cursor",
    "Flavor",
    "HardwareChoice",
    "IdempotencyKey",
    "Limit",
    "MaxBytes",
    "ModelRef",
    "SinceSeq",
    "SpaceName",
    "Task",
    "TaskName",
    "TraceKind",
    "ValidationTarget",
    "WaitSeconds",
]

MAX_WAIT_SECONDS = 600

# Every task of the catalog, in its order (the schema's enum order). Tasks without a template are
# accepted: the run then ends in an honest `technical_blocker` instead of a refused call.
if TYPE_CHECKING:  # a Literal built at run time is a plain string to a type checker
    TaskName = str
else:
    TaskName = Literal[tuple(TASKS)]

ModelRef = Annotated[str, Field(
    min_length=1, max_length=300,
    description="Model id 'owner/name', or its Hub URL 'https://huggingface.co/owner/name'.")]
BuildMode = Annotated[Literal["build"], Field(
    description="Always 'build'. To gate an app that is already running, call validate_space instead.")]
Task = Annotated[TaskName | None, Field(
    description="Task override; default: the task read from the model card (pipeline_tag or architecture).")]
Flavor = Annotated[HardwareFlavor, Field(
    description="Space hardware flavor, the Hub's name for it (e.g. 'cpu-basic', 'zero-a10g', 't4-small').")]
HardwareChoice = Annotated[HardwareFlavor | None, Field(
    description="Space hardware flavor to create the Space with; default: the recommendation (ZeroGPU first, "
                "else CPU; a paid GPU only with allow_paid_fallback).")]
AllowPaidFallback = Annotated[bool, Field(
    description="Allow a paid fixed-GPU fallback when ZeroGPU is not possible. Ask the user first: it costs money.")]
Agent = Annotated[AgentName, Field(
    description="Who writes the app. 'auto' (default): the task template when one fits, the Pi coding agent when "
                "none fits, when the card needs custom code (auto_map, trust_remote_code) or when the template's "
                "gate did not pass (it then repairs the app). 'pi': always Pi, before the first deploy and to "
                "repair. 'pi-deploy': like 'pi', and Pi pushes the app to the run's Space itself with the hf CLI "
                "(the factory still validates and gates it). 'none': the template only, no agent.")]


def _space_name(name: str) -> str:
    # The worker's own rule (no '--', '..', bad endings, nothing secret-shaped), checked before any run exists.
    # The error names the rule only, never the value.
    problem = space_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


SpaceName = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"), AfterValidator(_space_name)]
    | None,
    Field(description="Name of the new Space (without the owner); it must not exist. Default: a fresh name.")]
IdempotencyKey = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")] | None,
    Field(description="Reuse a key to get the same run back instead of starting a second one (per caller).")]
WaitSeconds = Annotated[int, Field(
    ge=0, le=MAX_WAIT_SECONDS,
    description="0 returns at once. Otherwise follow the run up to this many seconds, sending progress "
                "notifications, and return the status reached (the run goes on after the call returns).")]
ValidationTarget = Annotated[str, Field(
    min_length=1, max_length=500,
    description="The app to gate: an http(s) URL of a running Gradio app, or a Space id 'owner/name'.")]
SinceSeq = Annotated[int, Field(
    ge=0, description="Return only events with seq > since_seq: pass last_seq from the previous answer (0 = all).")]
Limit = Annotated[int, Field(ge=1, le=200, description="At most this many runs, newest first.")]
TraceKind = Annotated[str, Field(
    pattern=r"^(worker|space_build|space_run|pi_output|agent|agent:[A-Za-z0-9][A-Za-z0-9._-]{0,79})$",
    description="Which log: 'worker', 'space_build', 'space_run', 'pi_output' (the coding agent's output), "
                "'agent' (every coding-agent attempt's trace, in attempt order) or 'agent:attempt-N' (one "
                "attempt). available_kinds in any answer lists what this run has.")]
Cursor = Annotated[int, Field(ge=0, description="Byte offset to start at: 0, then next_cursor of the previous page.")]
MaxBytes = Annotated[int, Field(ge=256, le=MAX_TRACE_PAGE, description="Page size limit in bytes.")]
ConfirmCost = Annotated[bool, Field(
    description="Set true only after the user agreed to the hourly cost of a paid flavor. Clients that can ask "
                "the user (elicitation) are asked instead.")]
