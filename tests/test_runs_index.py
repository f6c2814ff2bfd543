"""The runs index behind `list_runs` (issue 8; `space_factory.runs_index`, docs/architecture.md "The runs index").

A page lists only the caller's own index partitions it reads from and reads only its own runs, whatever the
history or the other owners of a shared bucket hold; records from before the index are indexed once; cursors
resume exactly, even inside one second, and belong to the owner whose page gave them. Costs are counted as
bucket calls (names listed, keys read), never timed.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx2
import huggingface_hub.constants
import pytest
from huggingface_hub import HfApi

from space_factory.backends.base import Bucket, JobStatus
from space_factory.backends.hf import budget
from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.domain import layout
from space_factory.domain.errors import InvalidInput
from space_factory.domain.ids import mint_run_id
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import RunRequest, RunState
from space_factory.domain.stages import JobStage
from space_factory.record import RunRecord
from space_factory.runs_index import COMPLETE, RunsCursor, RunsIndex, backfill, owner_key, run_order
from space_factory.service import Factory
from tests.hub_emulator.fixtures import ALICE, BOB, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.support.runs import wait_terminal
from tests.support.tokens import fake_token
from tests.tools.helpers import write_run

NOW = datetime(2026, 11, 28, 17, 12, 33, tzinfo=UTC)


class CountingBucket:
    """A `Bucket` that counts what passes through it: every key read or written, every name listed (by prefix)."""

    def __init__(self, inner: Bucket) -> None:
        self.inner = inner
        self.atomic_append = inner.atomic_append
        self.reads: list[str] = []
        self.writes: list[str] = []
        self.listed: Counter[str] = Counter()  # prefix → names it answered

    def reset(self) -> None:
        self.reads.clear()
        self.writes.clear()
        self.listed.clear()

    def read(self, key: str) -> bytes | None:
        self.reads.append(key)
        return self.inner.read(key)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        self.reads.append(key)
        return self.inner.read_range(key, start, length)

    def size(self, key: str) -> int | None:
        self.reads.append(key)
        return self.inner.size(key)

    def write(self, key: str, data: bytes) -> None:
        self.writes.append(key)
        self.inner.write(key, data)

    def append(self, key: str, data: bytes) -> None:
        self.inner.append(key, data)

    def create(self, key: str, data: bytes) -> bytes | None:
        return self.inner.create(key, data)

    def list(self, prefix: str) -> list[str]:
        names = self.inner.list(prefix)
        self.listed[prefix] += len(names)
        return names

    def lock(self, key: str) -> AbstractContextManager[None]:
        return self.inner.lock(key)

    def runs_read(self) -> set[str]:
        """The run ids whose record a call read."""
        return {key.split("/")[1] for key in self.reads if key.startswith("runs/")}


class HeldJobs:
    """Jobs that start nothing: a launched run stays queued, and no process outlives the test."""

    def launch(self, run_id: str) -> JobStatus:
        return JobStatus(id=f"held-{run_id[-6:]}", stage=JobStage.SCHEDULING)

    def status(self, job_id: str) -> JobStatus:
        return JobStatus(id=job_id, stage=JobStage.SCHEDULING)

    def cancel(self, job_id: str) -> JobStatus:
        return JobStatus(id=job_id, stage=JobStage.CANCELED)


def counted(factory: Factory, owner: str | None = None) -> tuple[Factory, CountingBucket]:
    """A factory over `factory`'s bucket (as `owner`), whose bucket calls are counted."""
    bucket = CountingBucket(factory.backend.bucket)
    backend = dataclasses.replace(factory.backend, bucket=bucket, owner=owner or factory.backend.owner)
    return Factory(factory.settings, backend), bucket


def write_record(bucket: Bucket, owner: str, run_id: str, created_at: datetime | None = None) -> str:
    """A finished run's record, written directly (no index entry): a run from before the index."""
    record = RunRecord(bucket, run_id)
    record.write_model(layout.REQUEST, RunRequest(run_id=run_id, model="factory-test/tiny-gpt2", owner=owner))
    state = RunState(run_id=run_id, model="factory-test/tiny-gpt2", owner=owner, status=RunStatus.FINISHED,
                     phase=Phase.DONE)
    record.write_state(state.model_copy(update={"created_at": created_at}) if created_at else state)
    return run_id


