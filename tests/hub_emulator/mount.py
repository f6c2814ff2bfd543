"""The emulator's side of an hf-mount-like job volume (the job's side is `mount_shim.py`).

`MountSwitch` is the switch a test sets (`hub.mount`): `mode` "streaming" (hf-mount's default, on by default),
"advanced" (a delayed flush) or "off" (a plain directory, as the emulator had). For each job with a bucket
volume, `JobMount` gives the job's environment (the shim, through `site/sitecustomize.py`), publishes an
advanced mount's closed files once due (also after the job ended: its stage is terminal before the last flush
lands, as a real job's may be), and logs what the mount itself asks of the Hub with the job's token: one
bucket batch commit per published file, and a listing of the whole bucket every `poll_seconds`
(hf-mount's `--poll-interval-secs`, 30 s by default). Those requests count against the token's budget.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("off", "streaming", "advanced")
_JOB_SITE = Path(__file__).parent / "site"  # its sitecustomize.py installs mount_shim.py in the job
_REPO = Path(__file__).resolve().parents[2]


@dataclass
class MountSwitch:
    """How jobs' bucket volumes behave; `delay` is an advanced mount's flush delay (hf-mount: 2 s debounce,
    at most 30 s), `poll_seconds` how often a mount lists the bucket."""

    mode: str = "streaming"
    delay: float = 3.0
    poll_seconds: float = 30.0


@dataclass
class MountRequest:
    """A Hub request the mount made for the job (a commit or a listing): method, path, the job's user."""

    method: str
    path: str
    user: str


@dataclass
class JobMount:
    """One job's emulated mount of its bucket volume.

    Args:
        switch: the mode and delays.
        folder: the job's own folder (staging area and journal live there).
        local: the bucket directory the volume maps to.
        bucket_id: `ns/name` of the mounted bucket.
        user: the job's owner (whose token the mount uses).
        log: records a request the mount made (and charges it to the user's budget).
    """

    switch: MountSwitch
    folder: Path
    local: Path
    bucket_id: str
    user: str
    log: Callable[[MountRequest], None]
    _offset: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _last_poll: float = field(default_factory=time.monotonic)

    @property
    def journal(self) -> Path:
        return self.folder / "mount-journal.jsonl"

    def env(self) -> dict[str, str]:
        """The job process's environment additions (none when the mount is a plain directory)."""
        if self.switch.mode == "off":
            return {}
        return {"PYTHONPATH": f"{_JOB_SITE}:{_REPO}", "HUB_EMULATOR_MOUNT": str(self.local),
                "HUB_EMULATOR_MOUNT_MODE": self.switch.mode, "HUB_EMULATOR_MOUNT_DELAY": str(self.switch.delay),
                "HUB_EMULATOR_MOUNT_STAGING": str(self.folder / "mount-staging"),
                "HUB_EMULATOR_MOUNT_JOURNAL": str(self.journal)}

    def step(self) -> None:
        """Read the journal's new closes, publish what is due, and log the mount's own requests."""
        if self.switch.mode == "off":
            return
        if self.journal.is_file():
            with self.journal.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            complete = chunk[:chunk.rfind(b"\n") + 1]
            self._offset += len(complete)
            for line in complete.splitlines():
                entry = json.loads(line)
                if entry.get("published"):
                    self._commit()
                else:
                    self._pending.append(entry)
        now = time.time()
        due = [e for e in self._pending if e["due"] <= now]
        self._pending = [e for e in self._pending if e["due"] > now]
        for entry in due:  # in closing order: the last writer wins
            tmp = self.folder / f"mount-publish-{uuid.uuid4().hex}"  # outside the bucket: never listed half copied
            shutil.copyfile(entry["staged"], tmp)
            os.replace(tmp, entry["target"])
            self._commit()
        if time.monotonic() - self._last_poll >= self.switch.poll_seconds:
            self._last_poll = time.monotonic()
            self.log(MountRequest("GET", f"/api/buckets/{self.bucket_id}/tree", self.user))

    def drain(self, give_up_after: float = 120.0) -> None:
        """After the job ended: publish what is still staged, each when it is due (the unmount's flush)."""
        deadline = time.monotonic() + give_up_after
        self.step()
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.1)
            self.step()

    def _commit(self) -> None:
        self.log(MountRequest("POST", f"/api/buckets/{self.bucket_id}/batch", self.user))
