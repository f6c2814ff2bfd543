"""How the emulator answers reads of bucket objects, in each shape the Hub may use (issue 13 point 3).

`ObjectAnswers` is the switch (`hub.objects`):
- `range_shape`: "206" (a partial answer with its `Content-Range`), "200" (the range ignored: the whole object),
  or "alternate" (each in turn, the default, so every build meets both);
- `missing_code`: whether a 404 for a missing object or folder carries `X-Error-Code: EntryNotFound` (default
  off: the stricter answer, which huggingface_hub turns into a plain `HfHubHTTPError`).
A missing folder in a tree listing is answered 404 too (hf-apis.md §1.6: "[] or a 404"), not `[]`.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field

from fastapi import Response

from tests.hub_emulator.answers import HubError

RANGE_SHAPES = ("206", "200", "alternate")


@dataclass
class ObjectAnswers:
    range_shape: str = "alternate"
    missing_code: bool = False
    _turn: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def missing(self, what: str = "Entry not found") -> HubError:
        return HubError(404, what, "EntryNotFound" if self.missing_code else None)

    def answer(self, data: bytes, wanted: str | None, headers: dict[str, str]) -> Response:
        """The answer to a GET of `data` with the `Range` header `wanted`."""
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", (wanted or "").strip())
        with self._lock:
            shape = self.range_shape if self.range_shape != "alternate" else ("206", "200")[next(self._turn) % 2]
        if match is None or shape == "200":
            return Response(data, headers=headers)
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
        return Response(data[start:end + 1], status_code=206,
                        headers={"Content-Range": f"bytes {start}-{end}/{len(data)}"})