def indexed_run(bucket: Bucket, owner: str, run_id: str, created_at: datetime | None = None) -> str:
    """A run as `launch` leaves it for the listing: its index entry, then its record."""
    RunsIndex(bucket, owner).add(run_id)
    return write_record(bucket, owner, run_id, created_at)


def spread_ids(count: int, step: timedelta, start: datetime = NOW) -> list[str]:
    """`count` run ids `step` apart going back from `start`, oldest first."""
    return [mint_run_id("factory-test/tiny-gpt2", start - step * (count - i)) for i in range(count)]


def all_pages(factory: Factory, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(1000):
        page = factory.runs_page(limit=limit, cursor=cursor)
        pages.append([s.run_id for s in page.runs])
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("paging did not end")


def mark_indexed(bucket: Bucket) -> None:
    """What a first page leaves behind: the bucket's records are all indexed."""
    assert backfill(bucket) is not None


# -- paging ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 10, 50])
def test_paging_gives_every_run_once_newest_first_across_minutes_hours_days_and_years(factory: Factory,
                                                                                    limit: int) -> None:
    """Runs a second, a minute, an hour, a day and a year apart: every partition boundary is crossed."""
    bucket = factory.backend.bucket
    ids = [*spread_ids(4, timedelta(days=400)), *spread_ids(5, timedelta(days=1)), *spread_ids(6, timedelta(hours=1)),
           *spread_ids(7, timedelta(minutes=1)), *spread_ids(8, timedelta(seconds=1))]
    ids = sorted(set(ids))
    for run_id in ids:
        indexed_run(bucket, "tester", run_id)
    pages = all_pages(factory, limit)
    assert [run_id for page in pages for run_id in page] == ids[::-1]
    assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit


def test_runs_made_in_one_second_page_in_creation_order_whatever_their_suffixes(factory: Factory) -> None:
    """Within one UTC second the random suffix says nothing: creation time orders, and a cursor cut inside
    the second resumes exactly there."""
    bucket = factory.backend.bucket
    made = [indexed_run(bucket, "tester", f"20261128-171233-run-{suffix}", NOW + timedelta(microseconds=n))
            for n, suffix in enumerate(("ffffff", "000000", "cccccc", "aaaaaa", "999999"))]
    made.append(indexed_run(bucket, "tester", "20261128-171232-run-zzzzzz", NOW - timedelta(seconds=1)))
    made.insert(0, indexed_run(bucket, "tester", "20261128-171159-run-000000", NOW - timedelta(minutes=1)))
    expected = sorted(made, key=lambda r: run_order(factory.state(r)), reverse=True)
    for limit in (1, 2, 4):
        assert [run_id for page in all_pages(factory, limit) for run_id in page] == expected


def test_launch_indexes_its_run_and_the_first_page_lists_it(factory: Factory) -> None:
    held = Factory(factory.settings, dataclasses.replace(factory.backend, jobs=HeldJobs()))
    launched = [held.launch("factory-test/tiny-gpt2").run_id for _ in range(3)]
    index = RunsIndex(factory.backend.bucket, "tester")
    assert sorted(index.newest_first()) == sorted(launched)
    assert [s.run_id for s in held.list_runs()] == launched[::-1]


def test_an_entry_without_a_record_lists_as_nothing(factory: Factory) -> None:
    """A launch cut short between its index entry and its record leaves an entry that no page shows."""
    bucket = factory.backend.bucket
    kept = indexed_run(bucket, "tester", "20261128-171230-kept-abcdef")
    RunsIndex(bucket, "tester").add("20261128-171233-never-abcdef")
    assert [s.run_id for s in factory.list_runs()] == [kept]


def test_a_page_reads_about_its_own_runs_however_many_the_owner_has(tmp_path: Path, factory: Factory) -> None:
    """The cost of a page (runs read, names listed) does not grow from 10 runs to 1,000, first page or deep."""
    costs: dict[str, tuple[int, int]] = {}
    for count in (10, 1000):
        bucket = DirectoryBucket(tmp_path / f"runs-{count}")
        for run_id in spread_ids(count, timedelta(minutes=7)):  # 1,000 runs: about five days of history
            indexed_run(bucket, "tester", run_id)
        mark_indexed(bucket)
        mine, counting = counted(Factory(factory.settings, dataclasses.replace(factory.backend, bucket=bucket)))
        cursors = {"first": None, "deep": cursor_after(mine, pages=50, limit=10) if count == 1000 else None}
        for label, cursor in cursors.items():
            if label == "deep" and cursor is None:
                continue
            counting.reset()
            assert len(mine.runs_page(limit=5, cursor=cursor).runs) == 5
            costs[f"{label} of {count}"] = (len(counting.runs_read()), sum(counting.listed.values()))
    assert {read for read, _ in costs.values()} == {6}, costs  # the page's 5 runs, and one to tell a next page
    # Listings are bounded by the calendar (a year's days, a day's hours, an hour's minutes), not by the history:
    # the listing of every run id that pages were cut from answered 1,000 names here.
    assert all(listed <= 120 for _, listed in costs.values()), costs


def cursor_after(factory: Factory, *, pages: int, limit: int) -> str:
    """The cursor after `pages` pages of `limit`, reached the way a client does."""
    cursor: str | None = None
    for _ in range(pages):
        cursor = factory.runs_page(limit=limit, cursor=cursor).next_cursor
        assert cursor is not None
    assert cursor is not None
    return cursor


# -- runs from before the index -------------------------------------------------------------------------------


def test_runs_from_before_the_index_are_indexed_once_then_listed_with_the_new_ones(factory: Factory) -> None:
    bucket = factory.backend.bucket
    old = [write_record(bucket, "tester", run_id) for run_id in spread_ids(12, timedelta(minutes=13))]
    theirs = [write_record(bucket, "mallory", run_id) for run_id in spread_ids(3, timedelta(hours=2))]
    bucket.write("runs/not-a-run/state.json", b"{}")  # no UTC stamp, no request: not a run launch made
    new = indexed_run(bucket, "tester", mint_run_id("factory-test/tiny-gpt2", NOW + timedelta(days=1)))
    assert [s.run_id for s in factory.list_runs(limit=100)] == [new, *old[::-1]]
    assert json.loads(bucket.read(COMPLETE) or b"") == {"indexed": 15}  # mallory's too: once per bucket
    assert sorted(RunsIndex(bucket, "mallory").newest_first()) == sorted(theirs)
    # A second service over the bucket finds the marker and indexes nothing again.
    again, counting = counted(factory)
    assert [s.run_id for s in again.list_runs(limit=100)] == [new, *old[::-1]]
    assert backfill(bucket) is None
    assert not counting.runs_read() - {new, *old}


def test_a_backfill_cut_short_is_taken_up_again_without_rewriting(factory: Factory) -> None:
    bucket = CountingBucket(factory.backend.bucket)
    old = [write_record(bucket, "tester", run_id) for run_id in spread_ids(6, timedelta(seconds=20))]
    index = RunsIndex(bucket, "tester")
    for run_id in old[:4]:  # indexed before the cut
        index.add(run_id)
    bucket.reset()
    assert backfill(bucket) == 2
    assert bucket.writes == [index.entry(old[4]), index.entry(old[5]), COMPLETE]
    assert list(index.newest_first()) == old[::-1]


def test_a_new_owner_in_a_shared_bucket_reads_nothing_of_the_others(factory: Factory) -> None:
    """Once the bucket is indexed, an owner with no runs pays one marker read and one empty listing."""
    bucket = factory.backend.bucket
    for run_id in spread_ids(40, timedelta(minutes=1)):
        indexed_run(bucket, "mallory", run_id)
    mark_indexed(bucket)
    newcomer, counting = counted(factory, owner="newcomer")
    assert newcomer.list_runs() == []
    assert counting.reads == [COMPLETE] and not counting.runs_read()
    assert list(counting.listed) == [f"index/{owner_key('newcomer')}"]


# -- owners ---------------------------------------------------------------------------------------------------


def test_another_owners_runs_in_a_shared_bucket_are_neither_listed_nor_read(factory: Factory) -> None:
    bucket = factory.backend.bucket
    stamps = spread_ids(30, timedelta(seconds=7))
    theirs = {indexed_run(bucket, "mallory", run_id) for run_id in stamps[::2]}  # interleaved in time with mine
    mine_ids = [indexed_run(bucket, "tester", run_id) for run_id in stamps[1::2]]
    mark_indexed(bucket)
    mine, counting = counted(factory)
    assert [run_id for page in all_pages(mine, 4) for run_id in page] == mine_ids[::-1]
    assert not counting.runs_read() & theirs
    assert all(prefix.startswith(f"index/{owner_key('tester')}") for prefix in counting.listed)


def test_a_cursor_of_one_owner_is_refused_to_another_without_a_leak(factory: Factory) -> None:
    bucket = factory.backend.bucket
    for run_id in spread_ids(5, timedelta(seconds=1)):
        indexed_run(bucket, "tester", run_id)
    their_runs = [indexed_run(bucket, "mallory", run_id) for run_id in spread_ids(5, timedelta(seconds=1))[1:]]
    cursor = factory.runs_page(limit=2).next_cursor
    assert cursor is not None
    other, counting = counted(factory, owner="mallory")
    with pytest.raises(InvalidInput) as caught:
        other.runs_page(limit=2, cursor=cursor)
    assert "invalid cursor" in str(caught.value)
    assert not any(run_id in str(caught.value) for run_id in their_runs)
    assert not counting.runs_read()
    assert [s.run_id for s in other.list_runs()] == their_runs[::-1]  # their own first page is unaffected


def test_a_cursor_without_an_owner_key_still_names_a_position_in_the_callers_runs(factory: Factory) -> None:
    """The cursors given before the owner key existed keep working: a position, never a permission."""
    bucket = factory.backend.bucket
    ids = [indexed_run(bucket, "tester", run_id) for run_id in spread_ids(4, timedelta(seconds=1))]
    indexed_run(bucket, "mallory", mint_run_id("x/y", NOW - timedelta(seconds=10)))
    state = factory.state(ids[2])
    legacy = dataclasses.replace(RunsCursor.after(state, "tester"), owner=None).encode()
    page = factory.runs_page(limit=10, cursor=legacy)
    assert [s.run_id for s in page.runs] == ids[1::-1] and page.next_cursor is None


@pytest.mark.parametrize("owner", ["tester", "mallory"])
def test_a_cursor_round_trips_only_as_the_exact_text_it_was_given(owner: str) -> None:
    cursor = RunsCursor("20261128-171233-tiny-gpt2-4f9a1c", NOW, owner_key(owner))
    text = cursor.encode()
    assert RunsCursor.decode(text, owner) == cursor
    for altered in (text + "A", text[:-1], text + "=", text.upper()):
        with pytest.raises(InvalidInput):
            RunsCursor.decode(altered, owner)


# -- the index over both buckets ------------------------------------------------------------------------------


def test_the_index_ignores_names_that_are_not_its_partitions(tmp_path: Path) -> None:
    bucket = DirectoryBucket(tmp_path)
    index = RunsIndex(bucket, "tester")
    kept = "20261128-171233-tiny-gpt2-4f9a1c"
    index.add(kept)
    for stray in ("2026/1128/17/12/20261128-999999-misfiled-abcdef", "2026/1128/17/12/NOT-A-RUN",
                  "2026/112/17/12/20261128-171233-x-abcdef", "2026/1128/7/12/20261128-071233-x-abcdef",
                  "notes.txt", "2026/1128/17/1212/20261128-171212-x-abcdef"):
        bucket.write(f"{index.root}/{stray}", b"x")
    assert list(index.newest_first()) == [kept]
    with pytest.raises(InvalidInput):
        index.entry("handmade-run-id")  # no UTC stamp: not a run id `mint_run_id` makes


def test_a_bound_prunes_newer_partitions_without_listing_them(tmp_path: Path) -> None:
    bucket = CountingBucket(DirectoryBucket(tmp_path))
    index = RunsIndex(bucket, "tester")
    ids = spread_ids(6, timedelta(days=1))
    for run_id in ids:
        index.add(run_id)
    bucket.reset()
    assert list(index.newest_first(ids[2][:15])) == ids[2::-1]
    days = {prefix.split("/")[3] for prefix in bucket.listed if prefix.count("/") >= 3}
    assert days == {run_id[4:8] for run_id in ids[:3]}  # the three newer days were never listed
    assert list(index.newest_first("19700101-000000")) == []
    assert list(index.newest_first("zzzzzzzz")) == ids[::-1]  # any text bounds, as text


class TreeHub:
    """The Hub's bucket tree and resolve routes over a dict, matching a tree prefix lexically as the Hub does."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = unquote(request.url.raw_path.decode().split("?", 1)[0])
        if path.startswith("/api/buckets/alice/runs-bucket/tree/"):
            return self.tree(path.removeprefix("/api/buckets/alice/runs-bucket/tree/"))
        if path.startswith("/buckets/alice/runs-bucket/resolve/"):
            data = self.objects.get(path.removeprefix("/buckets/alice/runs-bucket/resolve/"))
            return httpx2.Response(200, content=data) if data is not None else httpx2.Response(404)
        return httpx2.Response(500, json={"error": f"not emulated: {path}"})

    def tree(self, prefix: str) -> httpx2.Response:
        parent = prefix.rpartition("/")[0]
        entries: dict[str, str] = {}
        for key in self.objects:
            if not key.startswith(prefix) or not key.startswith(parent + "/"):
                continue
            rest = key[len(parent) + 1:].split("/")
            if len(rest) < 2:
                continue  # the prefix names an object, not a folder
            child, kind = f"{parent}/{rest[0]}/{rest[1]}", "file" if len(rest) == 2 else "directory"
            entries[child] = kind
        if not entries:
            return httpx2.Response(404, json={"error": "Folder not found"})
        return httpx2.Response(200, json=[{"type": kind, "path": path, "size": 1, "xetHash": "0" * 64,
                                           "uploadedAt": "2026-11-28T17:12:33Z"} if kind == "file" else
                                          {"type": kind, "path": path, "uploadedAt": "2026-11-28T17:12:33Z"}
                                          for path, kind in sorted(entries.items())])


@pytest.fixture
def tree_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[TreeHub]:
    fake = TreeHub()
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://hub.test")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    budget.install(httpx2.MockTransport(fake))
    yield fake
    budget.install()  # the real transport again


def test_the_hf_bucket_walks_the_index_partitions_despite_lexical_tree_prefixes(tree_hub: TreeHub) -> None:
    """`list_bucket_tree` matches its prefix lexically: listing `…/17/12` also answers `…/17/120/…`; the hf
    bucket keeps a folder's own children only, so the walk serves each run once, in order, and no stray."""
    hf = HfBucket(HfApi(endpoint="https://hub.test"), "alice/runs-bucket", fake_token())
    mine, theirs = RunsIndex(hf, "alice"), RunsIndex(hf, "bob")
    ids = [*spread_ids(3, timedelta(hours=5)), *spread_ids(4, timedelta(seconds=9))]
    for run_id in ids:
        tree_hub.objects[mine.entry(run_id)] = run_id.encode()
    for run_id in spread_ids(3, timedelta(minutes=2)):
        tree_hub.objects[theirs.entry(run_id)] = run_id.encode()
    for stray in ("2026/11280/17/12", "2026/1128/170/12", "2026/1128/17/120"):  # lexical siblings of real folders
        tree_hub.objects[f"{mine.root}/{stray}/20261128-171233-stray-abcdef"] = b"x"
    assert list(mine.newest_first()) == sorted(set(ids), reverse=True)
    assert list(mine.newest_first(ids[2][:15])) == sorted(set(ids[:3]), reverse=True)


# -- on the hf backend, against the Hub emulator ----------------------------------------------------------------


@pytest.mark.e2e
def test_on_the_hf_backend_old_and_new_runs_page_through_the_index_and_only_the_owners(hub: HubEmulator) -> None:
    """Records from before the index (written straight into the bucket) and a launched run page in order over
    the Hub's API; once indexed, a page lists no `runs/` folder, and another user reads nothing of them."""
    alice = hf_factory(ALICE.token)
    old = [write_run(alice, status=RunStatus.FINISHED, phase=Phase.DONE) for _ in range(2)]
    launched = alice.launch("factory-test/not-on-the-hub").run_id
    try:
        newest_first = [launched, *sorted(old, key=lambda r: run_order(alice.state(r)), reverse=True)]
        assert [run_id for page in all_pages(alice, 1) for run_id in page] == newest_first
        mark = len(hub.hub_requests())
        again = hf_factory(ALICE.token)  # a new service: reads the marker, indexes nothing
        assert [s.run_id for s in again.list_runs()] == newest_first
        trees = [r.path for r in hub.hub_requests()[mark:] if "/tree" in r.path]
        assert trees and all(f"/index/{owner_key('alice')}" in unquote(path) for path in trees), trees
        bob = hf_factory(BOB.token)
        assert bob.list_runs() == []
        assert not [r for r in hub.hub_requests() if r.user == "bob" and "/alice/" in r.path and r.status < 400]
    finally:
        wait_terminal(alice, launched, timeout=300)
