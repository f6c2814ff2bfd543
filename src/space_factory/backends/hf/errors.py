"""The one place where huggingface_hub errors become factory errors (STYLE R8).

Messages are built from our own words and the values we passed (a model id, an action), never from the
exception's text or its request, which holds the `authorization` header (hf-apis.md §5.5).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalTokenNotFoundError,
    RepositoryNotFoundError,
)

from space_factory.domain.errors import (
    BackendError,
    BillingRequired,
    ModelGated,
    ModelNotFound,
    RateLimited,
    TokenScopeMissing,
)

__all__ = ["hub_errors", "status_of"]


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a Hub error, or None for a transport failure."""
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


@contextmanager
def hub_errors(action: str, *, model: str | None = None, scope: str = "write") -> Iterator[None]:
    """Translate Hub errors raised inside the block.

    Args:
        action: what was being done, in words ("read the run bucket"); it goes into the message.
        model: the model id when the call reads a model (404 → ModelNotFound, gated → ModelGated).
        scope: the token permission the action needs, named on 401/403.

    Raises:
        ModelNotFound, ModelGated, TokenScopeMissing, BillingRequired, RateLimited, BackendError.
    """
    try:
        yield
    except GatedRepoError as exc:
        raise ModelGated(model or action) from exc
    except RepositoryNotFoundError as exc:
        if model is not None:
            raise ModelNotFound(model, "the Hugging Face Hub (or the token cannot see it)") from exc
        raise BackendError(f"could not {action}: not found, or the token cannot see it") from exc
    except LocalTokenNotFoundError as exc:
        raise TokenScopeMissing(action, "read") from exc
    except HfHubHTTPError as exc:
        code = status_of(exc)
        if code in (401, 403):
            raise TokenScopeMissing(action, scope) from exc
        if code == 402:
            raise BillingRequired(action) from exc
        if code == 429:
            raise RateLimited(action) from exc
        if code == 404 and model is not None:
            raise ModelNotFound(model, "the Hugging Face Hub") from exc
        raise BackendError(f"could not {action}: the Hub answered HTTP {code}") from exc
    except httpx2.HTTPError as exc:  # transport failures are not wrapped by huggingface_hub (§5.4)
        raise BackendError(f"could not {action}: the Hub could not be reached ({type(exc).__name__})") from exc
