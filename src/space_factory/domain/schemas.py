"""The run record's wire models (DESIGN §4-§6). Every file under `runs/<run_id>/` that is JSON is one of these.

The models are plain pydantic, serialised with `model_dump(mode="json")`. Reusable parameter types
(`RunId`, `ModelId`, ...) are declared once here, with their description, for the tools and the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.hardware import HardwareFlavor
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.ids import RUN_ID_PATTERN
from space_factory.domain.phases import Phase, RunStatus

JsonDict = dict[str, Any]

RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN, description="Run id returned by launch_build.")]
Mode = Literal["build", "validate", "revise"]
# none: the task template only; pi: Pi writes/adapts the app and repairs it; pi-deploy: Pi also pushes it itself;
# auto: the template when one fits, Pi when none fits, the card needs custom code, or the template's gate failed.
AgentName = Literal["none", "pi", "pi-deploy", "auto"]
BackendName = Literal["local", "hf"]
EventLevel = Literal["debug", "info", "warning", "error"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BuildOptions(_Model):
    """What the caller asked for, beyond the model id."""

    task: str | None = Field(None, description="Override the task read from the model card.")
    hardware: HardwareFlavor | None = Field(
        None, description="Requested Space hardware flavor; default: the recommendation."
    )
    allow_paid_fallback: bool = Field(
        False, description="Allow a paid fixed-GPU fallback when ZeroGPU is not possible."
    )
    space_name: str | None = Field(None, description="Name of the new Space (never an existing one).")
    idempotency_key: str | None = None
    target: str | None = Field(None, description="For validation runs: the app URL or Space id to validate.")


class RunRequest(_Model):
    """`request.json`: what was asked, by whom, when, on which backend, and the job that runs it."""

    run_id: str
    model: str
    mode: Mode = "build"
    agent: AgentName = "none"
    backend: BackendName = "local"
    owner: str
    created_at: datetime = Field(default_factory=utcnow)
    options: BuildOptions = Field(default_factory=BuildOptions)
    job_id: str | None = None
    revision: int = Field(1, ge=1, description="1 for a first build; n+1 for a revision of a run of revision n.")
    parent_run_id: str | None = Field(None, description="The run a revision was made from (DESIGN §12), else null.")


class JobRef(_Model):
    id: str | None = None
    stage: str | None = None
    url: str | None = None


class SpaceRef(_Model):
    id: str | None = None
    url: str | None = None
    stage: str | None = None
    hardware: str | None = None


class RunState(_Model):
    """`state.json` (DESIGN §5), rewritten atomically on every change."""

    run_id: str
    status: RunStatus = RunStatus.QUEUED
    phase: Phase = Phase.QUEUED
    model: str
    mode: Mode = "build"
    agent: AgentName = "none"
    backend: BackendName = "local"
    owner: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    job: JobRef = Field(default_factory=JobRef)
    space: SpaceRef = Field(default_factory=SpaceRef)
    gate_status: GateStatus | None = None
    error: str | None = None
    revision: int = Field(1, ge=1, description="1 for a first build; n+1 for a revision of a run of revision n.")
    parent_run_id: str | None = Field(None, description="The run this revision was made from, else null.")


class Event(_Model):
    """One line of `events.jsonl`; `seq` starts at 1 and only grows."""

    seq: int = Field(ge=1)
    ts: datetime = Field(default_factory=utcnow)
    phase: Phase
    level: EventLevel = "info"
    message: str
    data: JsonDict = Field(default_factory=dict)


class SampleInput(_Model):
    """One example input for the task, taken from the card's widget or a task default."""

    text: str | None = None
    source_sentence: str | None = None
    sentences: list[str] | None = None
    src: str | None = Field(None, description="URL of an example file (image, audio); never fetched offline.")
    candidate_labels: list[str] | None = Field(None, description="Zero-shot tasks: the labels to choose from.")
    context: str | None = Field(None, description="Question answering: the passage the answer is a span of.")
    title: str | None = None
    origin: Literal["card", "default"] = "card"


class FileEntry(_Model):
    path: str
    size: int | None = None


class ModelCardAnalysis(_Model):
    """`model_card_analysis.json`: what the card, the config and the file list say about a model."""

    model: str
    task: str | None = None
    task_source: Literal["pipeline_tag", "architecture", "override", "unknown"] = "unknown"
    library: str | None = None
    architectures: list[str] = Field(default_factory=list)
    model_type: str | None = None
    params: int | None = Field(None, description="Parameter count (safetensors header, else estimated).")
    params_source: Literal["safetensors", "estimate", "unknown"] = "unknown"
    dtype: str | None = None
    size_bytes: int | None = Field(None, description="Bytes of weight files.")
    estimated_memory_gb: float | None = Field(None, description="Inference memory estimate, GB.")
    license: str | None = None
    gated: bool = False
    custom_code: bool = False
    auto_map: JsonDict = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=list)
    sample_inputs: list[SampleInput] = Field(default_factory=list)
    base_model: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    files: list[FileEntry] = Field(default_factory=list)
    chat_template: bool = Field(False, description="The tokenizer or processor declares a chat template.")
    pipeline_components: list[str] = Field(
        default_factory=list,
        description="A diffusers pipeline's components (model_index.json); only their weights count.",
    )
    has_template: bool = False
    warnings: list[str] = Field(default_factory=list)


