"""`space-factory files` and `space-factory revise` (DESIGN §8, §12; issue 10) in subprocesses, over parents written
as the worker leaves them; the revisions' own builds are end-to-end tests (tests/e2e/test_revisions.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from space_factory.domain import layout
from space_factory.record import RunRecord
from space_factory.service import Factory
from tests.support.processes import end_factory_processes
from tests.test_cli import cli, cli_json
from tests.tools.helpers import make_factory
from tests.tools.test_files import APP, write_parent


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[dict[str, str], Factory]]:
    folder = tmp_path / "home"
    yield {**os.environ, "SPACE_FACTORY_HOME": str(folder)}, make_factory(folder)
    end_factory_processes(folder)


def test_files_lists_the_app_and_prints_one_file(home: tuple[dict[str, str], Factory]) -> None:
    env, factory = home
    run_id = write_parent(factory)
    code, listing = cli_json(env, "files", run_id)
    assert code == 0 and [f["path"] for f in listing["files"]] == ["README.md", "app.py", "requirements.txt"]
    code, out, _ = cli(env, "files", run_id)
    assert code == 0 and "revision 1" in out and "app.py" in out
    code, out, _ = cli(env, "files", run_id, "app.py")
    assert code == 0 and out == APP["app.py"]
    code, error = cli_json(env, "files", run_id, "../state.json")
    assert code == 1 and "'..' segment" in error["error"]


def test_revise_from_a_directory_sends_its_text_files_and_removals(home: tuple[dict[str, str], Factory],
                                                                   tmp_path: Path) -> None:
    """`--from-dir` sends every file (not .git/ or __pycache__/), `--file` wins over it, `--remove` deletes."""
    env, factory = home
    run_id = write_parent(factory)
    folder = tmp_path / "app"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0\xff")
    (folder / "app.py").write_text("print('from the directory')\n")
    (folder / "requirements.txt").write_text(APP["requirements.txt"])
    (folder / "pkg").mkdir()
    (folder / "pkg" / "util.py").write_text("X = 1\n")
    override = tmp_path / "override.py"
    override.write_text("print('from --file')\n")
    code, state = cli_json(env, "revise", run_id, "--from-dir", str(folder), "--file", f"app.py={override}",
                           "--remove", "README.md", "--note", "from a folder")
    assert code == 0 and state["mode"] == "revise" and state["revision"] == 2, state
    change = RunRecord(factory.backend.bucket, state["run_id"]).read_json(layout.REVISION) or {}
    assert change["files"] == {"app.py": "print('from --file')\n", "pkg/util.py": "X = 1\n"}  # unchanged files drop
    assert change["remove"] == ["README.md"] and change["note"] == "from a folder"
    cli_json(env, "cancel", state["run_id"])


@pytest.mark.parametrize(("args", "message"), [
    (["--file", "app.py"], "--file takes PATH=LOCAL_FILE"),
    (["--file", "app.py=/nonexistent/file.py"], "cannot read"),
    (["--from-dir", "/nonexistent"], "is not a directory"),
    (["--file", "app.py=LATIN1"], "is not UTF-8 text"),
    (["--file", "app.py=SAME"], "changes nothing"),
])
def test_revise_refuses_bad_local_input_before_anything_starts(home: tuple[dict[str, str], Factory], tmp_path: Path,
                                                               args: list[str], message: str) -> None:
    env, factory = home
    run_id = write_parent(factory)
    (tmp_path / "latin1.py").write_bytes("café = 1\n".encode("latin-1"))
    (tmp_path / "same.py").write_text(APP["app.py"])
    args = [a.replace("LATIN1", str(tmp_path / "latin1.py")).replace("SAME", str(tmp_path / "same.py")) for a in args]
    runs = sorted(p.name for p in (factory.settings.bucket_dir("tester") / "runs").iterdir())
    code, error = cli_json(env, "revise", run_id, *args)
    assert code == 1 and message in error["error"] and error["type"], error
    assert sorted(p.name for p in (factory.settings.bucket_dir("tester") / "runs").iterdir()) == runs
