"""Range reads of the run bucket, whatever shape the Hub answers in (issue 13 point 3).

`HfBucket` is driven through huggingface_hub's real shared client, whose transport is replaced by a small
in-test Hub (`httpx2.MockTransport`) that answers ranges as 206, as 200 with the whole object, or with a
`Content-Range` that starts elsewhere, and 404s with or without `X-Error-Code`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import huggingface_hub.constants
import pytest
from huggingface_hub import HfApi

from space_factory.backends.hf import budget
from space_factory.backends.hf.bucket import HfBucket, sliced
from space_factory.record import RunRecord
from tests.support.tokens import fake_token

ENDPOINT = "https://hub.test"
RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"
EVENTS = f"runs/{RUN_ID}/events.jsonl"


@dataclass
class RangeHub:
    """The bucket routes HfBucket reads: `range_shape` is how ranges are answered."""

    objects: dict[str, bytes] = field(default_factory=dict)
    range_shape: str = "206"  # "206" | "200" (the range ignored) | "elsewhere" (206 from offset 0)
    error_code: bool = True  # whether a 404 carries X-Error-Code
    requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path
        if match := re.fullmatch(r"/buckets/alice/runs-bucket/resolve/(.+)", path):
            return self.resolve(match.group(1), request.headers.get("range"))
        if path.startswith("/api/buckets/alice/runs-bucket/tree"):
            prefix = path.removeprefix("/api/buckets/alice/runs-bucket/tree").strip("/")
            entries = [{"type": "file", "path": k, "size": len(v), "xetHash": "0" * 64}
                       for k, v in self.objects.items() if k.startswith(prefix + "/")]
            return httpx2.Response(200, json=entries) if entries else self.missing()
        return httpx2.Response(500, json={"error": f"not emulated: {path}"})

    def missing(self) -> httpx2.Response:
        headers = {"X-Error-Code": "EntryNotFound"} if self.error_code else {}
        return httpx2.Response(404, json={"error": "Entry not found"}, headers=headers)

    def resolve(self, key: str, wanted: str | None) -> httpx2.Response:
        data = self.objects.get(key)
        if data is None:
            return self.missing()
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted or "")
        if match is None or self.range_shape == "200":
            return httpx2.Response(200, content=data)
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            return httpx2.Response(416, headers={"Content-Range": f"bytes */{len(data)}"})
        first = 0 if self.range_shape == "elsewhere" else start
        return httpx2.Response(206, content=data[first:end + 1],
                               headers={"Content-Range": f"bytes {first}-{end}/{len(data)}"})


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[RangeHub]:
    fake = RangeHub()
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    budget.install(httpx2.MockTransport(fake))
    try:
        yield fake
    finally:
        budget.install()  # the real transport again


def bucket() -> HfBucket:
    return HfBucket(HfApi(endpoint=ENDPOINT), "alice/runs-bucket", fake_token())


def line(seq: int) -> bytes:
    return (f'{{"seq":{seq},"ts":"2026-11-28T17:12:33Z","phase":"building","level":"info","message":"m{seq}",'
            f'"data":{{}}}}\n').encode()


@pytest.mark.parametrize("shape", ["206", "200", "elsewhere"])
def test_a_growing_log_is_read_once_per_byte_whatever_the_range_answer(hub: RangeHub, shape: str) -> None:
    """A 200 with the whole object (the range ignored) or a 206 that starts elsewhere never duplicates events."""
    hub.range_shape = shape
    hub.objects[EVENTS] = line(1) + line(2)
    reader = RunRecord(bucket(), RUN_ID)
    assert [e.seq for e in reader.events()] == [1, 2]
    for seq in (3, 4):
        hub.objects[EVENTS] += line(seq)
        assert [e.seq for e in reader.events()] == list(range(1, seq + 1))
        assert [e.seq for e in reader.events(seq - 1)] == [seq]
    assert [e.seq for e in reader.events()] == [1, 2, 3, 4]  # nothing new: still no duplicate
    tails = [r.headers.get("range") for r in hub.requests if r.url.path.endswith("events.jsonl")]
    assert tails[0] is None and all(t and t.startswith("bytes=") for t in tails[1:4])


def test_a_log_that_shrank_is_read_again_whole(hub: RangeHub) -> None:
    hub.objects[EVENTS] = line(1) + line(2) + line(3)
    reader = RunRecord(bucket(), RUN_ID)
    assert len(reader.events()) == 3
    hub.objects[EVENTS] = line(1)  # rewritten shorter by a writer that did not keep the prefix
    assert [e.seq for e in reader.events()] == [1]


@pytest.mark.parametrize("error_code", [True, False])
def test_a_missing_object_reads_as_none_with_or_without_an_error_code(hub: RangeHub, error_code: bool) -> None:
    hub.error_code = error_code
    store = bucket()
    assert store.read(f"runs/{RUN_ID}/state.json") is None
    assert store.read_range(f"runs/{RUN_ID}/logs/worker.log", 10, 100) == b""
    assert store.list(f"runs/{RUN_ID}/events.inbox") == []
    assert RunRecord(store, RUN_ID).events() == []


def test_range_pages_of_a_log_are_placed_by_their_content_range(hub: RangeHub) -> None:
    """`fetch_trace_redacted` pages with `read_range`: right bytes whatever the shape."""
    hub.objects[f"runs/{RUN_ID}/logs/worker.log"] = b"0123456789abcdef"
    for shape in ("206", "200", "elsewhere"):
        hub.range_shape = shape
        assert bucket().read_range(f"runs/{RUN_ID}/logs/worker.log", 4, 6) == b"456789", shape
        assert bucket().read_range(f"runs/{RUN_ID}/logs/worker.log", 20, 6) == b"", shape


def test_a_guest_post_is_listed_only_inside_its_folder(hub: RangeHub) -> None:
    """The Hub's tree matches prefixes lexically; a sibling folder sharing the prefix is not part of the inbox."""
    hub.objects[f"runs/{RUN_ID}/events.inbox/20261128T171233000000Z-aa.json"] = b'{"phase":"queued","message":"x"}'
    hub.objects[f"runs/{RUN_ID}/events.inbox.old/zz.json"] = b"{}"
    assert bucket().list(f"runs/{RUN_ID}/events.inbox") == ["20261128T171233000000Z-aa.json"]
    assert [e.message for e in RunRecord(bucket(), RUN_ID).events(with_inbox=True)] == ["x"]


def test_sliced_places_each_answer_shape() -> None:
    assert sliced(206, {"content-range": "bytes 10-12/13"}, b"abc", 10) == b"abc"
    assert sliced(206, {"content-range": "bytes 8-12/13"}, b"xyabc", 10) == b"abc"
    assert sliced(206, {"content-range": "bytes 11-12/13"}, b"bc", 10) is None
    assert sliced(206, {}, b"abc", 10) is None
    assert sliced(200, {}, b"0123456789abc", 10) == b"abc"
