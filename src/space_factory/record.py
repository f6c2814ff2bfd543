"""Reading and writing one run's record (DESIGN §4-§5) over any `Bucket`.

The worker writes through it inside the job; the service reads through it from the server. The
state's terminal statuses are sticky: once a run is finished, failed or canceled, a late writer (a
worker that was being killed, a reconciling reader) cannot move it back.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from space_factory.backends.base import Bucket
from space_factory.domain import layout
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.schemas import Event, EventLevel, JsonDict, RunState, utcnow

M = TypeVar("M", bound=BaseModel)
_TAIL_BYTES = 64 * 1024


class RunRecord:
    """One run's files in a bucket.

    Example:
        >>> from space_factory.backends.local.bucket import DirectoryBucket
        >>> import tempfile, pathlib
        >>> rec = RunRecord(DirectoryBucket(pathlib.Path(tempfile.mkdtemp())), "20261128-000000-x-abcdef")
        >>> rec.exists()
        False
    """

    def __init__(self, bucket: Bucket, run_id: str) -> None:
        self.bucket = bucket
        self.run_id = run_id
        self.prefix = layout.run_dir(run_id)

    def key(self, relative: str) -> str:
        return layout.safe_child(self.prefix, relative)

    def exists(self) -> bool:
        return self.bucket.size(self.key(layout.STATE)) is not None

    # -- plain files -----------------------------------------------------------------------------

    def read_bytes(self, relative: str) -> bytes | None:
        return self.bucket.read(self.key(relative))

    def read_text(self, relative: str) -> str | None:
        data = self.read_bytes(relative)
        return None if data is None else data.decode("utf-8", errors="replace")

    def write_text(self, relative: str, text: str) -> None:
        self.bucket.write(self.key(relative), text.encode("utf-8"))

    def read_model(self, relative: str, model: type[M]) -> M | None:
        data = self.read_bytes(relative)
        if data is None:
            return None
        try:
            return model.model_validate_json(data)
        except ValidationError:
            return None

    def read_json(self, relative: str) -> JsonDict | None:
        data = self.read_bytes(relative)
        if data is None:
            return None
        try:
            value = json.loads(data)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def write_model(self, relative: str, value: BaseModel) -> None:
        self.bucket.write(self.key(relative), value.model_dump_json(indent=2).encode("utf-8"))

    def write_json(self, relative: str, value: JsonDict) -> None:
        self.bucket.write(self.key(relative), json.dumps(value, indent=2, default=str).encode("utf-8"))

    def append_jsonl(self, relative: str, value: BaseModel) -> None:
        self.bucket.append(self.key(relative), (value.model_dump_json() + "\n").encode("utf-8"))

    # -- state -----------------------------------------------------------------------------------

    def state(self) -> RunState | None:
        return self.read_model(layout.STATE, RunState)

    def write_state(self, state: RunState) -> None:
        self.write_model(layout.STATE, state)

    def update_state(self, *, force: bool = False, **changes: object) -> RunState:
        """Apply `changes` to `state.json` under the record's lock and return the new state.

        A terminal status is sticky: unless `force`, changes to a finished, failed or canceled run
        are ignored and the stored state is returned as it is.
        """
        with self.bucket.lock(self.key(layout.STATE)):
            current = self.state()
            if current is None:
                raise FileNotFoundError(f"run {self.run_id} has no state.json")
            if current.status in TERMINAL_STATUSES and not force:
                return current
            data = current.model_dump()
            for name, value in changes.items():
                if name in ("job", "space") and isinstance(value, dict):
                    data[name] = {**data[name], **value}
                else:
                    data[name] = value
            data["updated_at"] = utcnow()
            new = RunState.model_validate(data)
            self.write_state(new)
            return new

    # -- events ----------------------------------------------------------------------------------

    def _last_seq(self) -> int:
        key = self.key(layout.EVENTS)
        size = self.bucket.size(key) or 0
        tail = self.bucket.read_range(key, max(0, size - _TAIL_BYTES), _TAIL_BYTES)
        for line in reversed(tail.splitlines()):
            try:
                return int(json.loads(line)["seq"])
            except (ValueError, KeyError, TypeError):
                continue
        return 0

    def append_event(self, phase: Phase, message: str, *, level: EventLevel = "info",
                     data: JsonDict | None = None) -> Event:
        """Append one event with the next `seq` (1, 2, 3, … across every writer of this run)."""
        key = self.key(layout.EVENTS)
        with self.bucket.lock(key):
            event = Event(seq=self._last_seq() + 1, phase=phase, level=level, message=message, data=data or {})
            size = self.bucket.size(key) or 0
            # A writer that died mid-line left a torn last line: start a fresh line, or this event is lost in it.
            lead = b"\n" if size and self.bucket.read_range(key, size - 1, 1) != b"\n" else b""
            self.bucket.append(key, lead + (event.model_dump_json() + "\n").encode("utf-8"))
        return event

    def events(self, since_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Events with `seq > since_seq`, oldest first, at most `limit`."""
        data = self.read_bytes(layout.EVENTS) or b""
        out: list[Event] = []
        for line in data.splitlines():
            try:
                event = Event.model_validate_json(line)
            except ValidationError:
                continue  # a torn last line while a writer appends
            if event.seq > since_seq:
                if limit is not None and len(out) >= limit:  # checked first, so limit=0 gives none
                    break
                out.append(event)
        return out

    def is_terminal(self) -> bool:
        state = self.state()
        return state is not None and state.status in TERMINAL_STATUSES

    def mark_running(self, phase: Phase, message: str, **data: object) -> None:
        """Move to `phase` (status running) and record the event — the common step of the worker."""
        self.update_state(status=RunStatus.RUNNING, phase=phase)
        self.append_event(phase, message, data=dict(data))
