"""Who the caller is on the Hub: the token (environment or `hf auth login` cache) and `whoami`.

The token is passed to each call; nothing here keeps it in a global (DESIGN §9).
"""

from __future__ import annotations

from dataclasses import dataclass

from huggingface_hub import HfApi, get_token

from space_factory.backends.hf.errors import hub_errors
from space_factory.domain.errors import TokenScopeMissing

__all__ = ["HubIdentity", "resolve_token", "whoami"]


@dataclass(frozen=True)
class HubIdentity:
    """The token's user: the namespace runs and Spaces go under, and what the account may pay for."""

    namespace: str
    is_pro: bool = False
    can_pay: bool = False

    def __repr__(self) -> str:  # never a token here, but keep reprs short and obvious
        return f"HubIdentity({self.namespace!r}, pro={self.is_pro}, can_pay={self.can_pay})"


def resolve_token(explicit: str | None = None) -> str:
    """The token to use: `explicit`, else `HF_TOKEN` / the `hf auth login` cache.

    Raises:
        TokenScopeMissing: no token anywhere.
    """
    token = explicit or get_token()
    if not token:
        raise TokenScopeMissing("act on the Hub without a token", "read")
    return token


def whoami(api: HfApi, token: str) -> HubIdentity:
    """`GET /api/whoami-v2` for `token`.

    Raises:
        TokenScopeMissing: the token is invalid.
    """
    with hub_errors("identify the token's user (whoami)", scope="read"):
        info = api.whoami(token=token)
    return HubIdentity(namespace=str(info["name"]), is_pro=bool(info.get("isPro")),
                       can_pay=bool(info.get("canPay")))
