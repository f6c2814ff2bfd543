"""Hub errors reach the agent as factory errors it can act on, never with the token (issue 4; STYLE R8)."""

from __future__ import annotations

import pytest

from space_factory.domain.errors import ModelNotFound, TokenScopeMissing
from space_factory.domain.phases import RunStatus
from tests.hub_emulator.fixtures import ALICE, BOB, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.support.tokens import fake_token

BAD_TOKEN = fake_token()  # the emulator knows no such user


def test_an_invalid_token_is_a_token_error_without_the_token(hub: HubEmulator) -> None:
    """DESIGN §9: whoami refuses the token → TokenScopeMissing; the message never holds the token."""
    with pytest.raises(TokenScopeMissing) as caught:
        hf_factory(BAD_TOKEN)
    assert BAD_TOKEN not in str(caught.value)


def test_analyze_reads_a_model_from_the_hub_and_names_a_missing_one(hub: HubEmulator,
                                                                     tiny_models: dict[str, str]) -> None:
    """DESIGN §2: models come from model_info + README.md/config.json; a missing model is ModelNotFound."""
    factory = hf_factory(ALICE.token)
    view = factory.analyze(tiny_models["tiny-gpt2"])
    assert view.analysis.task == "text-generation" and view.analysis.params
    with pytest.raises(ModelNotFound) as caught:
        factory.analyze("factory-test/not-on-the-hub")
    assert caught.value.model == "factory-test/not-on-the-hub"


def test_a_token_without_the_jobs_scope_fails_the_launch_with_a_scope_error(hub: HubEmulator) -> None:
    """Issue 4: a 403 on run_job names the missing `jobs` permission; the run is failed, not left queued."""
    factory = hf_factory(ALICE.token)
    hub.fail("POST", r"^/api/jobs/alice$", 403, times=1)
    state = factory.launch("factory-test/not-on-the-hub")
    assert state.status is RunStatus.FAILED and "'jobs' permission" in (state.error or "")
    assert ALICE.token not in (state.error or "")


def test_jobs_without_a_paying_account_fail_the_launch_with_billing_required(hub: HubEmulator) -> None:
    """Issue 4: Jobs need PRO or a payment method (402) → BillingRequired's message on the failed run."""
    factory = hf_factory(BOB.token)
    state = factory.launch("factory-test/not-on-the-hub")
    assert state.status is RunStatus.FAILED and "needs a paid Hugging Face plan" in (state.error or "")
