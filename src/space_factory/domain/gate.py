"""The full-inference gate (DESIGN §6): evidence in, verdict out. Pure.

The gate never reports more than its evidence shows: `full_inference_passed` needs a healthy app *and*
an API output judged valid for the task; anything less is named for what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.hardware import ZEROGPU_FLAVOR, flavor_spec
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.mcp_surface import McpCheck
from space_factory.domain.schemas import (
    ApiSchema,
    Blocker,
    Gate,
    GateCheck,
    GateSpace,
    HealthResult,
    HowToCall,
    JsonDict,
    TestResult,
)
from space_factory.domain.stages import SPACE_BUILD_ERROR_STAGES, SpaceStage

# Outcomes of a hardware request that leave the user, not the factory, to act.
MANUAL_OUTCOMES = frozenset({HardwareOutcome.MANUAL_ACTION_REQUIRED, HardwareOutcome.BILLING_REQUIRED})
# The readiness vocabulary of a /health answer (the factory's templates answer these) and how long a value may be.
HEALTH_BODY_FIELDS = ("status", "model", "task", "model_loaded")
HEALTH_VALUE_CHARS = 200


@dataclass
class AppCheck:
    """What the live check of a running app saw (DESIGN §6), in the one shape the gate reads.

    `worker.checkup.check_app` fills it as each step ends; `GateEvidence` is an `AppCheck`, so the
    pipeline hands its evidence to the check and nothing is copied, and `facts()` is the check's part
    of `Gate.evidence`. Each field is None until its step ran.
    """

    health: HealthResult | None = None
    api: ApiSchema | None = None
    test: TestResult | None = None
    how_to_call: HowToCall | None = None
    # The same endpoint as an MCP tool (DESIGN §13): reported beside the API check, never part of the verdict.
    mcp: McpCheck | None = None

    def facts(self) -> dict[str, object]:
        """The check's entries of `Gate.evidence`, in their fixed order and spelling (DESIGN §6)."""
        facts: dict[str, object] = {}
        if self.health is not None:
            facts["health"] = self.health.model_dump(mode="json")
        if self.test is not None:
            facts["test_result"] = self.test.model_dump(mode="json")
        if self.api is not None:
            facts["api"] = {"chosen": self.api.chosen, "endpoints": [e.api_name for e in self.api.endpoints]}
        if self.mcp is not None:
            facts["mcp"] = self.mcp.model_dump(mode="json")
        return facts


def health_body(raw: object) -> JsonDict | None:
    """The part of a `/health` answer the gate keeps: the readiness fields, as short scalars.

    The body is the app's own text and may hold anything (a `db_password` once came back through
    `get_gate`), so only `HEALTH_BODY_FIELDS` survive.

        >>> health_body({"status": "ok", "model_loaded": True, "db_password": "hunter2", "model": ["x"]})
        {'status': 'ok', 'model_loaded': True}
    """
    if not isinstance(raw, dict):
        return None
    kept: JsonDict = {}
    for name in HEALTH_BODY_FIELDS:
        value = raw.get(name)
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= HEALTH_VALUE_CHARS):
            kept[name] = value
    return kept or None


@dataclass
class GateEvidence(AppCheck):
    """Everything the gate decides from: the live check's `AppCheck` and what the other phases observed.

    Each field is what a phase observed, or None if it never ran.
    """

    canceled: bool = False
    blockers: list[Blocker] = field(default_factory=list)
    space_id: str | None = None
    space_url: str | None = None
    space_stage: SpaceStage | None = None
    build_log_tail: str | None = None
    run_log_tail: str | None = None
    needs_gpu: bool = False
    hardware_flavor: str | None = None
    hardware_outcome: HardwareOutcome | None = None
    hardware_detail: str | None = None
    # The flavor the Space asked for and the one it runs on, read when it reached RUNNING (the Hub may give less:
    # a ZeroGPU Space without a slot, or of an account that lost PRO, runs on CPU).
    space_hardware_requested: str | None = None
    space_hardware_current: str | None = None
    durations_ms: dict[str, int] = field(default_factory=dict)
    # A revision (DESIGN §12): which one, and the run it was made from; the gate names them.
    revision: int = 1
    parent_run_id: str | None = None


def hardware_shortfall(evidence: GateEvidence) -> str | None:
    """In words, how the hardware the Space got differs from what it asked for; None if it got it (or unknown).

        >>> hardware_shortfall(GateEvidence(space_hardware_requested="zero-a10g", space_hardware_current="cpu-basic"))
        'the Space asked for zero-a10g but runs on cpu-basic: no ZeroGPU slot was left, or the plan no longer allows it'
    """
    asked, got = evidence.space_hardware_requested, evidence.space_hardware_current
    if not asked or not got or asked == got:
        return None
    why = ": no ZeroGPU slot was left, or the plan no longer allows it" if asked == ZEROGPU_FLAVOR else ""
    return f"the Space asked for {asked} but runs on {got}{why}"


def _gpu_denied(evidence: GateEvidence) -> bool:
    """A model that needs a GPU, in a Space that asked for one and runs on a CPU."""
    asked = flavor_spec(evidence.space_hardware_requested or "")
    got = flavor_spec(evidence.space_hardware_current or "")
    return evidence.needs_gpu and asked is not None and asked.is_gpu and got is not None and not got.is_gpu


