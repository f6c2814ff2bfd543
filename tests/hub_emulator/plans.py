"""ZeroGPU hosting slots per plan, as hub-docs `spaces-zerogpu.md` states them (issue 13 point 7).

A free user in good standing (verified email) may host 2 ZeroGPU Spaces, a PRO user 10. A Space that asks for
`zero-a10g` beyond that is created, its request kept, but runs on `cpu-basic` — what a third-party report says
happens to the ZeroGPU Spaces of an account that loses PRO; the Hub's answer to a fresh request over the limit
is not documented. A slot is held by a Space whose current hardware is ZeroGPU and that is not paused.

`add_space` puts a Space that exists only on the emulated Hub (no app is run for it), e.g. the ZeroGPU Spaces a
user already has.
"""

from __future__ import annotations

from typing import Any

from space_factory.domain.stages import SpaceStage
from tests.hub_emulator.state import HubState, User

ZEROGPU = "zero-a10g"
FREE_SLOTS = 2
PRO_SLOTS = 10


def slot_limit(user: User) -> int:
    if user.is_pro:
        return PRO_SLOTS
    return FREE_SLOTS if user.email_verified else 0


def zerogpu_holders(hub: HubState, owner: str, *, besides: str | None = None) -> list[str]:
    """The ids of `owner`'s Spaces that hold a ZeroGPU slot (other than `besides`)."""
    return sorted(space_id for space_id, meta in hub.spaces.items()
                  if space_id.startswith(owner + "/") and space_id != besides and meta.get("hardware") == ZEROGPU
                  and meta.get("stage") != SpaceStage.PAUSED)


def granted_hardware(hub: HubState, user: User, space_id: str, requested: str) -> str:
    """The hardware a Space of `user` gets when it asks for `requested`."""
    if requested != ZEROGPU or not hub.faults.rules.zerogpu_slots:
        return requested
    return ZEROGPU if len(zerogpu_holders(hub, user.name, besides=space_id)) < slot_limit(user) else "cpu-basic"


def add_space(hub: HubState, space_id: str, *, hardware: str = ZEROGPU, stage: SpaceStage = SpaceStage.RUNNING,
              private: bool = True) -> dict[str, Any]:
    """A Space on the emulated Hub only, at `stage` on `hardware` (nothing runs for it)."""
    meta: dict[str, Any] = {"hardware": hardware, "requested": hardware, "private": private, "files": {},
                            "stage": stage, "placeholder": True}
    with hub.lock:
        hub.spaces[space_id] = meta
    return meta
