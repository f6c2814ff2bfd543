"""What a hardware request came to (DESIGN §6): the backend's answer to "run this Space on that flavor"."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HardwareOutcome"]


# The outcome of asking for a hardware flavor; the manual ones make the gate `manual_hardware_required`.
# (A comment, not a docstring: pydantic would copy a docstring into the tools' published schemas.)
class HardwareOutcome(StrEnum):
    REQUESTED = "requested"
    ALREADY_SET = "already_set"
    MANUAL_ACTION_REQUIRED = "manual_action_required"
    BILLING_REQUIRED = "billing_required"
    NOT_AVAILABLE = "not_available"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
