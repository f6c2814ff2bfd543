"""Paging a run's redacted logs and traces (`Factory.trace_kinds`, `Factory.trace`).

A page is cut at line ends, so a secret never straddles two pages and each page goes through the redactor
whole. The raw traces (`traces/raw/`) are never read here.

Kind `agent` is every coding-agent attempt's redacted trace (`traces/redacted/attempt-<n>.jsonl`) one after
the other, in attempt order: its cursor is a byte offset into that concatenation. An attempt's trace is final
once the next attempt starts, and a new attempt only adds bytes at the end, so a cursor stays valid while a
run goes on. A page never spans two attempts: it ends at the end of one, and the next page starts the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
AGENT_KIND = "agent"
_ATTEMPT_TRACE = re.compile(r"^attempt-([1-9][0-9]{0,5})\.jsonl$")


@dataclass(frozen=True)
class _Segment:
    """One file of a kind's text: its bucket key, where it starts in the kind's bytes, and its size."""

    key: str
    start: int
    size: int


def _line_start(record: RunRecord, key: str, cursor: int) -> int:
    """The start of the line holding byte `cursor`: a page never starts inside a line, wherever the caller points.

    A cursor deeper than MAX_TRACE_PAGE into one line is left alone: only paging through that line gives one.
    """
    start = max(0, cursor - MAX_TRACE_PAGE)
    before = record.bucket.read_range(key, start, cursor - start)
    if b"\n" in before:
        return start + before.rindex(b"\n") + 1
    return 0 if cursor < MAX_TRACE_PAGE else cursor


def _agent_traces(record: RunRecord) -> tuple[list[str], list[str]]:
    """The redacted agent trace names (without `.jsonl`): the attempts in attempt order, and any other by name."""
    names = [n for n in record.bucket.list(record.key(layout.REDACTED_TRACES)) if n.endswith(".jsonl")]
    numbered = sorted((int(m.group(1)), n) for n in names if (m := _ATTEMPT_TRACE.match(n)))
    attempts = [n.removesuffix(".jsonl") for _, n in numbered]
    others = sorted(n.removesuffix(".jsonl") for n in names if not _ATTEMPT_TRACE.match(n))
    return attempts, others


def kinds_of(record: RunRecord) -> list[str]:
    """The kinds of log the run has written so far: `layout.TRACE_KINDS` names, `agent` once an attempt has a
    trace, then `agent:<name>` per trace (`agent:attempt-<n>` in attempt order)."""
    kinds = [k for k, rel in layout.TRACE_KINDS.items() if record.bucket.size(record.key(rel)) is not None]
    attempts, others = _agent_traces(record)
    return kinds + ([AGENT_KIND] if attempts else []) + [f"agent:{name}" for name in attempts + others]


def _segments(record: RunRecord, kind: str) -> list[_Segment]:
    """The files whose bytes, one after the other, are the `kind` log (one file, except for `agent`).

    Raises:
        InvalidInput: an `agent:<name>` whose name would leave `traces/redacted/`.
    """
    if kind in layout.TRACE_KINDS:
        key = record.key(layout.TRACE_KINDS[kind])
        return [_Segment(key, 0, record.bucket.size(key) or 0)]
    names = _agent_traces(record)[0] if kind == AGENT_KIND else [kind.removeprefix("agent:")]
    segments: list[_Segment] = []
    start = 0
    for name in names:
        key = record.key(layout.safe_child(layout.REDACTED_TRACES, name + ".jsonl"))
        size = record.bucket.size(key) or 0
        segments.append(_Segment(key, start, size))
        start += size
    return segments


def _read_page(record: RunRecord, key: str, cursor: int, size: int, max_bytes: int) -> tuple[int, bytes]:
    """The page of one file from byte `cursor` (moved back to its line's start): where it starts, and its bytes."""
    cursor = _line_start(record, key, max(0, min(cursor, size)))
    chunk = record.bucket.read_range(key, cursor, max_bytes)
    if cursor + len(chunk) < size and b"\n" not in chunk:
        # One line longer than the page: serve it whole (up to MAX_TRACE_PAGE bytes), so that no
        # secret is handed out in pieces that each escape the redactor.
        chunk = record.bucket.read_range(key, cursor, MAX_TRACE_PAGE)
        chunk = chunk[: chunk.index(b"\n") + 1] if b"\n" in chunk else chunk
    elif cursor + len(chunk) < size:
        chunk = chunk[: chunk.rindex(b"\n") + 1]  # whole lines: a secret never straddles two pages
    return cursor, chunk


def page(record: RunRecord, redactor: Redactor, kind: str, cursor: int, max_bytes: int) -> TracePage:
    """A page of the run's `kind` log from byte `cursor`, redacted, cut at a line end when possible.

    Raises:
        InvalidInput: `kind` is not a kind of log, or not one this run has written yet.
    """
    run_id = record.run_id
    kinds = kinds_of(record)
    if not (kind in layout.TRACE_KINDS or kind == AGENT_KIND or kind.startswith("agent:")):
        raise InvalidInput(f"unknown trace kind {kind[:50]!r}; this run has: {', '.join(kinds) or 'none yet'}")
    segments = _segments(record, kind)  # before the check below: a name that escapes is refused as such
    if kind not in kinds:
        raise InvalidInput(f"run {run_id!r} has no {kind!r} log yet; it has: {', '.join(kinds) or 'none yet'}")
    total = sum(s.size for s in segments)
    cursor = max(0, min(cursor, total))
    # The segment holding `cursor`; a cursor at a segment's end starts the next one (the end of the last: the end).
    segment = next((s for s in segments if cursor < s.start + s.size), segments[-1])
    max_bytes = max(1, min(max_bytes, MAX_TRACE_PAGE))
    start, chunk = _read_page(record, segment.key, cursor - segment.start, segment.size, max_bytes)
    checked = redactor.redact_checked(chunk.decode("utf-8", errors="replace"))
    start += segment.start
    end = start + len(chunk)
    return TracePage(run_id=run_id, kind=kind, text=checked.text, cursor=start,
                     next_cursor=end if end < total else None, total_bytes=total,
                     withheld=checked.withheld, available_kinds=kinds)
