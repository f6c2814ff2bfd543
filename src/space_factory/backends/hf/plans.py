"""The owner's hosting plan on the Hub: its ZeroGPU slots, counted from its Spaces (domain/plans.py).

One `GET /api/spaces?author=<owner>&expand=runtime` lists the owner's Spaces (private ones too, with the
owner's token) with their stage and hardware; a plan without a known limit costs no request.
"""

from __future__ import annotations

from huggingface_hub import HfApi

from space_factory.backends.hf.auth import HubIdentity
from space_factory.backends.hf.errors import hub_errors
from space_factory.domain.plans import ZeroGpuSlots, holds_zerogpu_slot, zerogpu_space_limit

__all__ = ["HfHostingPlan"]


class HfHostingPlan:
    """A `HostingPlan` of the token's user.

    Args:
        api: the Hub client.
        token: the owner's token.
        identity: the owner, as `whoami` named it.
    """

    def __init__(self, api: HfApi, token: str, identity: HubIdentity) -> None:
        self.api = api
        self._token = token
        self.identity = identity

    def __repr__(self) -> str:
        return f"HfHostingPlan({self.identity.namespace!r})"

    @property
    def plan_allows_zerogpu(self) -> bool | None:
        """Whether the plan lets the owner host ZeroGPU Spaces at all, before counting them; None if not known."""
        return ZeroGpuSlots.count(self.identity.namespace, self.identity.plan, ()).allows_zerogpu

    def zerogpu_slots(self) -> ZeroGpuSlots:
        owner, plan = self.identity.namespace, self.identity.plan
        if not zerogpu_space_limit(plan):  # no known limit, or no slot at all: nothing to count
            return ZeroGpuSlots.count(owner, plan, ())
        with hub_errors(f"list the Spaces of {owner} (to count its ZeroGPU Spaces)", scope="read"):
            spaces = list(self.api.list_spaces(author=owner, expand=["runtime"], token=self._token))
        holders = [space.id for space in spaces if space.runtime is not None and holds_zerogpu_slot(
            _str(space.runtime.stage), _str(space.runtime.requested_hardware), _str(space.runtime.hardware))]
        return ZeroGpuSlots.count(owner, plan, holders)


def _str(value: object) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))
