"""The full-inference gate's statuses and its checks' statuses (DESIGN §6)."""

from __future__ import annotations

from enum import StrEnum


class GateStatus(StrEnum):
    FULL_INFERENCE_PASSED = "full_inference_passed"
    FULL_INFERENCE_CANDIDATE_HEALTH_PASSED = "full_inference_candidate_health_passed"
    HEALTH_ONLY = "health_only"
    TECHNICAL_BLOCKER = "technical_blocker"
    MANUAL_HARDWARE_REQUIRED = "manual_hardware_required"
    BUILD_FAILED = "build_failed"
    RUNTIME_FAILED = "runtime_failed"
    CANCELED = "canceled"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
