"""Which `Factory` serves a caller: the composition root that binds the service to a backend and an owner.

The one place a backend is chosen and built for the service: the MCP server asks per request, the CLI
once (as the local user, with no subject). Nothing here imports MCP, so the CLI stays light.
"""

from __future__ import annotations

import hashlib
import threading
import time

from space_factory.config import Settings
from space_factory.domain.errors import FactoryError
from space_factory.service import Factory

__all__ = ["HfFactoryProvider", "LocalFactoryProvider", "provider_for"]

# How long a caller's hf Factory (its Hub clients and read caches) is reused before whoami runs again.
HF_FACTORY_TTL_SECONDS = 300.0


class LocalFactoryProvider:
    """The local backend: one owner per machine (`SPACE_FACTORY_OWNER`, else the login name).

    Over HTTP the token verifier maps every accepted bearer token to this same owner, so stdio and
    HTTP callers see the same runs. Factories are built once per owner and shared across requests.
    """

    def __init__(self, settings: Settings) -> None:
        from space_factory.backends.local import local_owner

        self.settings = settings
        self.owner = local_owner(settings)
        self._factories: dict[str, Factory] = {}
        self._lock = threading.Lock()

    def __call__(self, subject: str | None, token: str | None = None) -> Factory:
        from space_factory.backends.local import local_backend

        if subject is not None and subject != self.owner:
            # The verifier only ever names the local owner; anything else is refused, never used as a path.
            raise FactoryError("this server serves only its local owner's runs")
        with self._lock:
            if self.owner not in self._factories:
                self._factories[self.owner] = Factory(self.settings, local_backend(self.settings, owner=self.owner))
            return self._factories[self.owner]


class HfFactoryProvider:
    """The hf backend: each caller is the Hub user of the token that came with the request.

    Over HTTP the token is the request's own bearer token (the verifier has checked it with whoami); on
    stdio it is the environment's (`HF_TOKEN` or the `hf auth login` cache). A caller's Factory is reused
    for a few minutes under the SHA-256 of its token, so polls keep their read caches (the 2-request
    budget of a status poll) — only a request that presents the same token can reach it, and no token is
    ever a fallback for a request without one.
    """

    owner: str | None = None  # no single owner: one per token

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._factories: dict[str, tuple[float, Factory]] = {}
        self._lock = threading.Lock()

    def __call__(self, subject: str | None, token: str | None = None) -> Factory:
        from space_factory.backends.hf import hf_backend, resolve_token

        token = resolve_token(token)
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            self._factories = {k: v for k, v in self._factories.items() if now - v[0] < HF_FACTORY_TTL_SECONDS}
            entry = self._factories.get(key)
        if entry is None:
            entry = (now, Factory(self.settings, hf_backend(self.settings, token)))
            with self._lock:
                self._factories[key] = entry
        factory = entry[1]
        if subject is not None and subject != factory.backend.owner:
            raise FactoryError("the token's Hub user does not match the authenticated caller")
        return factory

    def owner_of(self, token: str) -> str:
        """The Hub user `token` belongs to (one whoami call), for the HTTP token verifier.

        Raises:
            FactoryError: the Hub refused the token.
        """
        from space_factory.backends.hf import token_owner

        return token_owner(token)


def provider_for(settings: Settings) -> LocalFactoryProvider | HfFactoryProvider:
    """The provider for the configured backend (`local` or `hf`)."""
    if settings.backend == "hf":
        return HfFactoryProvider(settings)
    return LocalFactoryProvider(settings)
