"""`space-factory serve`: the MCP server over stdio or streamable HTTP (DESIGN §8-§9).

stdio: stdout carries MCP messages only; logs go to stderr (`cli.main` configures logging before this
runs, so the SDK's own `basicConfig` changes nothing), and jobs and Spaces are detached processes
with their own log files, so nothing they print can reach the protocol stream.

HTTP: `http://HOST:PORT/mcp`, bearer auth on every request (`server.auth`), an unauthenticated
`GET /health`. Stateless by default (`SPACE_FACTORY_HTTP_STATELESS=1`): no session lives in the
server, so any replica or a restarted server answers every request; run state is in the record.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import partial

import anyio

from space_factory.config import Settings
from space_factory.domain.redaction import install_redacting_filter
from space_factory.server.app import create_app
from space_factory.server.auth import HttpAuth, check_local_listen
from space_factory.server.provider import HfFactoryProvider, provider_for
from space_factory.tools.views import PUBLIC_URL_ENV

__all__ = ["STATELESS_ENV", "serve"]

STATELESS_ENV = "SPACE_FACTORY_HTTP_STATELESS"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def serve(args: argparse.Namespace) -> int:
    """Run the server until it is stopped; returns the process exit code.

    Raises:
        FactoryError: the configured backend is not available, or the local backend was asked to listen beyond
            loopback without `SPACE_FACTORY_HTTP_TOKEN_SHA256`.
    """
    backend = getattr(args, "backend", None)
    settings = Settings(backend=backend) if backend else Settings()
    provider = provider_for(settings)
    for handler in logging.getLogger().handlers:  # the last net under every log line (STYLE R13)
        install_redacting_filter(handler)
    if args.transport == "stdio":
        anyio.run(create_app(provider).run_stdio_async)
        return 0
    public = os.environ.get(PUBLIC_URL_ENV) or f"http://{args.host}:{args.port}"
    resource = f"{public.rstrip('/')}/mcp"
    if isinstance(provider, HfFactoryProvider):
        auth, who = HttpAuth.hf(provider.owner_of, resource), "each token's Hub user"
    else:
        check_local_listen(args.host)  # any token is the local owner: beyond loopback only with a token list
        auth, who = HttpAuth.local(provider.owner, resource), f"owner {provider.owner}"
    app = create_app(provider, http_auth=auth)
    # One line for the operator (uvicorn itself logs only warnings at the SDK's level); never the token.
    sys.stderr.write(f"space-factory: MCP on http://{args.host}:{args.port}/mcp (backend {settings.backend}, "
                     f"{who}); Authorization: Bearer required\n")
    anyio.run(partial(app.run_streamable_http_async, host=args.host, port=args.port,
                      stateless_http=_flag(STATELESS_ENV, True)))
    return 0
