"""The coding agent's workspace (DESIGN §11): the app it edits, the data files it reads, and what it declares.

The workspace is the app folder. Beside the app, `.factory/` holds the run's **data** for Pi — the model card
(untrusted text, never part of the instructions), the analysis, the hardware plan and, for a repair, the gate's
evidence — all redacted. Data is never uploaded to the Space; everything else Pi created is (packages and
helper modules included), except what cannot belong to an app: symlinks, virtualenvs, caches and VCS folders.

`TECHNICAL_BLOCKERS.json` is how Pi declares that real inference cannot be wired (DESIGN §6). It is Pi's text:
read once here, bounded, validated, redacted, and every entry's `source` is forced to `agent`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import Blocker, Gate, ModelCardAnalysis, RuntimeRecommendation, TestResult

DATA_DIR = ".factory"
BLOCKERS_FILE = "TECHNICAL_BLOCKERS.json"
CARD_FILE = f"{DATA_DIR}/model_card.md"
ANALYSIS_FILE = f"{DATA_DIR}/analysis.json"
PLAN_FILE = f"{DATA_DIR}/hardware_plan.json"
GATE_FILE = f"{DATA_DIR}/gate.json"
TEST_RESULT_FILE = f"{DATA_DIR}/test_result.json"
BUILD_LOG_FILE = f"{DATA_DIR}/build_log_tail.txt"
RUN_LOG_FILE = f"{DATA_DIR}/run_log_tail.txt"
REPAIR_FILES = (GATE_FILE, TEST_RESULT_FILE, BUILD_LOG_FILE, RUN_LOG_FILE)

# Folders that are never part of an app, wherever they sit: the data, VCS, caches. A folder holding a
# `pyvenv.cfg` (a virtualenv Pi made to try things) is skipped too: the Space installs requirements.txt itself.
_SKIPPED_DIRS = frozenset({DATA_DIR, ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                           "node_modules", ".cache"})
# The Space gets at most this much: an agent that downloaded weights into the workspace has made a mistake.
MAX_APP_BYTES = 200 * 1024 * 1024
MAX_CARD_CHARS = 200_000
MAX_LOG_TAIL_CHARS = 8_000
# Pi's blockers file: read at most this many bytes, keep at most this many entries, cut each text.
MAX_BLOCKERS_BYTES = 64 * 1024
MAX_BLOCKERS = 20
_TEXT_LIMITS = {"kind": 64, "title": 200, "detail": 4000, "evidence": 4000}
MAX_TRIED = 20
MAX_TRIED_CHARS = 200

Snapshot = dict[str, str]  # relative POSIX path -> sha256 of the bytes


class AppTooLarge(Exception):
    """The workspace holds more than `MAX_APP_BYTES` of app files."""


@dataclass(frozen=True)
class DeclaredBlockers:
    """What Pi's `TECHNICAL_BLOCKERS.json` came to: the valid blockers, or why the file was refused."""

    blockers: list[Blocker]
    problem: str | None = None