def _check(evidence: GateEvidence, name: str, status: CheckStatus, detail: str) -> GateCheck:
    return GateCheck(name=name, status=status, detail=detail, duration_ms=evidence.durations_ms.get(name))


def gate_checks(evidence: GateEvidence) -> list[GateCheck]:
    """The per-check table of the gate, in pipeline order."""
    checks: list[GateCheck] = []
    stage = evidence.space_stage
    if stage is None:
        checks.append(_check(evidence, "build", CheckStatus.SKIPPED, "no Space was built"))
    elif stage in SPACE_BUILD_ERROR_STAGES:
        checks.append(_check(evidence, "build", CheckStatus.FAILED, f"the Space ended in {stage}"))
    else:
        checks.append(_check(evidence, "build", CheckStatus.PASSED, f"the Space reached {stage}"))
    shortfall = hardware_shortfall(evidence)
    if shortfall is not None:
        checks.append(_check(evidence, "hardware", CheckStatus.FAILED, shortfall))

    health = evidence.health
    if health is None:
        checks.append(_check(evidence, "health", CheckStatus.SKIPPED, "GET /health was not reached"))
    elif health.ok:
        checks.append(_check(evidence, "health", CheckStatus.PASSED,
                             f"GET /health answered {health.status_code} after {health.attempts} attempt(s)"))
    else:
        checks.append(_check(evidence, "health", CheckStatus.FAILED, health.error or "GET /health did not answer 200"))

    api = evidence.api
    if api is None:
        checks.append(_check(evidence, "api_schema", CheckStatus.SKIPPED, "the API was not inspected"))
    elif api.ok and api.chosen:
        checks.append(_check(evidence, "api_schema", CheckStatus.PASSED,
                             f"{len(api.endpoints)} named endpoint(s); chose {api.chosen}"))
    else:
        checks.append(_check(evidence, "api_schema", CheckStatus.FAILED,
                             api.error or api.reason or "no endpoint fits the task"))

    test = evidence.test
    if test is None or test.call is None:
        reason = test.skipped_reason if test else "no predict call was made"
        checks.append(_check(evidence, "predict", CheckStatus.SKIPPED, reason or "no predict call was made"))
        checks.append(_check(evidence, "output_valid", CheckStatus.SKIPPED, "no output to judge"))
    elif test.call.error:
        checks.append(_check(evidence, "predict", CheckStatus.FAILED, test.call.error))
        checks.append(_check(evidence, "output_valid", CheckStatus.SKIPPED, "the call raised"))
    else:
        checks.append(_check(evidence, "predict", CheckStatus.PASSED,
                             f"{test.api_name} answered in {test.call.latency_ms} ms ({test.call.output_type})"))
        verdict = test.verdict
        if verdict is None:
            checks.append(_check(evidence, "output_valid", CheckStatus.SKIPPED, "the output was not judged"))
        else:
            status = CheckStatus.PASSED if verdict.ok else CheckStatus.FAILED
            checks.append(_check(evidence, "output_valid", status, verdict.detail))
    checks.append(mcp_gate_check(evidence.mcp))
    return checks


def mcp_gate_check(mcp: McpCheck | None) -> GateCheck:
    """The `mcp` row of the gate: the endpoint's tool listed, called and its output judged, or where that stopped.

    Only a row: `classify_gate` never reads it, so an app whose MCP surface fails or is absent is judged by its API.

        >>> mcp_gate_check(None).detail
        'the MCP endpoint was not checked (no API endpoint was called)'
    """
    if mcp is None:
        return GateCheck(name="mcp", status=CheckStatus.SKIPPED,
                         detail="the MCP endpoint was not checked (no API endpoint was called)")
    if mcp.ok:
        return GateCheck(name="mcp", status=CheckStatus.PASSED, detail=mcp.detail, duration_ms=mcp.duration_ms)
    why = mcp.failure.value.replace("_", " ") if mcp.failure else "failed"
    return GateCheck(name="mcp", status=CheckStatus.FAILED, detail=f"{why}: {mcp.detail}", duration_ms=mcp.duration_ms)


def classify_gate(evidence: GateEvidence) -> tuple[GateStatus, str]:
    """Decide the gate status and a one-sentence summary from the evidence.

    A Space on other hardware than it asked for says so in the summary, whatever the status.

    Example:
        >>> classify_gate(GateEvidence(canceled=True))[0]
        <GateStatus.CANCELED: 'canceled'>
    """
    status, summary = _verdict(evidence)
    shortfall = hardware_shortfall(evidence)
    if shortfall is not None and status is not GateStatus.CANCELED and shortfall not in summary:
        summary = f"{summary} Note: {shortfall}."
    return status, summary


