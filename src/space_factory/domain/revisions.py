"""The rules a revision is held to (DESIGN §12), pure: which paths it may write, how much, and what it changes.

A revision's `files` map paths relative to the app workspace to new UTF-8 contents and `remove` lists paths
to delete. Every path is checked here once, at the edge, before anything is written: relative, POSIX, inside
the workspace, never into `.git`. `plan_revision` then compares the change with the parent's files, so a
revision that changes nothing, or removes a file the app does not have, is refused before a run exists.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from space_factory.domain.errors import InvalidRevision

MAX_REVISION_FILES = 200  # files written plus files removed, in one revision
MAX_REVISION_BYTES = 5 * 1024 * 1024  # UTF-8 bytes written in one revision
MAX_PATH_CHARS = 300
MAX_NOTE_CHARS = 1000
APP_FILE = "app.py"  # what a Space's app needs to start (the SDK's `app_file`)

_DRIVE = re.compile(r"^[A-Za-z]:")


def path_problem(path: str) -> str | None:
    """What is wrong with `path` as a file of an app workspace, in words; None when it is fine.

    Example:
        >>> path_problem("app.py") is None, path_problem("../x"), path_problem(".git/config")
        (True, "has a '..' segment: it would leave the app's workspace", 'leads into .git')
    """
    if not path:
        return "is empty"
    if len(path) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if "\0" in path:
        return "contains a NUL character"
    if "\\" in path:
        return "contains a backslash: separate folders with '/'"
    if any(unicodedata.category(ch)[0] == "C" for ch in path):
        return "contains a control character"
    if path.startswith("/"):
        return "is absolute: give it relative to the app's workspace (e.g. 'app.py')"
    if _DRIVE.match(path):
        return "starts with a drive letter: give it relative to the app's workspace"
    segments = path.split("/")
    if any(segment == ".." for segment in segments):
        return "has a '..' segment: it would leave the app's workspace"
    if any(segment in ("", ".") for segment in segments):
        return "has an empty or '.' segment"
    if any(segment.lower() == ".git" for segment in segments):
        return "leads into .git"
    return None


def check_path(path: str) -> str:
    """`path` unchanged when it is a plain file path inside the workspace.

    Raises:
        InvalidRevision: the path breaks a rule of `path_problem`.
    """
    problem = path_problem(path)
    if problem is not None:
        raise InvalidRevision(f"path {path[:120]!r} {problem}; nothing was changed")
    return path


def check_note(note: str | None) -> str | None:
    """The commit message, held to a length and to printable text (new lines allowed); None stays None.

    Raises:
        InvalidRevision: too long, or with a NUL or another control character.
    """
    if note is None:
        return None
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidRevision(f"the note is longer than {MAX_NOTE_CHARS} characters; nothing was changed")
    if any(unicodedata.category(ch)[0] == "C" and ch not in "\n\t" for ch in note):
        raise InvalidRevision("the note contains a control character; nothing was changed")
    return note.strip() or None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Change:
    """A revision as asked, checked: new contents by path (UTF-8 bytes), paths to remove, the commit message."""

    files: Mapping[str, bytes]
    remove: tuple[str, ...]
    note: str | None

    @property
    def total_bytes(self) -> int:
        return sum(len(data) for data in self.files.values())


def parse_change(files: Mapping[str, str], remove: Iterable[str] = (), note: str | None = None) -> Change:
    """Check a revision's paths, size and text, and encode its contents once.

    Raises:
        InvalidRevision: a path breaks a rule, a path is both written and removed, more than
            `MAX_REVISION_FILES` paths or `MAX_REVISION_BYTES` bytes, or a content that is not UTF-8 text.

    Example:
        >>> parse_change({"app.py": "print(1)"}, ["old.py"]).remove
        ('old.py',)
    """
    removed = tuple(dict.fromkeys(remove))  # in order, once each
    if len(files) + len(removed) > MAX_REVISION_FILES:
        raise InvalidRevision(f"a revision may write and remove at most {MAX_REVISION_FILES} files; this one has "
                              f"{len(files) + len(removed)}; nothing was changed")
    encoded: dict[str, bytes] = {}
    for path in sorted(files):
        check_path(path)
        try:
            encoded[path] = files[path].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: a str that is no UTF-8 text
            raise InvalidRevision(f"the content of {path!r} is not UTF-8 text; nothing was changed") from None
    for path in removed:
        check_path(path)
        if path in encoded:
            raise InvalidRevision(f"{path!r} is both written and removed; nothing was changed")
    change = Change(files=encoded, remove=removed, note=check_note(note))
    if change.total_bytes > MAX_REVISION_BYTES:
        raise InvalidRevision(f"a revision may write at most {MAX_REVISION_BYTES} bytes; this one writes "
                              f"{change.total_bytes}; nothing was changed")
    return change


@dataclass(frozen=True)
class RevisionPlan:
    """What a revision changes in its parent's app: the paths it adds or rewrites and the paths it removes."""

    written: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def requirements_changed(self) -> bool:
        return "requirements.txt" in self.written or "requirements.txt" in self.removed

    def describe(self) -> str:
        """In words, for events and the default commit message.

        Example:
            >>> RevisionPlan(written=("app.py",), removed=()).describe()
            'changed app.py'
        """
        parts = []
        if self.written:
            parts.append("changed " + ", ".join(self.written[:10]) + (" …" if len(self.written) > 10 else ""))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed[:10]) + (" …" if len(self.removed) > 10 else ""))
        return "; ".join(parts)


def plan_revision(current: Mapping[str, str], change: Change, *, parent_run_id: str) -> RevisionPlan:
    """Compare `change` with the parent's files (`current`: path → sha256 of the content).

    Raises:
        InvalidRevision: a removed path is not in the app, the change changes nothing, or the revised app
            would have no `app.py`.

    Example:
        >>> plan_revision({"app.py": sha256_hex(b"a")}, parse_change({"app.py": "b"}), parent_run_id="r").written
        ('app.py',)
    """
    missing = [path for path in change.remove if path not in current]
    if missing:
        raise InvalidRevision(f"cannot remove {missing[0]!r}: the app of run {parent_run_id!r} has no such file "
                              "(get_app_files lists them); nothing was changed")
    written = tuple(path for path, data in change.files.items() if current.get(path) != sha256_hex(data))
    plan = RevisionPlan(written=written, removed=change.remove)
    if not plan.written and not plan.removed:
        raise InvalidRevision(f"this revision changes nothing: every file given is identical to the app of run "
                              f"{parent_run_id!r}; nothing was started")
    after = (set(current) | set(change.files)) - set(change.remove)
    if APP_FILE not in after:
        raise InvalidRevision(f"the revised app would have no {APP_FILE}, which the Space runs; add it, or keep it; "
                              "nothing was changed")
    return plan
