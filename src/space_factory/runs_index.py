"""The runs index: each owner's run ids by the UTC minute they were minted in, so that a `list_runs` page lists
only the few partitions it reads its runs from, never every run in the bucket (issue 8).

    index/<owner key>/<YYYY>/<MMDD>/<HH>/<MM>/<run_id>   one small object per run, written by `Factory.launch`
    index/.complete                                      every run record older than it is indexed

The run record stays where DESIGN §4 puts it (`runs/<run_id>/`); the index only says where to look, and a
page still reads each run's `request.json` to check its owner, so a stray or misplaced entry shows nothing.
The owner key is `sha256(owner)[:16]`: an owner's name never becomes a path, and another owner's runs in a
shared bucket are in another folder, which a page never lists.

Why this shape: a bucket lists immediate children only (`Bucket.list`, one Hub call per 1,000 names on the hf
backend) and has no append, so an entry is an object of its own (concurrent launches never race on one
object), and the partitions bound every listing by the calendar — at most 366 days, 24 hours, 60 minutes —
whatever the history holds. A run id starts with its UTC second (`mint_run_id`), so the partitions and the
ids within a minute, read in descending name order, are the ids newest first: the order `list_runs` serves.

Records written before the index existed are indexed once per bucket (`backfill`): every record's owner is
read from its `request.json`, missing entries are written, then `index/.complete`. A backfill cut short
writes no marker and the next page takes it up again, skipping the entries already there.

A page resumes from a `RunsCursor` (the last run it served): the cursor's run id names the partition to start
in, so a deep page lists what the first page lists, not the partitions before it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from space_factory.backends.base import Bucket
from space_factory.domain import layout
from space_factory.domain.errors import InvalidInput, RunNotFound
from space_factory.domain.ids import RUN_ID_PATTERN
from space_factory.domain.schemas import RunRequest, RunState
from space_factory.domain.views import RunList
from space_factory.record import RunRecord

__all__ = ["COMPLETE", "INDEX_PREFIX", "MAX_RUNS_CURSOR", "RunsCursor", "RunsIndex", "backfill", "owner_key",
           "run_order"]

logger = logging.getLogger(__name__)

INDEX_PREFIX = "index"
COMPLETE = f"{INDEX_PREFIX}/.complete"  # a dot name: `Bucket.list` never shows it among the owner keys
# `mint_run_id`'s stamp, `YYYYMMDD-HHMMSS-`: the partitions are cut from it.
_STAMPED = re.compile(r"(\d{4})(\d{4})-(\d{2})(\d{2})\d{2}-")
_RUN_ID = re.compile(RUN_ID_PATTERN)
# The partition names, level by level (year, month+day, hour, minute); anything else in the index is ignored.
_LEVELS = (re.compile(r"\d{4}"), re.compile(r"\d{4}"), re.compile(r"\d{2}"), re.compile(r"\d{2}"))

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RUNS_CURSOR = 200  # characters; a cursor this service makes is about 90 to 110
_RUNS_CURSOR_RE = re.compile(r"[A-Za-z0-9_-]{1,200}")
_CURSOR_PAYLOAD_RE = re.compile(
    r"(?P<run_id>[a-z0-9][a-z0-9-]{7,79})~(?P<micros>[0-9]{1,18})(?:~(?P<owner>[0-9a-f]{16}))?")


def owner_key(owner: str) -> str:
    """The folder of `owner`'s index: the first 16 hex digits of the SHA-256 of the name.

    Example:
        >>> owner_key("tester")
        '9bba5c53a0545e0c'
    """
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


def _stamp(parts: tuple[str, ...]) -> str:
    """What every run id under a partition starts with: ("2026",) → "2026", ("2026", "1128", "17") → "20261128-17"."""
    date, time = "".join(parts[:2]), "".join(parts[2:])
    return f"{date}-{time}" if time else date


def run_order(state: RunState) -> tuple[str, datetime, str]:
    """Where a run stands in `list_runs` (sorted descending): its id's UTC second, then creation time, then id.

    The second comes first, as in the index, so that a page boundary cut in creation order is one in id order
    too; within one second the random suffix says nothing, creation time decides.
    """
    return state.run_id[:15], state.created_at, state.run_id


def _refused() -> InvalidInput:
    return InvalidInput("invalid cursor: pass the next_cursor of a previous list_runs answer unchanged (CLI: "
                        "the --cursor 'space-factory runs' printed), or no cursor for the newest runs")


@dataclass(frozen=True)
class RunsCursor:
    """Where the next page of `list_runs` starts: just after this run, in `run_order`, in one owner's runs.

    On the wire it is opaque (URL-safe base64 of `<run_id>~<created_at in µs since the epoch>~<owner key>`);
    `decode` accepts only the exact text `encode` makes, so a hand-made or altered cursor is refused, never
    guessed at. The owner key makes a cursor of one owner's page an error for another owner. A cursor without
    one (the first cursors this service gave) still names a position; either way it is not a permission: the
    page holds only the caller's own runs, whatever it says.
    """

    run_id: str
    created_at: datetime
    owner: str | None = None  # `owner_key` of the owner whose page gave the cursor

    @classmethod
    def after(cls, state: RunState, owner: str) -> RunsCursor:
        """The cursor of the page after the one that ends with `state`, in `owner`'s runs."""
        return cls(state.run_id, state.created_at, owner_key(owner))

    @property
    def order(self) -> tuple[str, datetime, str]:
        return self.run_id[:15], self.created_at, self.run_id

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        payload = f"{self.run_id}~{micros}" + (f"~{self.owner}" if self.owner is not None else "")
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, owner: str) -> RunsCursor:
        """The cursor `text` stands for, in `owner`'s runs.

        Raises:
            InvalidInput: `text` is not a cursor a `list_runs` page gave, or one another owner's page gave (the
                message does not repeat it, nor say which).
        """
        if not isinstance(text, str) or not _RUNS_CURSOR_RE.fullmatch(text):
            raise _refused()
        try:
            payload = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            raise _refused() from None
        match = _CURSOR_PAYLOAD_RE.fullmatch(payload)
        if match is None or match["owner"] not in (None, owner_key(owner)):
            raise _refused()
        try:
            cursor = cls(match["run_id"], _EPOCH + timedelta(microseconds=int(match["micros"])), match["owner"])
        except OverflowError:  # past the year 9999
            raise _refused() from None
        if cursor.encode() != text:  # another spelling of a payload: not one this service made
            raise _refused()
        return cursor


