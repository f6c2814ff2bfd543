"""The gate notices the hardware the Space actually got (issue 13 §7): ZeroGPU asked for, CPU given.

A third-party report says an account that loses PRO has its ZeroGPU Spaces moved to CPU, and a Space without
a ZeroGPU slot cannot have one: the gate says so in its checks and summary, and a model that needs a GPU
is never `full_inference_passed` without the summary saying where it ran.
"""

from __future__ import annotations

from space_factory.domain.gate import GateEvidence, build_gate, classify_gate, gate_checks
from space_factory.domain.gate_status import CheckStatus, GateStatus
from space_factory.domain.schemas import HealthResult, OutputVerdict, PredictCall, TestResult

URL = "https://alice-demo.hf.space"
HEALTH_OK = HealthResult(ok=True, url=URL + "/health", status_code=200, attempts=1)
PASSED = TestResult(ok=True, api_name="/predict", task="text-generation",
                    call=PredictCall(inputs=["'hi'"], output_excerpt="a story", output_type="str", latency_ms=9),
                    verdict=OutputVerdict(ok=True, kind="text", detail="generated 12 words"))
TIMED_OUT = TestResult(ok=False, api_name="/predict", task="text-generation",
                       call=PredictCall(inputs=["'hi'"], error="TimeoutError: no answer in 300 s"))


def evidence(test: TestResult, *, needs_gpu: bool = True, got: str | None = "cpu-basic") -> GateEvidence:
    return GateEvidence(space_id="alice/demo", space_url=URL, space_stage="RUNNING", health=HEALTH_OK,  # type: ignore[arg-type]
                        test=test, needs_gpu=needs_gpu, space_hardware_requested="zero-a10g",
                        space_hardware_current=got)


def test_a_gpu_model_on_the_cpu_it_was_moved_to_needs_hardware_not_a_health_only_verdict() -> None:
    status, summary = classify_gate(evidence(TIMED_OUT))
    assert status is GateStatus.MANUAL_HARDWARE_REQUIRED
    assert "asked for zero-a10g but runs on cpu-basic" in summary and "ZeroGPU slot" in summary
    checks = {c.name: c for c in gate_checks(evidence(TIMED_OUT))}
    assert checks["hardware"].status is CheckStatus.FAILED and "cpu-basic" in checks["hardware"].detail
    gate = build_gate(evidence(TIMED_OUT))
    assert gate.evidence["space_hardware"] == {"requested": "zero-a10g", "current": "cpu-basic"}


def test_inference_that_passed_anyway_on_cpu_says_where_it_ran() -> None:
    status, summary = classify_gate(evidence(PASSED))
    assert status is GateStatus.FULL_INFERENCE_PASSED
    assert summary.endswith("Note: the Space asked for zero-a10g but runs on cpu-basic: no ZeroGPU slot was left, "
                            "or the plan no longer allows it.")


def test_the_hardware_it_asked_for_adds_no_check_and_no_note() -> None:
    for got in ("zero-a10g", None):  # granted, or not known (never read while RUNNING)
        status, summary = classify_gate(evidence(PASSED, got=got))
        assert status is GateStatus.FULL_INFERENCE_PASSED and "Note" not in summary
        assert "hardware" not in {c.name for c in gate_checks(evidence(PASSED, got=got))}
    # A CPU model that happens to be on other hardware is noted, not held back.
    status, _ = classify_gate(evidence(TIMED_OUT, needs_gpu=False))
    assert status is GateStatus.HEALTH_ONLY
