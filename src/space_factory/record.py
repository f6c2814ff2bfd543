"""Reading and writing one run's record (DESIGN §4-§5) over any `Bucket`.

The worker writes through it inside the job; the service reads through it from the server. The
state's terminal statuses are sticky: once a run is finished, failed or canceled, a late writer (a
worker that was being killed, a reconciling reader) cannot move it back.

The shared logs (`events.jsonl`, `hardware_requests.jsonl`) have one **owner** at a time, the only writer
of the log object: the worker while its job runs, the service before the job starts and after it ended.
Where the bucket's appends are atomic (a local directory) everyone simply appends. Where they are not (an
HF bucket, a job's hf-mount: whole-object writes only, last writer wins), the owner rewrites the whole log
and a **guest** (`as_guest()`: the service while the worker may be writing) posts each line as an object of
its own in the log's inbox (`events.inbox/<utc stamp>-<nonce>.json`), which the owner folds in at its next
append; only the owner numbers events, so `seq` stays 1, 2, 3, … with no gap and no duplicate.
"""

from __future__ import annotations

import json
import secrets
from typing import TypedDict, TypeVar, Unpack

from pydantic import BaseModel, ValidationError

from space_factory.backends.base import Bucket
from space_factory.domain import layout
from space_factory.domain.gate_status import GateStatus
from space_factory.domain.phases import TERMINAL_STATUSES, Phase, RunStatus
from space_factory.domain.schemas import Event, EventLevel, JsonDict, RunState, utcnow
from space_factory.domain.stages import JobStage, SpaceStage

M = TypeVar("M", bound=BaseModel)
_TAIL_BYTES = 64 * 1024
_INBOX_SUFFIX = ".inbox"


def inbox_of(log: str) -> str:
    """The inbox folder of a shared log, beside it: `events.jsonl` → `events.inbox`."""
    return log.removesuffix(".jsonl") + _INBOX_SUFFIX


def _identity(line: JsonDict) -> str:
    # A posted line is folded once: the owner recognises it in the log by its content without the seq.
    return json.dumps({k: v for k, v in line.items() if k != "seq"}, sort_keys=True, default=str)


def _lines(data: bytes) -> list[JsonDict]:
    out: list[JsonDict] = []
    for raw in data.splitlines():
        try:
            value = json.loads(raw)
        except ValueError:
            continue  # a torn last line while a writer appends
        if isinstance(value, dict):
            out.append(value)
    return out


class SpacePatch(TypedDict, total=False):
    """The `state.space` fields to change; a key left out keeps its stored value."""

    id: str | None
    url: str | None
    stage: SpaceStage | None
    hardware: str | None


class JobPatch(TypedDict, total=False):
    """The `state.job` fields to change; a key left out keeps its stored value."""

    id: str | None
    stage: JobStage | None
    url: str | None


class StateChanges(TypedDict, total=False):
    """The `state.json` fields `update_state` may change; `space` and `job` merge into the stored ones."""

    status: RunStatus
    phase: Phase
    gate_status: GateStatus | None
    error: str | None
    space: SpacePatch
    job: JobPatch


