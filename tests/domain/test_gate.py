"""The full-inference gate: evidence in, verdict out, rules in a fixed order (DESIGN §6; docs/architecture.md)."""

from __future__ import annotations

import itertools

import pytest

from space_factory.domain.gate import (
    MANUAL_OUTCOMES,
    GateEvidence,
    build_gate,
    classify_gate,
    gate_checks,
)
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.schemas import (
    ApiEndpoint,
    ApiSchema,
    Blocker,
    HealthResult,
    HowToCall,
    OutputVerdict,
    PredictCall,
    TestResult,
)
from space_factory.domain.stages import SPACE_BUILD_ERROR_STAGES as BUILD_ERROR_STAGES

URL = "http://127.0.0.1:7860/"
HEALTH_OK = HealthResult(ok=True, url=URL + "health", status_code=200, attempts=2)
HEALTH_DOWN = HealthResult(ok=False, url=URL + "health", attempts=5, error="GET /health failed: ConnectError")
API_OK = ApiSchema(ok=True, endpoints=[ApiEndpoint(api_name="/predict")], chosen="/predict")
API_NO_FIT = ApiSchema(ok=True, endpoints=[ApiEndpoint(api_name="/other")], reason="no named endpoint fits")
API_BROKEN = ApiSchema(ok=False, error="view_api failed: ValueError: Could not fetch config")
CALL_OK = PredictCall(inputs=["'Once upon a time'"], output_excerpt="a story", output_type="str", latency_ms=12)
CALL_RAISED = PredictCall(inputs=["'Once upon a time'"], error="AppError: out of memory")
VALID = OutputVerdict(ok=True, kind="text", detail="generated 12 words, not an echo")
INVALID = OutputVerdict(ok=False, kind="text", detail="the output echoes the input")
PASSED_TEST = TestResult(ok=True, api_name="/predict", task="text-generation", call=CALL_OK, verdict=VALID)
INVALID_TEST = TestResult(ok=False, api_name="/predict", task="text-generation", call=CALL_OK, verdict=INVALID)
RAISED_TEST = TestResult(ok=False, api_name="/predict", task="text-generation", call=CALL_RAISED)
SKIPPED_TEST = TestResult(ok=False, task="text-generation", skipped_reason="the model needs a GPU not granted yet")
BLOCKER = Blocker(title="needs a custom CUDA kernel", detail="flash-attn only", source="agent")


def _evidence(**changes: object) -> GateEvidence:
    """A run that built, answered /health and passed inference; each test spoils one part."""
    base: dict[str, object] = {"space_id": "tester/app", "space_url": URL, "space_stage": "RUNNING",
                               "health": HEALTH_OK, "api": API_OK, "test": PASSED_TEST}
    base.update(changes)
    return GateEvidence(**base)  # type: ignore[arg-type]


def _checks(evidence: GateEvidence) -> dict[str, CheckStatus]:
    return {check.name: check.status for check in gate_checks(evidence)}


def test_a_healthy_app_with_a_valid_output_passes_full_inference() -> None:
    """full_inference_passed needs /health OK and a valid output (DESIGN §6)."""
    status, summary = classify_gate(_evidence())
    assert status is GateStatus.FULL_INFERENCE_PASSED
    assert VALID.detail in summary


def test_cancel_wins_over_every_other_piece_of_evidence() -> None:
    """canceled is the first rule (docs/architecture.md, the gate's order)."""
    evidence = _evidence(canceled=True, blockers=[BLOCKER], space_stage="BUILD_ERROR", health=None)
    assert classify_gate(evidence)[0] is GateStatus.CANCELED
    assert classify_gate(GateEvidence(canceled=True))[0] is GateStatus.CANCELED


def test_blockers_win_over_a_build_error_and_name_the_first_three_titles() -> None:
    """technical_blocker: the agent or the factory declared blockers (DESIGN §6); rule 2."""
    blockers = [Blocker(title=f"blocker {i}") for i in range(5)]
    status, summary = classify_gate(_evidence(blockers=blockers, space_stage="BUILD_ERROR"))
    assert status is GateStatus.TECHNICAL_BLOCKER
    assert "blocker 0; blocker 1; blocker 2" in summary and "blocker 3" not in summary


