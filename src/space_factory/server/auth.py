"""Bearer-token auth for the streamable HTTP transport (DESIGN §9).

Over HTTP the token comes only from each request's `Authorization: Bearer` header; without a valid
one the SDK answers 401 with `WWW-Authenticate` before any MCP parsing, and there is no server-held
fallback token. The token is never stored: the `AccessToken` the verifier returns holds a placeholder,
and the subject (the owner) is what the tools see.

On the local backend there is one owner per machine, so any non-empty bearer token maps to it. To
restrict who may call, list the SHA-256 hex digests of the accepted tokens in
`SPACE_FACTORY_HTTP_TOKEN_SHA256` (comma-separated): only digests are configured, never tokens. Without
that list the local server listens on loopback only (`check_local_listen`): anyone who can reach it
would otherwise be its owner. On the
hf backend the factory provider names a token's Hub user (`HfFactoryProvider.owner_of`); this module
never talks to the Hub itself.

`current_caller` turns the request's `AccessToken` into the typed `Caller` the tools see.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

from space_factory.domain.errors import FactoryError
from space_factory.tools.common import Caller

__all__ = ["TOKEN_DIGESTS_ENV", "HfBearerVerifier", "HttpAuth", "LocalBearerVerifier", "TokenOwner",
           "check_local_listen", "current_caller", "is_loopback_host"]

TOKEN_DIGESTS_ENV = "SPACE_FACTORY_HTTP_TOKEN_SHA256"
# Hugging Face is the authorization server that issues the tokens the hf backend will accept.
HF_ISSUER = "https://huggingface.co"
# What the local verifier keeps on its AccessToken instead of the token (the local backend needs none).
_NOT_KEPT = "[not kept]"

# Names the Hub user of a token (blocking; one Hub call). Raises FactoryError when the Hub refuses the token.
TokenOwner = Callable[[str], str]


def current_caller() -> Caller:
    """The caller of the request being served: its verified subject, and its token when the verifier kept it.

    Outside an authenticated HTTP request (stdio, in-memory) the caller is the local user: `Caller()`.
    """
    access = get_access_token()
    if access is None:
        return Caller()
    return Caller(subject=access.subject, token=None if access.token == _NOT_KEPT else access.token)


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _digests_from_env() -> frozenset[str]:
    """The accepted tokens' digests; empty when none are configured.

    Raises:
        FactoryError: an entry is not a SHA-256 hex digest (it could be a token pasted by mistake: never quoted).
    """
    raw = os.environ.get(TOKEN_DIGESTS_ENV, "")
    digests = frozenset(d.strip().lower() for d in raw.split(",") if d.strip())
    bad = sum(1 for d in digests if not _SHA256_HEX.fullmatch(d))
    if bad:
        raise FactoryError(f"{TOKEN_DIGESTS_ENV}: {bad} of its {len(digests)} entries are not SHA-256 hex digests "
                           "(64 hex characters each); list digests, never tokens: printf %s \"$TOKEN\" | sha256sum")
    return digests


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a `--host` value) is this machine only: `localhost`, `127.0.0.0/8` or `::1`.

    Example:
        >>> [is_loopback_host(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "0.0.0.0", "::")]
        [True, True, True, True, True, False, False]
    """
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # any other name may resolve beyond this machine


def check_local_listen(host: str) -> None:
    """Refuse to serve the local backend beyond loopback unless the accepted tokens' digests are listed.

    Raises:
        FactoryError: `host` is not loopback and `SPACE_FACTORY_HTTP_TOKEN_SHA256` is unset (the message says
            what to set), or the digest list is malformed.
    """
    if _digests_from_env() or is_loopback_host(host):
        return
    raise FactoryError(
        f"refusing to listen on {host[:100]!r} with the local backend: it accepts any bearer token as its owner, so "
        f"beyond loopback set {TOKEN_DIGESTS_ENV} to the SHA-256 hex digests of the tokens to accept "
        "(comma-separated; printf %s \"$TOKEN\" | sha256sum), or listen on 127.0.0.1")


class LocalBearerVerifier(TokenVerifier):
    """Accept a non-empty bearer token (and, when digests are configured, only a listed one) as `owner`."""

    def __init__(self, owner: str, allowed_sha256: frozenset[str] = frozenset()) -> None:
        self.owner = owner
        self.allowed_sha256 = allowed_sha256

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token or not token.strip():
            return None
        if self.allowed_sha256:
            digest = hashlib.sha256(token.encode()).hexdigest()
            if not any(hmac.compare_digest(digest, allowed) for allowed in self.allowed_sha256):
                return None
        return AccessToken(token=_NOT_KEPT, client_id="space-factory-local", scopes=[], subject=self.owner)


class HfBearerVerifier(TokenVerifier):
    """The hf backend: a bearer token is a Hugging Face token; `owner_of` names its user (the run owner).

    Only SHA-256 digests → user names are cached (a few minutes), so a valid token costs one Hub request per
    cache period; the token itself stays on this request's `AccessToken`, which the tools hand to the
    backend for this caller's Hub calls and job secret.

    Args:
        owner_of: names a token's Hub user; the factory provider's `owner_of`.
        ttl_seconds: how long a digest → user answer is reused.
    """

    def __init__(self, owner_of: TokenOwner, ttl_seconds: float = 300.0) -> None:
        self._owner_of = owner_of
        self.ttl_seconds = ttl_seconds
        self._users: dict[str, tuple[float, str]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token or not token.strip():
            return None
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._users.get(digest)
        if cached is None or now - cached[0] > self.ttl_seconds:
            try:
                owner = await anyio.to_thread.run_sync(self._owner_of, token)
            except FactoryError:
                return None  # the Hub refused the token: 401 with WWW-Authenticate
            cached = (now, owner)
            self._users[digest] = cached
        return AccessToken(token=token, client_id="space-factory-hf", scopes=[], subject=cached[1])


@dataclass(frozen=True)
class HttpAuth:
    """What `create_app` needs to protect the HTTP endpoint."""

    verifier: TokenVerifier
    resource_url: str  # the public URL of the /mcp endpoint

    @classmethod
    def local(cls, owner: str, resource_url: str) -> HttpAuth:
        return cls(LocalBearerVerifier(owner, _digests_from_env()), resource_url)

    @classmethod
    def hf(cls, owner_of: TokenOwner, resource_url: str) -> HttpAuth:
        return cls(HfBearerVerifier(owner_of), resource_url)

    def server_kwargs(self) -> dict[str, Any]:
        settings = AuthSettings(issuer_url=AnyHttpUrl(HF_ISSUER), resource_server_url=AnyHttpUrl(self.resource_url),
                                validate_token_resource=False)  # the verifier decides who the caller is
        return {"token_verifier": self.verifier, "auth": settings}