class AgentWorkspace:
    """The app folder Pi works in, with its data files.

    Args:
        root: the app folder (created if missing).
        redactor: cleans every data file before it is written (a log tail may hold what the app printed).
    """

    def __init__(self, root: Path, redactor: Redactor) -> None:
        self.root = root
        self.redactor = redactor
        root.mkdir(parents=True, exist_ok=True)

    # -- data ------------------------------------------------------------------------------------

    def _write(self, relative: str, text: str) -> None:
        # Pi owns this folder: whatever it left at a data path (a symlink to a file of the worker's) is
        # removed, and the file is created anew without following links.
        data_dir = self.root / DATA_DIR
        if data_dir.is_symlink() or (data_dir.exists() and not data_dir.is_dir()):
            data_dir.unlink()
        data_dir.mkdir(exist_ok=True)
        path = self.root / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)

    def _write_model(self, relative: str, value: BaseModel) -> None:
        data = json.loads(value.model_dump_json())
        self._write(relative, json.dumps(self.redactor.redact_json(data), indent=2, ensure_ascii=False) + "\n")

    def write_inputs(self, *, card_text: str, analysis: ModelCardAnalysis, plan: RuntimeRecommendation) -> None:
        """The model card (as data), the analysis and the hardware plan, for every attempt."""
        self._write(CARD_FILE, self.redactor.redact_text(card_text[:MAX_CARD_CHARS]))
        self._write_model(ANALYSIS_FILE, analysis)
        self._write_model(PLAN_FILE, plan)

    def write_repair_evidence(self, *, gate: Gate, test_result: TestResult | None, build_log_tail: str | None,
                              run_log_tail: str | None) -> None:
        """What the last gate saw, for a repair: its checks, the test result and the log tails."""
        self.clear_repair_evidence()
        self._write_model(GATE_FILE, gate)
        if test_result is not None:
            self._write_model(TEST_RESULT_FILE, test_result)
        for relative, tail in ((BUILD_LOG_FILE, build_log_tail), (RUN_LOG_FILE, run_log_tail)):
            self._write(relative, self.redactor.redact_text((tail or "")[-MAX_LOG_TAIL_CHARS:]))

    def clear_repair_evidence(self) -> None:
        for relative in REPAIR_FILES:
            (self.root / relative).unlink(missing_ok=True)

    # -- the app ---------------------------------------------------------------------------------

    def app_files(self) -> list[str]:
        """The files that make the app (what is uploaded), as sorted relative POSIX paths.

        Only regular files: a symlink could point anywhere on the worker's machine, and is never followed.
        """
        found: list[str] = []
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            here = Path(folder)
            dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not (here / d).is_symlink()
                       and not (here / d / "pyvenv.cfg").exists()]
            for name in files:
                path = here / name
                relative = path.relative_to(self.root).as_posix()
                if relative == BLOCKERS_FILE or path.is_symlink() or not path.is_file():
                    continue
                found.append(relative)
        return sorted(found)

    def read_app_file(self, relative: str) -> bytes | None:
        """The bytes of an app file, or None if it is not a regular file inside the workspace (any more).

        Opened without following a final symlink, then checked by where the open file really is: Pi may swap
        a file for a link to one of the worker's between the listing and the read.
        """
        try:
            fd = os.open(self.root / relative, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            real = os.path.realpath(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else None
            inside = real is None or real.startswith(os.path.realpath(self.root) + os.sep)
            if not inside or not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return f.read(MAX_APP_BYTES + 1)

    def snapshot(self) -> Snapshot:
        """The sha256 of every app file, to tell what an attempt changed."""
        out: Snapshot = {}
        for relative in self.app_files():
            data = self.read_app_file(relative)
            if data is not None:
                out[relative] = hashlib.sha256(data).hexdigest()
        return out

    def export(self, dest: Path) -> list[str]:
        """Copy the app files (not the data) into the empty folder `dest`, for an upload; the names copied.

        Raises:
            AppTooLarge: the app files add up to more than `MAX_APP_BYTES`.
        """
        copied: list[str] = []
        total = 0
        for name in self.app_files():
            data = self.read_app_file(name)
            if data is None:
                continue
            total += len(data)
            if total > MAX_APP_BYTES:
                raise AppTooLarge(f"the app workspace holds more than {MAX_APP_BYTES // (1024 * 1024)} MB of files, "
                                  "the most that goes to a Space: weights or a virtualenv were written into it")
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            copied.append(name)
        return copied

    # -- what Pi declares ------------------------------------------------------------------------

    def declared_blockers(self) -> DeclaredBlockers | None:
        """Pi's `TECHNICAL_BLOCKERS.json`, validated; None when Pi wrote none."""
        if not (self.root / BLOCKERS_FILE).exists():
            return None
        data = self.read_app_file(BLOCKERS_FILE)
        if data is None:
            return DeclaredBlockers([], f"{BLOCKERS_FILE} is not a regular file")
        if len(data) > MAX_BLOCKERS_BYTES:
            return DeclaredBlockers([], f"{BLOCKERS_FILE} is larger than {MAX_BLOCKERS_BYTES // 1024} KB")
        return parse_blockers(data, self.redactor)


def parse_blockers(data: bytes, redactor: Redactor) -> DeclaredBlockers:
    """The blockers in a `TECHNICAL_BLOCKERS.json` written by the agent: `{"blockers": [{kind, title, detail,
    evidence, tried}]}`. Texts are cut and redacted, `source` is always `agent`; entries without a title are dropped.

    Example:
        >>> parse_blockers(b'{"blockers": [{"title": "needs 80 GB", "tried": ["SDPA"], "source": "factory"}]}',
        ...                Redactor()).blockers[0].source
        'agent'
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return DeclaredBlockers([], f"{BLOCKERS_FILE} is not valid JSON")
    entries = doc.get("blockers") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return DeclaredBlockers([], f'{BLOCKERS_FILE} has no "blockers" list')
    blockers: list[Blocker] = []
    for entry in entries[:MAX_BLOCKERS]:
        if not isinstance(entry, dict):
            continue
        fields: dict[str, object] = {"source": "agent"}
        for name, limit in _TEXT_LIMITS.items():
            value = entry.get(name)
            if isinstance(value, str) and value.strip():
                fields[name] = redactor.redact_text(value.strip()[:limit])
        tried = entry.get("tried")
        if isinstance(tried, list):
            fields["tried"] = [redactor.redact_text(item.strip()[:MAX_TRIED_CHARS])
                               for item in tried[:MAX_TRIED] if isinstance(item, str) and item.strip()]
        if "title" not in fields:
            continue
        try:
            blockers.append(Blocker.model_validate(fields))
        except ValidationError:
            continue
    if not blockers:
        return DeclaredBlockers([], f"{BLOCKERS_FILE} declares no blocker with a title")
    return DeclaredBlockers(blockers)


def files_changed(before: Snapshot, after: Snapshot) -> list[str]:
    """The paths added, changed or removed between two snapshots, sorted.

    Example:
        >>> files_changed({"app.py": "a", "old.py": "b"}, {"app.py": "c", "new.py": "d"})
        ['app.py', 'new.py', 'old.py']
    """
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