@pytest.mark.parametrize("stage", sorted(BUILD_ERROR_STAGES))
def test_a_build_error_stage_is_build_failed_even_with_manual_hardware(stage: str) -> None:
    """build_failed: the Space never built (DESIGN §6); rule 3 comes before manual hardware."""
    evidence = _evidence(space_stage=stage, health=None, test=None, needs_gpu=True,
                         hardware_outcome=HardwareOutcome.BILLING_REQUIRED)
    status, summary = classify_gate(evidence)
    assert status is GateStatus.BUILD_FAILED
    assert stage in summary


@pytest.mark.parametrize("outcome", sorted(MANUAL_OUTCOMES))
def test_a_gpu_model_whose_hardware_could_not_be_obtained_needs_manual_hardware(outcome: HardwareOutcome) -> None:
    """manual_hardware_required: 401/403/402 on a hardware request for a model that needs a GPU (DESIGN §6)."""
    evidence = _evidence(needs_gpu=True, hardware_flavor="t4-small", hardware_outcome=outcome,
                         health=HEALTH_DOWN, test=None)
    status, summary = classify_gate(evidence)
    assert status is GateStatus.MANUAL_HARDWARE_REQUIRED
    assert "t4-small" in summary and str(outcome) in summary


def test_manual_hardware_is_not_reported_when_inference_passed_anyway() -> None:
    """The gate reports what the evidence shows: a passing call beats a refused hardware request (DESIGN §6)."""
    evidence = _evidence(needs_gpu=True, hardware_outcome=HardwareOutcome.MANUAL_ACTION_REQUIRED)
    assert classify_gate(evidence)[0] is GateStatus.FULL_INFERENCE_PASSED


def test_manual_hardware_is_not_reported_for_a_model_that_does_not_need_a_gpu() -> None:
    """Only a model that needs a GPU is held back by the hardware it was refused (DESIGN §6)."""
    evidence = _evidence(needs_gpu=False, hardware_outcome=HardwareOutcome.BILLING_REQUIRED, test=SKIPPED_TEST)
    assert classify_gate(evidence)[0] is GateStatus.FULL_INFERENCE_CANDIDATE_HEALTH_PASSED


@pytest.mark.parametrize("outcome", [o for o in HardwareOutcome if o not in MANUAL_OUTCOMES])
def test_other_hardware_outcomes_never_make_the_gate_manual(outcome: HardwareOutcome) -> None:
    """Only manual_action_required and billing_required leave the user to act (DESIGN §6)."""
    evidence = _evidence(needs_gpu=True, hardware_outcome=outcome, health=HEALTH_DOWN, test=None)
    assert classify_gate(evidence)[0] is GateStatus.RUNTIME_FAILED


@pytest.mark.parametrize("health", [None, HEALTH_DOWN], ids=["never-reached", "not-ok"])
def test_no_healthy_health_check_is_runtime_failed(health: HealthResult | None) -> None:
    """runtime_failed: the Space never answered /health (DESIGN §6), whatever the API evidence says."""
    status, summary = classify_gate(_evidence(health=health, space_stage="RUNTIME_ERROR"))
    assert status is GateStatus.RUNTIME_FAILED
    assert "RUNTIME_ERROR" in summary


def test_a_skipped_inference_with_a_reason_is_a_candidate() -> None:
    """full_inference_candidate_health_passed: health OK, inference not verifiable, and why (DESIGN §6)."""
    status, summary = classify_gate(_evidence(test=SKIPPED_TEST))
    assert status is GateStatus.FULL_INFERENCE_CANDIDATE_HEALTH_PASSED
    assert SKIPPED_TEST.skipped_reason in summary  # type: ignore[operator]


@pytest.mark.parametrize(
    ("api", "test"),
    [(API_OK, INVALID_TEST), (API_OK, RAISED_TEST), (API_NO_FIT, None), (API_BROKEN, None), (None, None),
     (API_NO_FIT, TestResult(ok=False, task="text-generation")),
     (API_OK, TestResult(ok=False, api_name="/predict", call=CALL_OK))],
    ids=["invalid-output", "call-raised", "no-endpoint-fits", "view-api-failed", "nothing-inspected",
         "skip-without-reason", "output-not-judged"])
