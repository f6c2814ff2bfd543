"""Which `Factory` serves a caller: the composition root that binds the service to a backend and an owner."""

from __future__ import annotations

import threading

from space_factory.config import Settings
from space_factory.domain.errors import FactoryError
from space_factory.service import Factory

__all__ = ["LocalFactoryProvider", "provider_for"]


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

    def __call__(self, subject: str | None) -> Factory:
        from space_factory.backends.local import local_backend

        if subject is not None and subject != self.owner:
            # The verifier only ever names the local owner; anything else is refused, never used as a path.
            raise FactoryError("this server serves only its local owner's runs")
        with self._lock:
            if self.owner not in self._factories:
                self._factories[self.owner] = Factory(self.settings, local_backend(self.settings, owner=self.owner))
            return self._factories[self.owner]


def provider_for(settings: Settings) -> LocalFactoryProvider:
    """The provider for the configured backend.

    Raises:
        FactoryError: the backend is not available in this version.
    """
    if settings.backend != "local":
        raise FactoryError(f"the {settings.backend!r} backend is not available in this version yet; "
                           "use SPACE_FACTORY_BACKEND=local")
    return LocalFactoryProvider(settings)