class RunsIndex:
    """One owner's part of the index in `bucket`.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from space_factory.backends.local.bucket import DirectoryBucket
        >>> index = RunsIndex(DirectoryBucket(Path(tempfile.mkdtemp())), "tester")
        >>> index.add("20261128-171233-tiny-gpt2-4f9a1c"); index.add("20261128-171234-tiny-gpt2-000000")
        >>> list(index.newest_first())
        ['20261128-171234-tiny-gpt2-000000', '20261128-171233-tiny-gpt2-4f9a1c']
    """

    def __init__(self, bucket: Bucket, owner: str) -> None:
        self.bucket = bucket
        self.owner = owner
        self.root = f"{INDEX_PREFIX}/{owner_key(owner)}"

    def entry(self, run_id: str) -> str:
        """The key of `run_id`'s entry.

        Raises:
            InvalidInput: `run_id` is not one `mint_run_id` makes (no UTC stamp to file it under).
        """
        stamp = _STAMPED.match(run_id)
        if stamp is None or not _RUN_ID.fullmatch(run_id):
            raise InvalidInput(f"run id {run_id[:100]!r} has no UTC stamp to index it by")
        return "/".join((self.root, *stamp.groups(), run_id))

    def add(self, run_id: str) -> None:
        """Index `run_id` (an idempotent write: adding an entry again changes nothing)."""
        self.bucket.write(self.entry(run_id), run_id.encode())

    def newest_first(self, up_to_second: str | None = None) -> Iterator[str]:
        """The owner's indexed run ids, newest first, listing partitions only as the caller reads on.

        With `up_to_second` (a run id's first 15 characters, `YYYYMMDD-HHMMSS`) only the ids of that second
        or earlier: every partition newer than it is passed over by its name alone, never listed. Any text
        works as the bound (a cursor made by hand): it is compared as text, as the ids are.
        """
        yield from self._walk((), up_to_second)

    def page(self, state: Callable[[str], RunState], limit: int, after: RunsCursor | None = None) -> RunList:
        """Up to `limit` (> 0) of the owner's runs, newest first, just after `after` (None: from the newest).

        Each run is read with `state` (`Factory.state`); an entry whose run it does not find is left out. The
        next cursor is None on the last page.
        """
        page: list[RunState] = []
        # Runs of a later second than the cursor's were all served already: the walk starts at the cursor's second.
        for run_id in self.newest_first(None if after is None else after.run_id[:15]):
            # One run past the limit says whether a next page exists; within one second the ids' order says
            # nothing, so read on through the second of the last run read before stopping.
            if len(page) > limit and run_id[:15] != page[-1].run_id[:15]:
                break
            if after is not None and run_id == after.run_id:  # the last run the previous page served
                continue
            try:
                run = state(run_id)
            except RunNotFound:  # an entry whose launch never wrote the record, or a misfiled one: not a run of ours
                continue
            if after is None or run_order(run) < after.order:
                page.append(run)
        page.sort(key=run_order, reverse=True)
        more = len(page) > limit
        page = page[:limit]
        return RunList(runs=page, next_cursor=RunsCursor.after(page[-1], self.owner).encode() if more else None)

    def _walk(self, parts: tuple[str, ...], bound: str | None) -> Iterator[str]:
        level = len(parts)
        for name in sorted(self.bucket.list("/".join((self.root, *parts))), reverse=True):
            if level < len(_LEVELS):
                if not _LEVELS[level].fullmatch(name):
                    continue
                child = (*parts, name)
                stamp = _stamp(child)
                # Every id under `child` starts with `stamp`: past the bound there, all of them are.
                if bound is None or stamp <= bound[:len(stamp)]:
                    yield from self._walk(child, bound)
            elif _RUN_ID.fullmatch(name) and name.startswith(_stamp(parts)) and (bound is None or name[:15] <= bound):
                yield name


