"""The hf backend's reading of what the real Hub does (issue 13 points 4-7), against stand-ins for `HfApi`.

Each Hub answer here is made by huggingface_hub's own `hf_raise_for_status` from a recorded shape
(hf-apis.md §3-§5), so the backend sees the exception types the client really raises. No network.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import hf_raise_for_status

from space_factory.backends.hf.auth import HubIdentity, identity_of, whoami
from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.hf.errors import hub_errors
from space_factory.backends.hf.plans import HfHostingPlan
from space_factory.backends.hf.spaces import MODEL_TOKEN_SECRET, HfSpaceHost, card_error_fields
from space_factory.domain.errors import (
    BillingRequired,
    SpaceCardRejected,
    TokenRefused,
    TokenScopeMissing,
)
from space_factory.domain.plans import AccountPlan
from space_factory.domain.stages import SpaceStage
from tests.support.tokens import fake_token

TOKEN = fake_token()
HUB = "https://huggingface.co"


def hub_error(status: int, path: str, *, body: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> HfHubHTTPError:
    """The exception huggingface_hub raises for this answer."""
    response = httpx2.Response(status, json=body or {}, headers=headers or {},
                               request=httpx2.Request("GET", HUB + path))
    try:
        hf_raise_for_status(response)
    except HfHubHTTPError as exc:
        return exc
    raise AssertionError(f"{status} raised nothing")


def raising(exc: BaseException) -> Any:
    def call(*_args: object, **_kwargs: object) -> Any:
        raise exc
    return call


def stub_api(**methods: Any) -> HfApi:
    return SimpleNamespace(endpoint=HUB, **methods)  # type: ignore[return-value]


def runtime(stage: str, current: str | None, requested: str | None) -> Any:
    raw = {"stage": stage, "hardware": {"current": current, "requested": requested}}
    return SimpleNamespace(stage=stage, hardware=current, requested_hardware=requested, raw=raw)


# -- whoami ---------------------------------------------------------------------------------------------


def test_a_token_the_hub_refuses_outright_says_so_and_how_to_make_a_new_one() -> None:
    """Issue 13 §6: 401 on whoami (mistyped, revoked, expired) is TokenRefused, not a missing 'read' scope."""
    api = stub_api(whoami=raising(hub_error(401, "/api/whoami-v2", body={"error": "Invalid credentials"})))
    with pytest.raises(TokenRefused) as caught:
        whoami(api, TOKEN)
    message = str(caught.value)
    assert "refused the token" in message and "https://huggingface.co/settings/tokens" in message
    assert "permission" not in message and TOKEN not in message
    assert isinstance(caught.value, TokenScopeMissing)  # callers that catch the scope error still do


def test_a_valid_token_refused_for_a_scope_keeps_the_permission_message() -> None:
    api = stub_api(whoami=raising(hub_error(403, "/api/whoami-v2")))
    with pytest.raises(TokenScopeMissing) as caught:
        whoami(api, TOKEN)
    assert not isinstance(caught.value, TokenRefused) and "'read' permission" in str(caught.value)


@pytest.mark.parametrize(("answer", "expected"), [
    ({"type": "user", "name": "alice", "isPro": True, "canPay": True, "emailVerified": True},
     HubIdentity("alice", AccountPlan("user", True, True), can_pay=True)),
    ({"type": "user", "name": "bob", "isPro": False, "canPay": False},
     HubIdentity("bob", AccountPlan("user", False, None), can_pay=False)),
    # An app token has no isPro / canPay (huggingface.js ApiWhoAmIApp): unknown, never a guessed False.
    ({"type": "app", "name": "my-app", "scope": {"entities": ["carol"], "role": "write"}},
     HubIdentity("carol", AccountPlan("app", None, None), can_pay=None)),
    ({"type": "app", "name": "my-app"}, HubIdentity("my-app", AccountPlan("app", None, None), can_pay=None)),
    ({"type": "org", "name": "acme", "canPay": True}, HubIdentity("acme", AccountPlan("org", None, None), True)),
])
def test_each_whoami_shape_gives_what_it_says_and_nothing_more(answer: dict[str, Any], expected: HubIdentity) -> None:
    assert identity_of(answer) == expected


# -- refusals -------------------------------------------------------------------------------------------


def test_a_403_about_credits_is_billing_not_a_missing_scope() -> None:
    """Issue 13 §6: the Hub may answer "no credits" with 403; its words decide, and they are not repeated."""
    words = "You have exceeded your monthly included credits; add pre-paid credits to continue"
    with pytest.raises(BillingRequired) as caught, hub_errors("start a Hugging Face Job", scope="jobs"):
        raise hub_error(403, "/api/jobs/alice", body={"error": words})
    assert "credits" not in str(caught.value)
    with pytest.raises(TokenScopeMissing), hub_errors("start a Hugging Face Job", scope="jobs"):
        raise hub_error(403, "/api/jobs/alice", body={"error": "This token lacks the jobs permission"})


# -- Spaces ---------------------------------------------------------------------------------------------


def test_while_a_space_builds_its_null_current_hardware_reads_as_the_requested_one() -> None:
    """Issue 13 §5: `hardware.current` is null until RUNNING; then the Hub's current flavor is the truth."""
    answers = iter([runtime("BUILDING", None, "zero-a10g"), runtime("RUNNING", "cpu-basic", "zero-a10g")])
    api = stub_api(get_space_runtime=lambda *_a, **_k: next(answers),
                   space_info=lambda *_a, **_k: SimpleNamespace(host=None, subdomain="alice-my-demo"))
    host = HfSpaceHost(api, TOKEN)
    building = host.runtime("alice/My_Demo")
    assert (building.stage, building.hardware, building.requested_hardware, building.url) == (
        SpaceStage.BUILDING, "zero-a10g", "zero-a10g", None)
    running = host.runtime("alice/My_Demo")
    assert (running.hardware, running.requested_hardware) == ("cpu-basic", "zero-a10g")
    # No `host` in space_info: the app is at its subdomain behind the Hub's proxy, with the owner's token.
    assert running.url == "https://alice-my-demo.hf.space"
    assert host.auth_headers() == {"Authorization": f"Bearer {TOKEN}"}