def _verdict(evidence: GateEvidence) -> tuple[GateStatus, str]:
    if evidence.canceled:
        return GateStatus.CANCELED, "The run was canceled before a verdict."
    status, summary = _live_verdict(evidence)
    # DESIGN §6: a live API check that passes outranks declared blockers (they stay in the gate as notes);
    # otherwise the blockers say why, before any build or runtime failure.
    if evidence.blockers and status is not GateStatus.FULL_INFERENCE_PASSED:
        titles = "; ".join(b.title for b in evidence.blockers[:3])
        return GateStatus.TECHNICAL_BLOCKER, f"Real inference cannot be wired: {titles}."
    return status, summary


def _live_verdict(evidence: GateEvidence) -> tuple[GateStatus, str]:
    """The verdict of the wrapper's own checks, blockers aside."""
    test = evidence.test
    inference_ok = bool(test and test.ok and test.verdict and test.verdict.ok)
    if evidence.space_stage in SPACE_BUILD_ERROR_STAGES:
        return GateStatus.BUILD_FAILED, f"The Space never built (stage {evidence.space_stage}); see the build log."
    manual = evidence.hardware_outcome in MANUAL_OUTCOMES and evidence.needs_gpu
    if manual and not inference_ok:
        return (GateStatus.MANUAL_HARDWARE_REQUIRED,
                f"The model needs {evidence.hardware_flavor or 'GPU hardware'}, which this token could not "
                f"obtain ({evidence.hardware_outcome}); set it on the Space's settings page, then validate again.")
    if _gpu_denied(evidence) and not inference_ok:
        return (GateStatus.MANUAL_HARDWARE_REQUIRED,
                f"The model needs a GPU, but {hardware_shortfall(evidence)}; free a ZeroGPU slot or set the "
                "hardware on the Space's settings page, then validate again.")
    health = evidence.health
    if health is None or not health.ok:
        stage = evidence.space_stage or "unknown"
        return GateStatus.RUNTIME_FAILED, f"The Space never answered GET /health (stage {stage}); see the run log."
    if inference_ok and test is not None and test.verdict is not None:
        return (GateStatus.FULL_INFERENCE_PASSED,
                f"Health OK and {test.api_name} returned a valid output: {test.verdict.detail}")
    if test is not None and test.call is None and test.skipped_reason:
        return (GateStatus.FULL_INFERENCE_CANDIDATE_HEALTH_PASSED,
                f"Health OK; inference not verified: {test.skipped_reason}")
    if evidence.api is not None and not (evidence.api.ok and evidence.api.chosen):
        return GateStatus.HEALTH_ONLY, "Health OK, but no API endpoint fits the task, so inference is unproven."
    if test is not None and test.call is not None and test.call.error:
        return GateStatus.HEALTH_ONLY, f"Health OK, but the inference call failed: {test.call.error[:200]}"
    if test is not None and test.verdict is not None and not test.verdict.ok:
        return GateStatus.HEALTH_ONLY, f"Health OK, but the output is not real inference: {test.verdict.detail}"
    return GateStatus.HEALTH_ONLY, "Health OK, but inference was not verified."


def revision_summary(evidence: GateEvidence, status: GateStatus, summary: str) -> str:
    """The summary of a revision's gate: which revision it is and, when it did not pass on a Space, that the Space
    now runs the revised code and how to go back.

        >>> evidence = GateEvidence(revision=2, parent_run_id="r1", space_id="o/s", space_stage=SpaceStage.RUNNING)
        >>> revision_summary(evidence, GateStatus.HEALTH_ONLY, "x")[:58]
        'Revision 2 (of run r1): x The Space o/s now runs this revi'
    """
    if evidence.revision <= 1:
        return summary
    text = f"Revision {evidence.revision} (of run {evidence.parent_run_id}): {summary}"
    if status is not GateStatus.FULL_INFERENCE_PASSED and evidence.space_id and evidence.space_stage is not None:
        text += (f" The Space {evidence.space_id} now runs this revision's code; to go back, revise this run with the "
                 f"files of run {evidence.parent_run_id} (get_app_files).")
    return text


def build_gate(evidence: GateEvidence) -> Gate:
    """The full `inference_gate.json` document for the evidence."""
    status, summary = classify_gate(evidence)
    summary = revision_summary(evidence, status, summary)
    facts = evidence.facts()
    if evidence.revision > 1:
        facts["revision"] = {"revision": evidence.revision, "parent_run_id": evidence.parent_run_id}
    if evidence.space_stage:
        facts["space_stage"] = evidence.space_stage
    if evidence.hardware_outcome:
        facts["hardware"] = {"flavor": evidence.hardware_flavor, "outcome": str(evidence.hardware_outcome),
                             "detail": evidence.hardware_detail}
    if hardware_shortfall(evidence) is not None:
        facts["space_hardware"] = {"requested": evidence.space_hardware_requested,
                                   "current": evidence.space_hardware_current}
    if status in (GateStatus.BUILD_FAILED, GateStatus.RUNTIME_FAILED):
        facts["build_log_tail"] = evidence.build_log_tail
        facts["run_log_tail"] = evidence.run_log_tail
    return Gate(
        status=status,
        summary=summary,
        checks=gate_checks(evidence),
        evidence=facts,
        blockers=evidence.blockers,
        space=GateSpace(id=evidence.space_id, url=evidence.space_url),
        how_to_call=evidence.how_to_call,
    )
