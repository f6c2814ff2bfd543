"""`fetch_trace_redacted`: bounded pages of a run's redacted logs and agent traces (DESIGN §4, §9).

The service serves only the allow-listed logs and `traces/redacted/`, never `traces/raw/`, cuts pages
at line ends, and passes each page through the redactor with a re-scan that withholds what stays
suspicious. This module only bounds the arguments.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from space_factory.domain.schemas import RunId
from space_factory.domain.views import TracePage
from space_factory.service import AGENT_TRACE_PAGE
from space_factory.tools.annotations import READ_ONLY
from space_factory.tools.common import FactoryDep, call_service, clean_doc
from space_factory.tools.params import Cursor, MaxBytes, TraceKind

__all__ = ["register"]


def register(app: MCPServer[Any]) -> None:
    @app.tool(title="Read a run's redacted logs", annotations=READ_ONLY)
    @clean_doc
    async def fetch_trace_redacted(
        run_id: RunId,
        factory: FactoryDep,
        kind: TraceKind = "worker",
        cursor: Cursor = 0,
        max_bytes: MaxBytes = AGENT_TRACE_PAGE,
    ) -> TracePage:
        """One page of a run's log or coding-agent trace, with secrets redacted.

        Use it to find out why a run failed or a gate is not full_inference_passed: 'worker' is the
        pipeline's log, 'space_build' and 'space_run' the Space's build and app logs, 'agent' what the
        coding agent did in every attempt (its session: messages, tool calls and results), in attempt order
        ('agent:attempt-N' for one). Pages end at a line end; pass next_cursor as cursor for the next page
        until next_cursor is null (a cursor stays valid while later attempts are added). withheld=true means
        the page still looked secret after redaction and was not served.
        """
        return await call_service(factory.trace, run_id, kind, cursor, max_bytes)