def test_a_healthy_app_without_proven_inference_is_health_only(api: ApiSchema | None, test: TestResult | None) -> None:
    """health_only: /health OK, but the call failed, the output is invalid, or nothing fits (DESIGN §6)."""
    assert classify_gate(_evidence(api=api, test=test))[0] is GateStatus.HEALTH_ONLY


def test_an_app_with_no_endpoint_for_its_task_is_health_only_not_a_hardware_candidate() -> None:
    """The evidence validate_app records when no endpoint fits: health_only, since the app cannot do the task
    (DESIGN §6); a candidate would send the agent after hardware instead."""
    evidence = _evidence(api=API_NO_FIT, test=TestResult(ok=False, task="text-generation"))
    status, summary = classify_gate(evidence)
    assert status is GateStatus.HEALTH_ONLY
    assert "no API endpoint fits" in summary


@pytest.mark.parametrize(
    ("test_ok", "verdict"),
    [(True, INVALID), (False, VALID), (False, INVALID), (True, None), (False, None)])
def test_a_passing_verdict_is_never_produced_from_an_invalid_test(test_ok: bool, verdict: OutputVerdict | None) -> None:
    """The gate never reports more than its evidence shows: passed needs test.ok and a valid verdict (DESIGN §6)."""
    test = TestResult(ok=test_ok, api_name="/predict", call=CALL_OK, verdict=verdict)
    assert classify_gate(_evidence(test=test))[0] is not GateStatus.FULL_INFERENCE_PASSED


def test_no_combination_of_weaker_evidence_ever_passes() -> None:
    """Table test over every mix of stage, health, API, test and hardware: passed only with all of them good."""
    stages = [None, "RUNNING", "BUILD_ERROR", "RUNTIME_ERROR"]
    healths = [None, HEALTH_OK, HEALTH_DOWN]
    apis = [None, API_OK, API_NO_FIT, API_BROKEN]
    tests = [None, PASSED_TEST, INVALID_TEST, RAISED_TEST, SKIPPED_TEST]
    outcomes = [None, *HardwareOutcome]
    for stage, health, api, test, outcome, needs_gpu, blocked in itertools.product(
            stages, healths, apis, tests, outcomes, (False, True), (False, True)):
        evidence = GateEvidence(space_stage=stage, health=health, api=api, test=test, hardware_outcome=outcome,
                                needs_gpu=needs_gpu, blockers=[BLOCKER] if blocked else [])
        status = classify_gate(evidence)[0]
        if status is GateStatus.FULL_INFERENCE_PASSED:
            assert health is HEALTH_OK and test is PASSED_TEST, evidence
            assert stage not in BUILD_ERROR_STAGES, evidence
        if blocked:  # blockers decide whenever the live checks did not pass (DESIGN §6)
            assert status in (GateStatus.FULL_INFERENCE_PASSED, GateStatus.TECHNICAL_BLOCKER, GateStatus.CANCELED)
        if health is not HEALTH_OK and stage not in BUILD_ERROR_STAGES and not blocked:
            assert status in (GateStatus.RUNTIME_FAILED, GateStatus.MANUAL_HARDWARE_REQUIRED), evidence


def test_a_live_pass_outranks_declared_blockers_which_stay_as_notes() -> None:
    """DESIGN §6: blockers decide the gate only when the wrapper's own checks did not pass."""
    gate = build_gate(_evidence(blockers=[BLOCKER]))
    assert gate.status is GateStatus.FULL_INFERENCE_PASSED
    assert [b.title for b in gate.blockers] == [BLOCKER.title]
    assert classify_gate(_evidence(blockers=[BLOCKER], test=INVALID_TEST))[0] is GateStatus.TECHNICAL_BLOCKER


def test_checks_list_build_health_api_predict_and_output_in_pipeline_order() -> None:
    """gate_checks gives one row per check, in pipeline order (DESIGN §6 `checks`)."""
    checks = gate_checks(_evidence(durations_ms={"health": 1500, "predict": 80}))
    assert [c.name for c in checks] == ["build", "health", "api_schema", "predict", "output_valid", "mcp"]
    assert all(c.status is CheckStatus.PASSED for c in checks[:-1])
    assert checks[-1].status is CheckStatus.SKIPPED  # no MCP check in this evidence
    assert {c.name: c.duration_ms for c in checks} == {"build": None, "health": 1500, "api_schema": None,
                                                       "predict": 80, "output_valid": None, "mcp": None}


