"""What every tool module shares: the caller's `Factory`, and the one error guard around service calls.

The server's lifespan yields an `AppState` holding a `FactoryProvider` and a way to name the current
`Caller` (the server's auth layer decides who that is; tools never read tokens themselves). A tool asks
for its factory with a `FactoryDep` parameter (an SDK resolver, hidden from the input schema), which
binds the factory to the caller: the authenticated subject over HTTP, the local owner on stdio.

Service methods are synchronous, so `call_service` runs them in a worker thread, and it is the only
place where errors cross into MCP (STYLE R7-R8): a `FactoryError` becomes a tool error whose text
the agent reads (redacted once more, as a last net); anything else is logged with a reference id
and answered "internal error, reference <id>" so no path, URL or token inside an unexpected
exception reaches the client.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError

from space_factory.domain.errors import FactoryError
from space_factory.domain.redaction import Redactor
from space_factory.service import Factory

__all__ = ["AppState", "Caller", "FactoryDep", "FactoryProvider", "call_service", "clean_doc", "factory_for",
           "internal_error"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
_redactor = Redactor()


class FactoryProvider(Protocol):
    """Gives the `Factory` of one caller.

    Args:
        subject: the authenticated subject over HTTP (the token verifier's `AccessToken.subject`), or
            None on stdio and in-memory connections, where the caller is the local user.
        token: the request's own bearer token when the verifier kept it for the backend (hf), else None.

    Raises:
        FactoryError: the caller cannot be served (e.g. the backend is not available).
    """

    def __call__(self, subject: str | None, token: str | None = None) -> Factory: ...


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the server's auth layer established it for the request being served.

    Attributes:
        subject: the authenticated subject over HTTP; None on stdio and in-memory connections (the local user).
        token: the request's own bearer token when the verifier kept it for the backend (hf), else None. A
            `Caller` lives as long as its request: it is passed to the provider, never stored.
    """

    subject: str | None = None
    token: str | None = field(default=None, repr=False)  # never in a repr, a log line or a traceback


@dataclass(frozen=True)
class AppState:
    """What the server's lifespan yields: everything a request needs, and no run state (that lives in the record).

    Attributes:
        provider: gives the `Factory` of a caller.
        caller: names the caller of the request being served; called on the event loop, where the request's
            context (its access token) is visible.
    """

    provider: FactoryProvider
    caller: Callable[[], Caller]


def clean_doc(fn: F) -> F:
    """Dedent a tool's docstring, which the SDK sends verbatim as the model-facing description."""
    fn.__doc__ = inspect.cleandoc(fn.__doc__ or "")
    return fn


def internal_error(what: str) -> str:
    """Log the exception being handled under a fresh reference and return the message the client sees."""
    reference = secrets.token_hex(4)
    logger.exception("%s failed; reference %s", what, reference)
    return f"internal error, reference {reference}; see the server log"


def factory_for(ctx: Context[Any, Any]) -> Factory:
    """The caller's factory, for tools, resources and prompts.

    Raises:
        ToolError: the provider refused the caller; the text says why.
    """
    state: AppState = ctx.request_context.lifespan_context
    caller = state.caller()
    try:
        return state.provider(caller.subject, caller.token)
    except FactoryError as exc:
        raise ToolError(_redactor.redact_text(str(exc))) from None
    except Exception:
        raise ToolError(internal_error("factory provider")) from None


async def _resolve_factory(ctx: Context[Any, Any]) -> Factory:
    # async: the access token is a context variable of the request, read on the event loop.
    return factory_for(ctx)


FactoryDep = Annotated[Factory, Resolve(_resolve_factory)]


async def call_service(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a synchronous service call in a worker thread and translate its errors for MCP.

    Raises:
        ToolError: with the `FactoryError` text, or "internal error, reference <id>" for anything else.
    """
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except FactoryError as exc:
        raise ToolError(_redactor.redact_text(str(exc))) from None
    except Exception:
        raise ToolError(internal_error(getattr(fn, "__name__", "service call"))) from None
