"""The full-inference gate's statuses and the hardware request outcomes (DESIGN §6)."""

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


class HardwareOutcome(StrEnum):
    REQUESTED = "requested"
    ALREADY_SET = "already_set"
    MANUAL_ACTION_REQUIRED = "manual_action_required"
    BILLING_REQUIRED = "billing_required"
    NOT_AVAILABLE = "not_available"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
