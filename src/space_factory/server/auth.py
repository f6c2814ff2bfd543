"""Bearer-token auth for the streamable HTTP transport (DESIGN §9).

Over HTTP the token comes only from each request's `Authorization: Bearer` header; without a valid
one the SDK answers 401 with `WWW-Authenticate` before any MCP parsing, and there is no server-held
fallback token. The token is never stored: the `AccessToken` the verifier returns holds a placeholder,
and the subject (the owner) is what the tools see.

On the local backend there is one owner per machine, so any non-empty bearer token maps to it. To
restrict who may call, list the SHA-256 hex digests of the accepted tokens in
`SPACE_FACTORY_HTTP_TOKEN_SHA256` (comma-separated): only digests are configured, never tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

__all__ = ["NOT_KEPT", "TOKEN_DIGESTS_ENV", "HfBearerVerifier", "HttpAuth", "LocalBearerVerifier"]

TOKEN_DIGESTS_ENV = "SPACE_FACTORY_HTTP_TOKEN_SHA256"
# Hugging Face is the authorization server that issues the tokens the hf backend will accept.
HF_ISSUER = "https://huggingface.co"
NOT_KEPT = "[not kept]"


def _digests_from_env() -> frozenset[str]:
    raw = os.environ.get(TOKEN_DIGESTS_ENV, "")
    return frozenset(d.strip().lower() for d in raw.split(",") if d.strip())


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
        return AccessToken(token=NOT_KEPT, client_id="space-factory-local", scopes=[], subject=self.owner)


class HfBearerVerifier(TokenVerifier):
    """The hf backend: a bearer token is a Hugging Face token; `whoami` names its user (the run owner).

    Only SHA-256 digests → user names are cached (a few minutes), so a valid token costs one Hub request per
    cache period; the token itself stays on this request's `AccessToken`, which the tools hand to the
    backend for this caller's Hub calls and job secret.
    """

    def __init__(self, ttl_seconds: float = 300.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._users: dict[str, tuple[float, str]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        import anyio.to_thread

        from space_factory.backends.hf.auth import whoami
        from space_factory.domain.errors import FactoryError

        if not token or not token.strip():
            return None
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._users.get(digest)
        if cached is None or now - cached[0] > self.ttl_seconds:
            from huggingface_hub import HfApi

            try:
                identity = await anyio.to_thread.run_sync(whoami, HfApi(), token)
            except FactoryError:
                return None  # the Hub refused the token: 401 with WWW-Authenticate
            cached = (now, identity.namespace)
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
    def hf(cls, resource_url: str) -> HttpAuth:
        return cls(HfBearerVerifier(), resource_url)

    def server_kwargs(self) -> dict[str, Any]:
        settings = AuthSettings(issuer_url=AnyHttpUrl(HF_ISSUER), resource_server_url=AnyHttpUrl(self.resource_url),
                                validate_token_resource=False)  # the verifier decides who the caller is
        return {"token_verifier": self.verifier, "auth": settings}