def test_a_validate_yaml_refusal_is_a_clear_factory_error_naming_only_the_fields(tmp_path: Path) -> None:
    """Issue 13 §4: upload_folder's ValueError("Invalid metadata in README.md…") becomes SpaceCardRejected."""
    hub_words = 'Invalid metadata in README.md.\n- "license" must be one of [apache-2.0, mit, …]\n- "secret" x'
    api = stub_api(upload_folder=raising(ValueError(hub_words)))
    with pytest.raises(SpaceCardRejected) as caught:
        HfSpaceHost(api, TOKEN).upload("alice/demo", tmp_path, run_id="r")
    assert caught.value.fields == ("license", "secret")
    assert "must be one of" not in str(caught.value) and "alice/demo" in str(caught.value)
    other = ValueError("something else")
    with pytest.raises(ValueError) as plain:
        HfSpaceHost(stub_api(upload_folder=raising(other)), TOKEN).upload("alice/demo", tmp_path, run_id="r")
    assert plain.value is other
    assert card_error_fields("Invalid metadata in README.md.\n- bad yaml") == ("bad",)


@pytest.mark.parametrize(("anonymous", "needs"), [
    (SimpleNamespace(gated=False, private=False), False),
    (SimpleNamespace(gated="auto", private=False), True),
    (hub_error(401, "/api/models/alice/private", headers={"X-Error-Code": "RepoNotFound"}), True),
    (httpx2.ConnectError("down"), True),
])
def test_the_space_gets_the_token_secret_only_when_the_model_needs_one(anonymous: object, needs: bool) -> None:
    """Issue 13 §5: gated or private models need HF_TOKEN in the Space; asked the way an anonymous app would."""
    secrets: list[tuple[str, str, str]] = []
    probes: list[object] = []

    def model_info(model: str, *, token: object) -> object:
        probes.append(token)
        if isinstance(anonymous, BaseException):
            raise anonymous
        return anonymous

    def add_space_secret(space_id: str, key: str, value: str, *, token: str, description: str) -> None:
        secrets.append((space_id, key, value))

    host = HfSpaceHost(stub_api(model_info=model_info, add_space_secret=add_space_secret), TOKEN)
    assert host.grant_model_access("alice/demo", "org/model") is needs
    assert probes == [False]  # the probe sends no token
    assert secrets == ([("alice/demo", MODEL_TOKEN_SECRET, TOKEN)] if needs else [])


# -- plans ----------------------------------------------------------------------------------------------


def test_zerogpu_slots_are_counted_from_the_owners_spaces_with_their_runtime() -> None:
    """Issue 13 §7: a free account's 2 slots, held by its unpaused ZeroGPU Spaces."""
    listed: list[dict[str, Any]] = []

    def list_spaces(**kwargs: Any) -> list[Any]:
        listed.append(kwargs)
        return [SimpleNamespace(id=i, runtime=runtime(stage, cur, req)) for i, stage, cur, req in (
            ("bob/a", "RUNNING", "zero-a10g", "zero-a10g"), ("bob/b", "BUILDING", None, "zero-a10g"),
            ("bob/c", "PAUSED", None, "zero-a10g"), ("bob/d", "RUNNING", "cpu-basic", "cpu-basic"))]

    free = HubIdentity("bob", AccountPlan("user", is_pro=False, email_verified=True))
    slots = HfHostingPlan(stub_api(list_spaces=list_spaces), TOKEN, free).zerogpu_slots()
    assert (slots.limit, slots.holders, slots.left) == (2, ("bob/a", "bob/b"), 0)
    assert listed == [{"author": "bob", "expand": ["runtime"], "token": TOKEN}]
    unknown = HubIdentity("app", AccountPlan("app"))
    assert HfHostingPlan(stub_api(list_spaces=raising(AssertionError())), TOKEN, unknown).zerogpu_slots().left is None


# -- bucket ---------------------------------------------------------------------------------------------


def test_a_bucket_listing_keeps_only_the_folders_own_children() -> None:
    """Issue 13 §6: list_bucket_tree matches lexically ("runs/dat" also lists "runs/data/…")."""
    entries = [SimpleNamespace(path=p) for p in ("runs/dat/a.json", "runs/data/b.json", "runs/dat/sub/", "runs/dat")]
    api = stub_api(list_bucket_tree=lambda *_a, **_k: entries)
    assert HfBucket(api, "alice/space-factory-runs", TOKEN).list("runs/dat") == ["a.json", "sub"]