class RuntimeRecommendation(_Model):
    """`runtime_recommendation.json`: the hardware plan and why."""

    primary: str = Field(description="Flavor to create the Space with.")
    fallback: str | None = Field(None, description="Fixed-GPU fallback, used only when paid fallback is allowed.")
    use_fallback: bool = False
    estimated_memory_gb: float | None = None
    needs_gpu: bool = False
    zerogpu_eligible: bool = False
    zerogpu_reasons: list[str] = Field(default_factory=list)
    allow_paid_fallback: bool = False
    hourly_cost_usd: float | None = None
    reasons: list[str] = Field(default_factory=list)

    @property
    def chosen(self) -> str:
        """The flavor the plan uses: the fallback when it is planned (and named), else the primary.

        Example:
            >>> RuntimeRecommendation(primary="cpu-basic", fallback="l4x1", use_fallback=True).chosen
            'l4x1'
        """
        return self.fallback if self.use_fallback and self.fallback else self.primary


class TargetSpace(_Model):
    """`target_space.json`."""

    space_id: str
    url: str | None = None
    private: bool = True
    sdk: str = "gradio"
    hardware_requested: str | None = None
    hardware_current: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # The commit the run's upload made (hf: the Hub's commit id; local: the app's tree digest): a revision commits
    # on top of it and is refused when the Space's head has moved since (DESIGN §12).
    commit: str | None = None


class AppFile(_Model):
    """One file of a run's app workspace (`generated/`)."""

    path: str = Field(description="Relative to the app's workspace, '/'-separated.")
    bytes: int
    sha256: str
    revision: int = Field(1, description="The revision that last changed this file.")
    run_id: str = Field(description="The run of that revision.")


class AppFiles(_Model):
    """`app_files.json`: the files of the app a run deployed, each with the revision that last changed it."""

    run_id: str
    revision: int = 1
    files: list[AppFile] = Field(default_factory=list)


class RevisionChange(_Model):
    """`revision.json`: the change a revision run applies to its parent's app (checked by `domain.revisions`)."""

    parent_run_id: str
    files: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)
    note: str | None = None
    parent_commit: str | None = Field(None, description="The parent's commit the revision goes on top of.")


class HealthResult(_Model):
    """`tests/health.json`."""

    ok: bool
    url: str
    status_code: int | None = None
    body: JsonDict | None = None
    attempts: int = 0
    duration_ms: int = 0
    error: str | None = None


class ApiParameter(_Model):
    name: str
    label: str | None = None
    component: str | None = None
    python_type: str | None = None
    has_default: bool = False


class ApiEndpoint(_Model):
    api_name: str
    parameters: list[ApiParameter] = Field(default_factory=list)
    returns: list[ApiParameter] = Field(default_factory=list)


class ApiSchema(_Model):
    """`tests/api_schema.json`: the app's named endpoints and the one chosen for the task."""

    ok: bool
    endpoints: list[ApiEndpoint] = Field(default_factory=list)
    chosen: str | None = None
    slots: dict[str, str] = Field(
        default_factory=dict,
        description="The chosen endpoint's parameters the gate fills: parameter name → input slot "
                    "(domain.tasks.InputSlot).",
    )
    reason: str | None = None
    raw: JsonDict = Field(default_factory=dict)
    error: str | None = None


class OutputVerdict(_Model):
    """Whether an API output is a valid output for the task, and why."""

    ok: bool
    kind: str = Field(description="What the output was found to be: text, labels, entities, embedding, image, …")
    detail: str


class PredictCall(_Model):
    inputs: list[Any] = Field(default_factory=list, description="Input summary (files by name).")
    output_excerpt: str | None = None
    output_type: str | None = None
    latency_ms: int | None = None
    error: str | None = None


class TestResult(_Model):
    """`tests/test_result.json`: the predict call(s) and the verdict on the output."""

    __test__ = False  # not a pytest class

    ok: bool
    api_name: str | None = None
    task: str | None = None
    call: PredictCall | None = None
    probe: PredictCall | None = Field(None, description="A second call with another input, to catch constants.")
    verdict: OutputVerdict | None = None
    skipped_reason: str | None = None


class GateCheck(_Model):
    name: str
    status: CheckStatus
    detail: str = ""
    duration_ms: int | None = None


