"""`request_hardware`: a best-effort hardware change for a run's Space, with the cost confirmed first (DESIGN §6).

A paid flavor needs the user's consent to its hourly price; whether a request needs it, and at what
price, is the service's rule (`Factory.hardware_price_to_confirm`). A client that can ask its user
(elicitation) is asked through the SDK's `Resolve`/`Elicit`, which works in both protocol eras: a
standalone `elicitation/create` on 2025 sessions, an `InputRequiredResult` round on 2026-07-28 ones.
A client that cannot ask gets the service's `CostNotConfirmed` error, telling the agent to ask the
user and call again with `confirm_cost=true`. The local backend bills nothing (paid flavors answer
`not_available` there), so it never asks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
    Resolve,
)
from pydantic import BaseModel, Field

from space_factory.domain.hardware import HardwareFlavor, flavor_spec
from space_factory.domain.schemas import RunId
from space_factory.service import Factory
from space_factory.tools.annotations import HARDWARE
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.params import ConfirmCost, Flavor
from space_factory.tools.views import CostConfirmation, HardwareView

__all__ = ["CostApproval", "register"]


class CostApproval(BaseModel):
    """The form the user sees (flat primitives only, as elicitation requires)."""

    approve: bool = Field(description="Approve this hourly cost?")


class _NotAsked(BaseModel):
    """What the resolver returns when it did not ask the user, and why."""

    reason: Literal["not_needed", "confirm_cost", "cannot_ask"]


def _client_can_elicit(ctx: Context[Any, Any]) -> bool:
    caps = ctx.client_capabilities
    return caps is not None and caps.elicitation is not None


async def _approve_cost(run_id: str, flavor: HardwareFlavor, confirm_cost: bool, factory: FactoryDep,
                        ctx: Context[Any, Any]) -> CostApproval | _NotAsked | Elicit[CostApproval]:
    # Re-runs on each 2026-07-28 round, so the question must be the same every time (no timestamps).
    price = await call_service(factory.hardware_price_to_confirm, run_id, HardwareFlavor(flavor).value)
    if price is None:
        return _NotAsked(reason="not_needed")
    if confirm_cost:
        return _NotAsked(reason="confirm_cost")
    if not _client_can_elicit(ctx):
        return _NotAsked(reason="cannot_ask")
    name = HardwareFlavor(flavor).value
    return Elicit(f"Run {run_id} asks to move its Space to {name}, which costs ${price:.2f}/hour while the Space "
                  "runs, billed to the Space's owner. Approve?", CostApproval)


def _settle(approval: ElicitationResult[Any]) -> tuple[bool, CostConfirmation]:
    """`(confirm_cost to pass on, how the cost was settled)`."""
    match approval:
        case AcceptedElicitation(data=CostApproval(approve=True)):
            return True, "user_confirmed"
        case AcceptedElicitation(data=_NotAsked(reason="confirm_cost")):
            return True, "confirm_cost"
        case AcceptedElicitation(data=_NotAsked()):
            return False, "not_needed"  # cannot_ask on a paid flavor: the service raises CostNotConfirmed
        case CancelledElicitation():
            return False, "user_canceled"
        case AcceptedElicitation() | DeclinedElicitation():
            return False, "user_declined"
    raise AssertionError(f"unexpected elicitation outcome {approval!r}")


def _request(factory: Factory, run_id: str, flavor: str, confirm: bool, how: CostConfirmation) -> HardwareView:
    if how in ("user_declined", "user_canceled"):
        spec = flavor_spec(flavor)
        return HardwareView(run_id=run_id, flavor=flavor, requested=False, cost_confirmation=how,
                            hourly_cost_usd=spec.hourly_usd if spec else None, space_id=factory.state(run_id).space.id,
                            detail="the user did not approve the cost; nothing was requested",
                            next_step="Keep the current hardware, or ask the user again later.")
    result = factory.request_hardware(run_id, flavor, confirm_cost=confirm)
    return HardwareView(run_id=run_id, flavor=result.flavor, requested=True, outcome=result.outcome,
                        detail=result.detail, hourly_cost_usd=result.hourly_cost_usd, cost_confirmation=how,
                        space_id=result.space_id, next_step=(
                            "Poll get_run_status: the Space restarts on the new hardware. If the outcome is "
                            "manual_action_required or billing_required, give the user the detail; they must act."))


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Request hardware for a run's Space", annotations=HARDWARE)
    @clean_doc
    async def request_hardware(
        run_id: RunId,
        flavor: Flavor,
        factory: FactoryDep,
        approval: Annotated[ElicitationResult[CostApproval], Resolve(_approve_cost)],
        confirm_cost: ConfirmCost = False,
    ) -> HardwareView:
        """Ask for another hardware flavor for the Space a run created (best effort), e.g. after a gate of
        manual_hardware_required or full_inference_candidate_health_passed.

        Outcomes: requested, already_set, manual_action_required (the token may not change paid hardware: the
        user must do it, no retry), billing_required, not_available (unknown flavor, or not on this backend;
        the local backend runs on this machine's CPU), rate_limited, error. A paid flavor's hourly cost must be
        approved: the user is asked when the client supports it; otherwise ask the user yourself and call
        again with confirm_cost=true. Every request is recorded in the run's hardware_requests.jsonl.
        """
        confirm, how = _settle(approval)
        return await call_service(_request, factory, run_id, flavor.value, confirm, how)
