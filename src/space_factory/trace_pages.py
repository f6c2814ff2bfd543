"""Paging a run's redacted logs and traces (`Factory.trace_kinds`, `Factory.trace`).

A page is cut at line ends, so a secret never straddles two pages and each page goes through the redactor
whole. The raw traces (`traces/raw/`) are never read here.
"""

from __future__ import annotations

from space_factory.domain import layout
from space_factory.domain.errors import InvalidInput
from space_factory.domain.redaction import Redactor
from space_factory.domain.views import TracePage
from space_factory.record import RunRecord

MAX_TRACE_PAGE = 256 * 1024
# The trace page sizes, named once. An agent's page lands in its model's context, so the MCP tool defaults to
# 16 KiB (a value in its snapshotted schema); a person at a terminal (the CLI's --max-bytes) and a direct
# caller of `Factory.trace` get 64 KiB.
AGENT_TRACE_PAGE = 16 * 1024
DEFAULT_TRACE_PAGE = 64 * 1024


def _line_start(record: RunRecord, key: str, cursor: int) -> int:
    """The start of the line holding byte `cursor`: a page never starts inside a line, wherever the caller points.

    A cursor deeper than MAX_TRACE_PAGE into one line is left alone: only paging through that line gives one.
    """
    start = max(0, cursor - MAX_TRACE_PAGE)
    before = record.bucket.read_range(key, start, cursor - start)
    if b"\n" in before:
        return start + before.rindex(b"\n") + 1
    return 0 if cursor < MAX_TRACE_PAGE else cursor


def kinds_of(record: RunRecord) -> list[str]:
    """The kinds of log the run has written so far: `layout.TRACE_KINDS` names, then `agent:<name>` traces."""
    kinds = [k for k, rel in layout.TRACE_KINDS.items() if record.bucket.size(record.key(rel)) is not None]
    agent = record.bucket.list(record.key(layout.REDACTED_TRACES))
    return kinds + [f"agent:{name.removesuffix('.jsonl')}" for name in agent if name.endswith(".jsonl")]


def page(record: RunRecord, redactor: Redactor, kind: str, cursor: int, max_bytes: int) -> TracePage:
    """A page of the run's `kind` log from byte `cursor`, redacted, cut at a line end when possible.

    Raises:
        InvalidInput: `kind` is not a kind of log, or not one this run has written yet.
    """
    run_id = record.run_id
    kinds = kinds_of(record)
    if kind.startswith("agent:"):
        rel = layout.safe_child(layout.REDACTED_TRACES, kind.removeprefix("agent:") + ".jsonl")
    elif kind in layout.TRACE_KINDS:
        rel = layout.TRACE_KINDS[kind]
    else:
        raise InvalidInput(f"unknown trace kind {kind[:50]!r}; this run has: {', '.join(kinds) or 'none yet'}")
    if kind not in kinds:
        raise InvalidInput(f"run {run_id!r} has no {kind!r} log yet; it has: {', '.join(kinds) or 'none yet'}")
    key = record.key(rel)
    total = record.bucket.size(key) or 0
    cursor = _line_start(record, key, max(0, min(cursor, total)))
    max_bytes = max(1, min(max_bytes, MAX_TRACE_PAGE))
    chunk = record.bucket.read_range(key, cursor, max_bytes)
    if cursor + len(chunk) < total and b"\n" not in chunk:
        # One line longer than the page: serve it whole (up to MAX_TRACE_PAGE bytes), so that no
        # secret is handed out in pieces that each escape the redactor.
        chunk = record.bucket.read_range(key, cursor, MAX_TRACE_PAGE)
        chunk = chunk[: chunk.index(b"\n") + 1] if b"\n" in chunk else chunk
    elif cursor + len(chunk) < total:
        chunk = chunk[: chunk.rindex(b"\n") + 1]  # whole lines: a secret never straddles two pages
    checked = redactor.redact_checked(chunk.decode("utf-8", errors="replace"))
    end = cursor + len(chunk)
    return TracePage(run_id=run_id, kind=kind, text=checked.text, cursor=cursor,
                     next_cursor=end if end < total else None, total_bytes=total,
                     withheld=checked.withheld, available_kinds=kinds)
