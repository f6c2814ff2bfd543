"""The Hub's plan rules for hosting ZeroGPU Spaces, and the owner's slots under them. Pure.

From hub-docs `docs/hub/spaces-zerogpu.md` ("Hosting your own ZeroGPU Spaces", commit 242f4a1, 2026-08-22):
free personal accounts in good standing (verified email, account older than 30 days) may host up to 2
ZeroGPU Spaces, PRO accounts up to 10, and Team / Enterprise organizations enable ZeroGPU for their members
(no number given). `whoami` says `isPro` and `emailVerified` for a user token only; an org, app or OAuth
app token (`type` "org" / "app") carries neither (huggingface.js `ApiWhoAmIReponse`), and no `whoami`
field gives an account's age.

What the factory assumes beyond that:
- a Space holds a ZeroGPU slot while it asks for `zero-a10g` (requested or current hardware) and is not
  paused: pausing or deleting one is what frees a slot;
- a user without a verified email has no slot; the 30-day rule cannot be checked, so it is not;
- an owner whose plan is unknown (no `isPro` in `whoami`) has no known limit: nothing is refused early,
  and the gate reports the hardware the Space actually got.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from space_factory.domain.hardware import ZEROGPU_FLAVOR
from space_factory.domain.stages import SpaceStage

__all__ = [
    "FREE_ZEROGPU_SPACES",
    "PRO_ZEROGPU_SPACES",
    "AccountPlan",
    "ZeroGpuSlots",
    "holds_zerogpu_slot",
    "zerogpu_space_limit",
]

FREE_ZEROGPU_SPACES = 2
PRO_ZEROGPU_SPACES = 10
_SETTINGS = "https://huggingface.co/spaces/{}/settings"
_UPGRADE = "https://huggingface.co/subscribe/pro"
_NAMED_HOLDERS = 10


@dataclass(frozen=True)
class AccountPlan:
    """What `whoami` says about the plan of the account Spaces go under.

    Attributes:
        kind: `whoami`'s `type`: "user", "org" or "app".
        is_pro: `isPro`, or None where `whoami` does not say (org and app tokens).
        email_verified: `emailVerified`, or None where `whoami` does not say.
    """

    kind: str = "user"
    is_pro: bool | None = None
    email_verified: bool | None = None

    @property
    def label(self) -> str:
        """The plan in words: "a PRO account", "a free account", or "an account whose plan is not known"."""
        if self.kind == "user" and self.is_pro is True:
            return "a PRO account"
        if self.kind == "user" and self.is_pro is False:
            return "a free account"
        return "an account whose plan is not known"


def zerogpu_space_limit(plan: AccountPlan) -> int | None:
    """How many ZeroGPU Spaces the account may host; None where the rules give no number.

    Example:
        >>> zerogpu_space_limit(AccountPlan("user", is_pro=True)), zerogpu_space_limit(AccountPlan("user", False))
        (10, 2)
        >>> unverified = AccountPlan("user", is_pro=False, email_verified=False)
        >>> zerogpu_space_limit(unverified), zerogpu_space_limit(AccountPlan("app"))
        (0, None)
    """
    if plan.kind != "user" or plan.is_pro is None:
        return None
    if plan.is_pro:
        return PRO_ZEROGPU_SPACES
    return 0 if plan.email_verified is False else FREE_ZEROGPU_SPACES


def holds_zerogpu_slot(stage: SpaceStage | str | None, requested: str | None, current: str | None) -> bool:
    """Whether a Space in `stage` with this hardware takes one of its owner's ZeroGPU slots.

    Example:
        >>> holds_zerogpu_slot("RUNNING", "zero-a10g", "zero-a10g"), holds_zerogpu_slot("PAUSED", "zero-a10g", None)
        (True, False)
    """
    if stage == SpaceStage.PAUSED:
        return False
    return ZEROGPU_FLAVOR in (requested, current)


@dataclass(frozen=True)
class ZeroGpuSlots:
    """The owner's ZeroGPU slots: the plan's limit and the Spaces that hold one.

    Attributes:
        owner: the namespace the Spaces are under.
        plan: what `whoami` said about the plan.
        limit: `zerogpu_space_limit(plan)`; None when not known.
        holders: ids of the owner's Spaces that hold a slot, sorted.
    """

    owner: str
    plan: AccountPlan
    limit: int | None
    holders: tuple[str, ...] = ()

    @classmethod
    def count(cls, owner: str, plan: AccountPlan, holders: Iterable[str]) -> ZeroGpuSlots:
        """The slots of `owner` under `plan`, given the ids of its Spaces that hold one."""
        return cls(owner, plan, zerogpu_space_limit(plan), tuple(sorted(set(holders))))

    @property
    def left(self) -> int | None:
        """Free slots (never negative), or None when the limit is not known."""
        return None if self.limit is None else max(0, self.limit - len(self.holders))

    @property
    def allows_zerogpu(self) -> bool | None:
        """Whether one more ZeroGPU Space fits (the recommender's `zerogpu_allowed`); None when not known."""
        left = self.left
        return None if left is None else left > 0

    def refusal(self) -> str | None:
        """Why a build that needs a ZeroGPU slot cannot start, with what to do; None while a slot is left.

        Example:
            >>> ZeroGpuSlots.count("alice", AccountPlan("user", False), ["alice/a", "alice/b"]).refusal()[:72]
            'no ZeroGPU slot left: alice is a free account, which may host 2 ZeroGPU '
        """
        if self.left is None or self.left > 0:
            return None
        if not self.holders:
            return (f"no ZeroGPU slot: {self.owner} is {self.plan.label} that may not host ZeroGPU Spaces yet "
                    "(free accounts need a verified email and an account older than 30 days). Verify the email at "
                    f"https://huggingface.co/settings/account, or upgrade ({_UPGRADE}), or launch with "
                    "allow_paid_fallback=true to use a paid GPU.")
        shown = ", ".join(self.holders[:_NAMED_HOLDERS]) + (" …" if len(self.holders) > _NAMED_HOLDERS else "")
        upgrade = f"upgrade to PRO for {PRO_ZEROGPU_SPACES} ({_UPGRADE})" if self.plan.is_pro is False \
            else "move a Space to other hardware"
        return (f"no ZeroGPU slot left: {self.owner} is {self.plan.label}, which may host {self.limit} ZeroGPU "
                f"Space(s), and {len(self.holders)} hold one: {shown}. Pause or delete one of them (its settings: "
                f"{_SETTINGS.format(self.holders[0])}), or {upgrade}, or launch with allow_paid_fallback=true to "
                "use a paid GPU. Nothing was started.")
