"""Who the caller is on the Hub: the token (environment or `hf auth login` cache) and `whoami`.

The token is passed to each call; nothing here keeps it in a global (DESIGN §9).

`whoami` answers one of three shapes (huggingface.js `ApiWhoAmIReponse`): a user (`isPro`, `canPay`,
`emailVerified`), an org (`canPay` only) or an app (`type: "app"`, none of the three, and the entities it
may act for in `scope.entities`). What a shape does not say stays None here, never a guessed False.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from space_factory.backends.hf.errors import hub_errors, status_of
from space_factory.domain.errors import TokenRefused, TokenScopeMissing
from space_factory.domain.plans import AccountPlan

__all__ = ["OAUTH_TOKEN_PREFIX", "HubIdentity", "is_oauth_token", "resolve_token", "whoami"]

# The Hub's OAuth access tokens carry this prefix (the redactor's patterns rely on it too).
OAUTH_TOKEN_PREFIX = "hf_oauth_"


@dataclass(frozen=True)
class HubIdentity:
    """The token's user: the namespace runs and Spaces go under, and what the account may pay for.

    Attributes:
        namespace: where runs, buckets and Spaces go.
        plan: what `whoami` says of the account's plan (ZeroGPU slots depend on it).
        can_pay: `canPay`, or None where `whoami` does not say (app tokens).
    """

    namespace: str
    plan: AccountPlan = field(default_factory=AccountPlan)
    can_pay: bool | None = None

    @property
    def is_pro(self) -> bool | None:
        """`isPro`, or None where `whoami` does not say."""
        return self.plan.is_pro

    def __repr__(self) -> str:  # never a token here, but keep reprs short and obvious
        return f"HubIdentity({self.namespace!r}, {self.plan.kind}, pro={self.is_pro}, can_pay={self.can_pay})"


def resolve_token(explicit: str | None = None) -> str:
    """The token to use: `explicit`, else `HF_TOKEN` / the `hf auth login` cache.

    Raises:
        TokenScopeMissing: no token anywhere.
    """
    token = explicit or get_token()
    if not token:
        raise TokenScopeMissing("act on the Hub without a token", "read")
    return token


def is_oauth_token(token: str) -> bool:
    """Whether `token` is an OAuth access token (it can hold only the scopes granted at sign-in, e.g. `jobs`)."""
    return token.startswith(OAUTH_TOKEN_PREFIX)


def whoami(api: HfApi, token: str) -> HubIdentity:
    """`GET /api/whoami-v2` for `token`.

    Raises:
        TokenRefused: the Hub refused the token itself (401: mistyped, revoked or expired).
        TokenScopeMissing: the Hub refused the call for another reason (403).
    """
    with hub_errors("identify the token's user (whoami)", scope="read"):
        try:
            info = api.whoami(token=token)
        except HfHubHTTPError as exc:
            if status_of(exc) == 401:
                raise TokenRefused() from exc
            raise
    return identity_of(info)


def identity_of(info: Mapping[str, object]) -> HubIdentity:
    """The identity a `whoami` answer describes (see the module docstring for its three shapes).

    Example:
        >>> identity_of({"type": "app", "name": "my-app", "scope": {"entities": ["alice"], "role": "write"}})
        HubIdentity('alice', app, pro=None, can_pay=None)
    """
    kind = str(info.get("type") or "user")
    namespace = str(info["name"])
    if kind == "app":
        # An app acts for the entities of its scope: with exactly one, that is where its runs go.
        scope = info.get("scope")
        entities = scope.get("entities") if isinstance(scope, dict) else None
        if isinstance(entities, list) and len(entities) == 1 and isinstance(entities[0], str):
            namespace = entities[0]
    return HubIdentity(namespace=namespace,
                       plan=AccountPlan(kind, is_pro=_flag(info, "isPro"), email_verified=_flag(info, "emailVerified")),
                       can_pay=_flag(info, "canPay"))


def _flag(info: Mapping[str, object], key: str) -> bool | None:
    value = info.get(key)
    return value if isinstance(value, bool) else None
