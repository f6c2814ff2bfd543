"""The rules a revision is held to (domain/revisions.py; DESIGN §12, issue 10), as tables."""

from __future__ import annotations

import pytest

from space_factory.domain.errors import InvalidRevision
from space_factory.domain.revisions import (
    MAX_REVISION_BYTES,
    MAX_REVISION_FILES,
    check_note,
    parse_change,
    path_problem,
    plan_revision,
    sha256_hex,
)

GOOD_PATHS = ["app.py", "requirements.txt", "pkg/module.py", "assets/logo.svg", ".gitattributes", "a/b/c/d.txt",
              "name with spaces.py", "ünïcode.py", "..hidden-but-not-dotdot", "x.git", "gitdir/.gitkeep"]
BAD_PATHS = [
    ("", "is empty"),
    ("/etc/passwd", "is absolute"),
    ("../outside.py", "'..' segment"),
    ("pkg/../../outside.py", "'..' segment"),
    ("C:/Windows/x.py", "drive letter"),
    ("c:relative.py", "drive letter"),
    ("app\0.py", "NUL"),
    ("pkg\\module.py", "backslash"),
    (".git/config", "leads into .git"),
    ("sub/.GIT/hooks/pre-commit", "leads into .git"),
    ("a//b.py", "empty or '.' segment"),
    ("./app.py", "empty or '.' segment"),
    ("dir/", "empty or '.' segment"),
    ("tab\there.py", "control character"),
    ("x" * 301, "longer than"),
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_plain_relative_paths_inside_the_workspace_are_accepted(path: str) -> None:
    assert path_problem(path) is None


@pytest.mark.parametrize(("path", "problem"), BAD_PATHS, ids=[repr(p[:20]) for p, _ in BAD_PATHS])
def test_paths_that_could_leave_the_workspace_are_refused_with_their_rule(path: str, problem: str) -> None:
    assert problem in (path_problem(path) or "")
    with pytest.raises(InvalidRevision, match="nothing was changed"):
        parse_change({path: "x"})
    with pytest.raises(InvalidRevision):
        parse_change({}, [path])


def test_count_and_size_bounds() -> None:
    parse_change({f"f{i}.py": "x" for i in range(MAX_REVISION_FILES)})
    with pytest.raises(InvalidRevision, match=f"at most {MAX_REVISION_FILES} files"):
        parse_change({f"f{i}.py": "x" for i in range(MAX_REVISION_FILES)}, ["one-more.py"])
    parse_change({"big.txt": "x" * MAX_REVISION_BYTES})
    with pytest.raises(InvalidRevision, match=f"at most {MAX_REVISION_BYTES} bytes"):
        parse_change({"big.txt": "x" * MAX_REVISION_BYTES, "more.txt": "y"})
    with pytest.raises(InvalidRevision, match="bytes"):  # counted in UTF-8 bytes, not characters
        parse_change({"big.txt": "é" * (MAX_REVISION_BYTES // 2 + 1)})


def test_content_that_is_not_utf8_text_is_refused() -> None:
    with pytest.raises(InvalidRevision, match=r"'app\.py' is not UTF-8 text"):
        parse_change({"app.py": "print('\ud800')"})  # a lone surrogate: a str no UTF-8 encodes


def test_a_path_written_and_removed_is_refused_and_removals_are_deduplicated() -> None:
    with pytest.raises(InvalidRevision, match="both written and removed"):
        parse_change({"app.py": "x"}, ["app.py"])
    assert parse_change({}, ["a.py", "a.py", "b.py"]).remove == ("a.py", "b.py")


@pytest.mark.parametrize(("note", "expected"), [(None, None), ("  fix the output  ", "fix the output"),
                                                ("line one\nline two", "line one\nline two"), ("   ", None)])
def test_notes(note: str | None, expected: str | None) -> None:
    assert check_note(note) == expected


@pytest.mark.parametrize("note", ["x" * 1001, "bell\a", "nul\0"])
def test_bad_notes_are_refused(note: str) -> None:
    with pytest.raises(InvalidRevision):
        check_note(note)


APP = {"app.py": sha256_hex(b"print(1)\n"), "requirements.txt": sha256_hex(b"torch\n")}


@pytest.mark.parametrize(("files", "remove", "written", "removed", "requirements"), [
    ({"app.py": "print(2)\n"}, [], ("app.py",), (), False),
    ({"app.py": "print(1)\n", "requirements.txt": "torch\nnumpy\n"}, [], ("requirements.txt",), (), True),
    ({"new.py": "x = 1\n"}, ["requirements.txt"], ("new.py",), ("requirements.txt",), True),
])
def test_a_plan_names_only_what_really_changes(files: dict[str, str], remove: list[str], written: tuple[str, ...],
                                               removed: tuple[str, ...], requirements: bool) -> None:
    plan = plan_revision(APP, parse_change(files, remove), parent_run_id="parent")
    assert (plan.written, plan.removed, plan.requirements_changed) == (written, removed, requirements)


@pytest.mark.parametrize(("files", "remove", "message"), [
    ({"app.py": "print(1)\n"}, [], "changes nothing"),
    ({}, [], "changes nothing"),
    ({}, ["missing.py"], "cannot remove 'missing.py'"),
    ({}, ["app.py"], "no app.py"),
])
def test_plans_that_change_nothing_or_break_the_app_are_refused(files: dict[str, str], remove: list[str],
                                                                message: str) -> None:
    with pytest.raises(InvalidRevision, match=message):
        plan_revision(APP, parse_change(files, remove), parent_run_id="parent")


def test_an_app_written_from_nothing_needs_an_app_py() -> None:
    with pytest.raises(InvalidRevision, match=r"no app\.py"):
        plan_revision({}, parse_change({"README.md": "# x"}), parent_run_id="parent")
    assert plan_revision({}, parse_change({"app.py": "x"}), parent_run_id="parent").written == ("app.py",)