class Blocker(_Model):
    """One entry of `TECHNICAL_BLOCKERS.json` (DESIGN §6): why real inference cannot be wired."""

    kind: str | None = Field(None, description="A short category, e.g. 'flash_attn', 'memory', 'license'.")
    title: str
    detail: str = ""
    evidence: str | None = Field(None, description="What shows it: an error line, a log excerpt.")
    tried: list[str] = Field(default_factory=list, description="What was attempted (for flash-attn: SDPA, xformers, "
                                                              "HF kernels).")
    source: Literal["factory", "agent"] = "factory"


class McpClients(_Model):
    """Ready configuration for three MCP clients; a token appears only as a reference to `HF_TOKEN` or a prompt."""

    claude_code: str = Field(description="A `claude mcp add --transport http …` command.")
    cursor: str = Field(description="`mcp.json` (`~/.cursor/` or `.cursor/`): `url` and `headers`.")
    vscode: str = Field(description="`.vscode/mcp.json`: `servers` with `type: http`; `inputs` prompts for the token.")


class McpAccess(_Model):
    """How to call the Space as an MCP tool (Gradio's streamable HTTP endpoint)."""

    url: str = Field(description="The MCP endpoint: the Space's URL + /gradio_api/mcp/.")
    tool: str = Field(description="The tool as the client lists it (on a Space, Gradio prefixes the Space's name).")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="What a private Space needs; the token is a placeholder, never a "
                                                "real one. Empty when the Space needs none.")
    clients: McpClients
    note: str | None = None


class HowToCall(_Model):
    """What an agent needs to call the new Space itself."""

    space_id: str | None = None
    url: str | None = None
    api_name: str | None = None
    parameters: list[ApiParameter] = Field(default_factory=list)
    python: str | None = Field(None, description="A gradio_client snippet.")
    mcp: McpAccess | None = Field(None, description="The same endpoint as an MCP tool; null when the gate's mcp "
                                                    "check found no tool or the tool's call failed.")


class GateSpace(_Model):
    id: str | None = None
    url: str | None = None


class Gate(_Model):
    """`inference_gate.json` (DESIGN §6)."""

    status: GateStatus
    summary: str
    checks: list[GateCheck] = Field(default_factory=list)
    evidence: JsonDict = Field(default_factory=dict)
    blockers: list[Blocker] = Field(default_factory=list)
    space: GateSpace = Field(default_factory=GateSpace)
    how_to_call: HowToCall | None = None


# template: the factory's template, deployed as generated (no agent); write / adapt / repair: what Pi was asked.
AttemptMode = Literal["template", "write", "adapt", "repair"]


class AttemptRecord(_Model):
    """One line of `agent/attempts.jsonl` (DESIGN §4): one coding-agent attempt and the gate it led to."""

    n: int = Field(ge=1, description="The attempt number, from 1.")
    mode: AttemptMode = Field(description="template: no agent; write: the app from scratch; adapt: the template; "
                                          "repair: after a gate that did not pass.")
    started_at: datetime
    ended_at: datetime
    stop_reason: str | None = Field(None, description="The stop reason of Pi's last assistant message.")
    error: str | None = Field(None, description="Why the attempt failed, in our words or Pi's (redacted).")
    timed_out: bool = False
    files_changed: list[str] = Field(default_factory=list, description="Workspace paths added, changed or removed.")
    blockers_declared: bool = Field(False, description="Pi wrote a valid TECHNICAL_BLOCKERS.json.")
    gate_status: GateStatus | None = Field(None, description="The gate after this attempt; None if none was built.")


class HardwareRequestRecord(_Model):
    """One line of `hardware_requests.jsonl`."""

    ts: datetime = Field(default_factory=utcnow)
    flavor: str
    outcome: HardwareOutcome
    detail: str = ""
    hourly_cost_usd: float | None = None
    source: Literal["worker", "tool"] = "worker"


class ModelFacts(_Model):
    """Raw facts about a model, as a model source reads them; the input of `analyze_card`.

    Everything here is untrusted text from a model repository.
    """

    model: str
    revision: str | None = None
    card_data: JsonDict = Field(default_factory=dict, description="The card's YAML front matter.")
    card_text: str = Field("", description="The card's body, without front matter.")
    config: JsonDict | None = Field(None, description="config.json, when present.")
    files: list[FileEntry] = Field(default_factory=list)
    safetensors_params: dict[str, int] = Field(
        default_factory=dict, description="Parameter count per dtype, from safetensors headers."
    )
    tokenizer_config: JsonDict | None = Field(None, description="tokenizer_config.json, when present.")
    processor_config: JsonDict | None = Field(None, description="processor_config.json, when present.")
    model_index: JsonDict | None = Field(None, description="A diffusers pipeline's model_index.json, when present.")
    gated: bool = False