class RunRecord:
    """One run's files in a bucket.

    Example:
        >>> from space_factory.backends.local.bucket import DirectoryBucket
        >>> import tempfile, pathlib
        >>> rec = RunRecord(DirectoryBucket(pathlib.Path(tempfile.mkdtemp())), "20261128-000000-x-abcdef")
        >>> rec.exists()
        False
    """

    def __init__(self, bucket: Bucket, run_id: str, *, guest: bool = False) -> None:
        self.bucket = bucket
        self.run_id = run_id
        self.prefix = layout.run_dir(run_id)
        self.guest = guest
        self._posted: dict[str, JsonDict] = {}

    def as_guest(self) -> RunRecord:
        """This record for a writer that does not own the shared logs: another writer (the run's worker) may be
        writing them, so its events and log lines go through their inboxes (see the module docstring)."""
        return RunRecord(self.bucket, self.run_id, guest=True)

    def _posts(self) -> bool:
        return self.guest and not self.bucket.atomic_append

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
        """Add a line to the shared log `relative`: appended, rewritten by its owner, or posted by a guest."""
        if self.bucket.atomic_append:
            self.bucket.append(self.key(relative), (value.model_dump_json() + "\n").encode("utf-8"))
        elif self.guest:
            self._post(relative, json.loads(value.model_dump_json()))
        else:
            self._rewrite_log(relative, type(value), [json.loads(value.model_dump_json())], numbered=False)

    # -- shared logs on buckets without atomic appends ---------------------------------------------

    def _post(self, relative: str, line: JsonDict) -> None:
        name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.json"
        self.bucket.write(self.key(f"{inbox_of(relative)}/{name}"), json.dumps(line, default=str).encode("utf-8"))

    def _inbox(self, relative: str) -> list[JsonDict]:
        """The lines posted to the log's inbox, oldest first (their names start with the poster's UTC time)."""
        folder = self.key(inbox_of(relative))
        out: list[JsonDict] = []
        for name in sorted(self.bucket.list(folder)):
            key = f"{folder}/{name}"
            if not name.endswith(".json"):
                continue
            if key not in self._posted:  # a posted object never changes: read once
                found = _lines(self.bucket.read(key) or b"")
                if not found:
                    continue  # not (yet) whole where the mount shows it: the next fold reads it again
                self._posted[key] = found[0]
            out.append(self._posted[key])
        return out

    def _unfolded(self, relative: str, log: list[JsonDict]) -> list[JsonDict]:
        seen = {_identity(line) for line in log}
        return [line for line in self._inbox(relative) if _identity(line) not in seen]

    def _rewrite_log(self, relative: str, model: type[M], new: list[JsonDict], *, numbered: bool) -> list[M]:
        """As the log's owner: fold the inbox in, add `new`, and write the whole log once; the lines added.

        The log is rewritten as it was read plus the new lines, so a reader's cached prefix stays valid.
        """
        key = self.key(relative)
        data = self.bucket.read(key) or b""
        if data and not data.endswith(b"\n"):
            data += b"\n"  # a writer died mid-line: start a fresh one, or the next line is lost in it
        log = _lines(data)
        last = max((line["seq"] for line in log if isinstance(line.get("seq"), int)), default=0)
        added: list[M] = []
        for line in self._unfolded(relative, log) + new:
            if numbered:
                last += 1
                line = {**line, "seq": last}
            try:
                added.append(model.model_validate(line))
            except ValidationError:
                continue  # a posted object that is not a line of this log
        self.bucket.write(key, data + b"".join((m.model_dump_json() + "\n").encode("utf-8") for m in added))
        return added

    # -- state -----------------------------------------------------------------------------------

    def state(self) -> RunState | None:
        return self.read_model(layout.STATE, RunState)

    def write_state(self, state: RunState) -> None:
        self.write_model(layout.STATE, state)

    def update_state(self, *, force: bool = False, **changes: Unpack[StateChanges]) -> RunState:
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
            data = {**current.model_dump(), **changes, "updated_at": utcnow()}
            if "space" in changes:
                data["space"] = {**current.space.model_dump(), **changes["space"]}
            if "job" in changes:
                data["job"] = {**current.job.model_dump(), **changes["job"]}
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
                     data: JsonDict | None = None) -> Event | None:
        """Append one event with the next `seq` (1, 2, 3, … across every writer of this run).

        Where appends are not atomic, the owner folds in what guests posted (each gets its seq) before its own
        event, and a guest posts its event for the owner to number: then the answer is None.
        """
        if self._posts():
            self._post(layout.EVENTS, self._event_line(phase, message, level, data))
            return None
        if not self.bucket.atomic_append:
            line = self._event_line(phase, message, level, data)
            return self._rewrite_log(layout.EVENTS, Event, [line], numbered=True)[-1]
        key = self.key(layout.EVENTS)
        with self.bucket.lock(key):
            event = Event(seq=self._last_seq() + 1, phase=phase, level=level, message=message, data=data or {})
            size = self.bucket.size(key) or 0
            # A writer that died mid-line left a torn last line: start a fresh line, or this event is lost in it.
            lead = b"\n" if size and self.bucket.read_range(key, size - 1, 1) != b"\n" else b""
            self.bucket.append(key, lead + (event.model_dump_json() + "\n").encode("utf-8"))
        return event

    @staticmethod
    def _event_line(phase: Phase, message: str, level: EventLevel, data: JsonDict | None) -> JsonDict:
        line: JsonDict = json.loads(Event(seq=1, phase=phase, level=level, message=message,
                                          data=data or {}).model_dump_json())
        del line["seq"]  # the log's owner numbers it
        return line

    def events(self, since_seq: int = 0, limit: int | None = None, *, with_inbox: bool = False) -> list[Event]:
        """Events with `seq > since_seq`, oldest first, at most `limit`.

        `with_inbox` also shows the posted events no owner will fold any more (a canceled run: its worker was
        stopped), numbered after the log's last event in the order they were posted, as a fold would number them.
        It costs a listing of the inbox, so readers ask for it only then.
        """
        data = self.read_bytes(layout.EVENTS) or b""
        lines = _lines(data)
        if with_inbox and not self.bucket.atomic_append:
            last = max((line["seq"] for line in lines if isinstance(line.get("seq"), int)), default=0)
            lines += [{**line, "seq": last + n} for n, line in enumerate(self._unfolded(layout.EVENTS, lines), 1)]
        out: list[Event] = []
        for line in lines:
            try:
                event = Event.model_validate(line)
            except ValidationError:
                continue
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
