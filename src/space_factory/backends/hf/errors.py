"""The one place where huggingface_hub errors become factory errors (STYLE R8).

Messages are built from our own words and the values we passed (a model id, an action), never from the
exception's text or its request, which holds the `authorization` header (hf-apis.md §5.5).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TypeVar

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
from space_factory.domain.stages import JobStage, SpaceStage

__all__ = ["hub_errors", "hub_stage", "refusal", "server_message", "status_of"]

StageT = TypeVar("StageT", SpaceStage, JobStage)
# A 403 whose server message speaks of money is a billing refusal, not a missing scope: the Hub has answered
# "no credits" with 403 as well as 402. The message is only matched here, never repeated.
_BILLING_WORDS = re.compile(r"credit|billing|payment|pre-?paid|balance|insufficient funds|subscri", re.IGNORECASE)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a Hub error, or None for a transport failure."""
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def server_message(exc: BaseException) -> str:
    """The Hub's own words in an error (`X-Error-Message`, the body's `error`), for matching only: never shown."""
    message = getattr(exc, "server_message", None)
    return message if isinstance(message, str) else ""


def refusal(code: int | None, action: str, scope: str, message: str = "") -> BackendError | None:
    """What a Hub refusal means, by its HTTP status: the one reading of 401/403, 402 and 429.

    Args:
        code: the HTTP status (`status_of`).
        action: what was being done, in words; it goes into the message.
        scope: the token permission the action needs, named on 401/403.
        message: the Hub's words (`server_message`); a 403 about credits or billing reads as a 402.

    Returns:
        TokenScopeMissing (401/403), BillingRequired (402, or a 403 about money), RateLimited (429), or None
        for any other status.
    """
    if code == 402 or (code == 403 and _BILLING_WORDS.search(message)):
        return BillingRequired(action)
    if code in (401, 403):
        return TokenScopeMissing(action, scope)
    if code == 429:
        return RateLimited(action)
    return None


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
        refused = refusal(code, action, scope, server_message(exc))
        if refused is not None:
            raise refused from exc
        if code == 404 and model is not None:
            raise ModelNotFound(model, "the Hugging Face Hub") from exc
        raise BackendError(f"could not {action}: the Hub answered HTTP {code}") from exc
    except httpx2.HTTPError as exc:  # transport failures are not wrapped by huggingface_hub (§5.4)
        raise BackendError(f"could not {action}: the Hub could not be reached ({type(exc).__name__})") from exc


def hub_stage(kind: type[StageT], raw: str, action: str) -> StageT:
    """The stage the Hub reported (a plain string, or a huggingface_hub enum), parsed once here.

    Raises:
        BackendError: the answer is not a stage at all (a stage the Hub added lately still parses).
    """
    try:
        return kind(raw.value if isinstance(raw, Enum) else raw)
    except ValueError:
        raise BackendError(f"could not {action}: the Hub answered with an unreadable stage") from None