def backfill(bucket: Bucket) -> int | None:
    """Index every run record in `bucket` under its owner, once: the number indexed now, None if already done.

    Runs `launch` made since the index exists are indexed already; this is for the records written before it.
    The owner comes from the record's own `request.json`; a folder without a readable one, or whose name has no
    UTC stamp, is not a run `launch` made and is left out, as a page would leave it out.
    """
    if bucket.read(COMPLETE) is not None:
        return None
    missing: dict[str, list[str]] = {}  # a leaf partition's key → the entries to write into it
    indexes: dict[str, RunsIndex] = {}
    for run_id in bucket.list(layout.RUNS_PREFIX):
        if _STAMPED.match(run_id) is None or not _RUN_ID.fullmatch(run_id):
            continue
        request = RunRecord(bucket, run_id).read_model(layout.REQUEST, RunRequest)
        if request is None or request.run_id != run_id:
            continue
        index = indexes.setdefault(request.owner, RunsIndex(bucket, request.owner))
        entry = index.entry(run_id)
        missing.setdefault(entry.rsplit("/", 1)[0], []).append(entry)
    written = 0
    for leaf, entries in missing.items():
        present = set(bucket.list(leaf))  # one listing per minute, not one lookup per run: a resumed backfill
        for entry in entries:
            run_id = entry.rsplit("/", 1)[1]
            if run_id not in present:
                bucket.write(entry, run_id.encode())
                written += 1
    bucket.write(COMPLETE, json.dumps({"indexed": written}).encode())
    if written:
        logger.info("indexed %d run records written before the runs index existed", written)
    return written
