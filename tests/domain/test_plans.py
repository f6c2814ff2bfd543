"""ZeroGPU hosting by plan (hub-docs spaces-zerogpu.md; issue 13 §7): the limits, who holds a slot, the refusal."""

from __future__ import annotations

import pytest

from space_factory.domain.plans import (
    FREE_ZEROGPU_SPACES,
    PRO_ZEROGPU_SPACES,
    AccountPlan,
    ZeroGpuSlots,
    holds_zerogpu_slot,
    zerogpu_space_limit,
)

FREE = AccountPlan("user", is_pro=False, email_verified=True)
PRO = AccountPlan("user", is_pro=True, email_verified=True)


@pytest.mark.parametrize(("plan", "limit"), [
    (FREE, FREE_ZEROGPU_SPACES),
    (PRO, PRO_ZEROGPU_SPACES),
    (AccountPlan("user", is_pro=False, email_verified=False), 0),  # not in good standing
    (AccountPlan("user", is_pro=False), FREE_ZEROGPU_SPACES),  # emailVerified not said: not held against it
    (AccountPlan("user"), None),  # isPro not said
    (AccountPlan("org"), None),  # Team / Enterprise: "more", no number
    (AccountPlan("app"), None),
])
def test_the_plan_sets_how_many_zerogpu_spaces_an_account_may_host(plan: AccountPlan, limit: int | None) -> None:
    assert zerogpu_space_limit(plan) == limit


def test_a_space_holds_a_slot_while_it_asks_for_zerogpu_and_is_not_paused() -> None:
    assert holds_zerogpu_slot("BUILDING", "zero-a10g", None)
    assert holds_zerogpu_slot("RUNNING", "cpu-basic", "zero-a10g")
    assert not holds_zerogpu_slot("PAUSED", "zero-a10g", "zero-a10g")
    assert not holds_zerogpu_slot("RUNNING", "t4-small", "t4-small")


def test_a_free_account_with_both_slots_taken_is_refused_with_what_to_do() -> None:
    slots = ZeroGpuSlots.count("bob", FREE, ["bob/b", "bob/a", "bob/a"])
    assert (slots.holders, slots.left, slots.allows_zerogpu) == (("bob/a", "bob/b"), 0, False)
    reason = slots.refusal()
    assert reason is not None and reason.startswith("no ZeroGPU slot left")
    for part in ("bob/a, bob/b", "Pause or delete one", "https://huggingface.co/spaces/bob/a/settings",
                 "upgrade to PRO for 10", "allow_paid_fallback=true"):
        assert part in reason


def test_with_a_slot_left_or_no_known_limit_nothing_is_refused() -> None:
    assert ZeroGpuSlots.count("bob", FREE, ["bob/a"]).refusal() is None
    unknown = ZeroGpuSlots.count("acme", AccountPlan("org"), ["acme/" + str(i) for i in range(50)])
    assert (unknown.left, unknown.allows_zerogpu, unknown.refusal()) == (None, None, None)
    full_pro = ZeroGpuSlots.count("alice", PRO, [f"alice/s{i}" for i in range(12)])
    assert full_pro.left == 0 and "upgrade to PRO" not in (full_pro.refusal() or "")


def test_an_account_without_a_slot_at_all_is_told_why() -> None:
    reason = ZeroGpuSlots.count("new", AccountPlan("user", is_pro=False, email_verified=False), []).refusal()
    assert reason is not None and "verified email" in reason