def test_checks_mark_what_never_ran_as_skipped_and_what_broke_as_failed() -> None:
    """Check rows say skipped for phases that never ran and failed for broken ones (DESIGN §6)."""
    assert set(_checks(GateEvidence()).values()) == {CheckStatus.SKIPPED}
    assert _checks(_evidence(space_stage="BUILD_ERROR", health=HEALTH_DOWN, api=API_BROKEN, test=RAISED_TEST)) == {
        "build": CheckStatus.FAILED, "health": CheckStatus.FAILED, "api_schema": CheckStatus.FAILED,
        "predict": CheckStatus.FAILED, "output_valid": CheckStatus.SKIPPED, "mcp": CheckStatus.SKIPPED}
    assert _checks(_evidence(test=INVALID_TEST))["output_valid"] is CheckStatus.FAILED
    skipped = {c.name: c for c in gate_checks(_evidence(test=SKIPPED_TEST))}
    assert skipped["predict"].status is CheckStatus.SKIPPED
    assert skipped["predict"].detail == SKIPPED_TEST.skipped_reason


@pytest.mark.parametrize(
    ("changes", "status"),
    [({"space_stage": "BUILD_ERROR", "health": None, "test": None}, GateStatus.BUILD_FAILED),
     ({"space_stage": "RUNTIME_ERROR", "health": HEALTH_DOWN, "test": None}, GateStatus.RUNTIME_FAILED)])
def test_build_and_run_log_tails_are_attached_on_build_or_runtime_failure(changes: dict[str, object],
                                                                         status: GateStatus) -> None:
    """build_failed / runtime_failed: logs attached (DESIGN §6)."""
    gate = build_gate(_evidence(build_log_tail="pip: no such file", run_log_tail="Traceback ...", **changes))
    assert gate.status is status
    assert gate.evidence["build_log_tail"] == "pip: no such file"
    assert gate.evidence["run_log_tail"] == "Traceback ..."


@pytest.mark.parametrize("changes", [{}, {"test": INVALID_TEST}, {"test": SKIPPED_TEST}, {"canceled": True},
                                     {"blockers": [BLOCKER]}])
def test_log_tails_stay_out_of_gates_that_are_not_build_or_runtime_failures(changes: dict[str, object]) -> None:
    """Log tails belong only to build_failed / runtime_failed gates (DESIGN §6)."""
    gate = build_gate(_evidence(build_log_tail="build", run_log_tail="run", **changes))
    assert "build_log_tail" not in gate.evidence and "run_log_tail" not in gate.evidence


def test_the_gate_document_carries_space_blockers_evidence_and_how_to_call() -> None:
    """inference_gate.json: {status, summary, checks, evidence, blockers, space, how_to_call} (DESIGN §6)."""
    how = HowToCall(space_id="tester/app", url=URL, api_name="/predict", python="print(1)")
    gate = build_gate(_evidence(blockers=[BLOCKER], how_to_call=how, needs_gpu=True, hardware_flavor="t4-small",
                                hardware_outcome=HardwareOutcome.NOT_AVAILABLE, hardware_detail="not here"))
    assert gate.status is GateStatus.FULL_INFERENCE_PASSED  # the live pass outranks the blocker, kept as a note
    assert gate.blockers == [BLOCKER]
    assert (gate.space.id, gate.space.url) == ("tester/app", URL)
    assert gate.how_to_call == how
    assert gate.evidence["hardware"] == {"flavor": "t4-small", "outcome": "not_available", "detail": "not here"}
    assert gate.evidence["api"] == {"chosen": "/predict", "endpoints": ["/predict"]}
    assert gate.evidence["space_stage"] == "RUNNING"
    assert gate.evidence["health"]["status_code"] == 200
    assert gate.evidence["test_result"]["verdict"]["ok"] is True
    assert [c.name for c in gate.checks] == [c.name for c in gate_checks(_evidence())]


def test_a_canceled_gate_with_no_evidence_is_a_valid_document() -> None:
    """cancel writes a gate from no evidence at all (DESIGN §6 `canceled`)."""
    gate = build_gate(GateEvidence(canceled=True))
    assert gate.status is GateStatus.CANCELED
    assert gate.evidence == {} and gate.blockers == [] and gate.how_to_call is None
    assert gate.model_validate_json(gate.model_dump_json()) == gate
