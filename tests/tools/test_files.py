"""get_app_files and the refusals of revise_build through the in-memory client, in both eras (DESIGN §12, issue 10).

Parents are run records written as the worker leaves them (no job); a refused revision must leave nothing behind:
no run, no index entry, no job, no change to the parent's record or to its Space.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mcp import Client

from space_factory.domain import layout
from space_factory.domain.phases import Phase, RunStatus
from space_factory.domain.schemas import ModelCardAnalysis, TargetSpace
from space_factory.record import RunRecord
from space_factory.service import MAX_APP_FILE_TEXT, Factory
from tests.support.tokens import fake_token
from tests.tools.helpers import call, call_error, make_app, make_factory, passed_gate, run_folder, write_run

pytestmark = pytest.mark.anyio

APP = {"app.py": "import gradio as gr\nprint('v1')\n", "requirements.txt": "torch\n", "README.md": "# demo\n"}


def write_parent(factory: Factory, *, files: dict[str, bytes] | None = None, space: bool = True,
                 status: RunStatus = RunStatus.FINISHED) -> str:
    """A finished build with its analysis, its app in `generated/` and, with `space`, a local Space holding it."""
    space_id = "tester/tiny-gpt2-demo-abcdef" if space else None
    run_id = write_run(factory, status=status, phase=Phase.DONE if status is RunStatus.FINISHED else Phase.BUILDING,
                       gate=passed_gate(space_id or "") if status is RunStatus.FINISHED else None, space_id=space_id)
    record = RunRecord(factory.backend.bucket, run_id)
    record.write_model(layout.ANALYSIS, ModelCardAnalysis(model="factory-test/tiny-gpt2", task="text-generation"))
    app = files if files is not None else {k: v.encode() for k, v in APP.items()}
    for path, data in app.items():
        record.bucket.write(record.key(f"{layout.GENERATED}/{path}"), data)
    if space_id:
        repo = factory.backend.spaces.spaces_dir / space_id / "repo"  # type: ignore[attr-defined]
        for path, data in app.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_bytes(data)
        commit = factory.backend.spaces.head(space_id)
        record.write_model(layout.TARGET_SPACE, TargetSpace(space_id=space_id, commit=commit))
    return run_id


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def runs_of(factory: Factory) -> list[str]:
    folder = factory.settings.bucket_dir(factory.backend.owner) / layout.RUNS_PREFIX
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- get_app_files ------------------------------------------------------------------------------


async def test_get_app_files_lists_the_deployed_files_with_their_size_hash_and_revision(client: Client,
                                                                                      factory: Factory) -> None:
    run_id = write_parent(factory)
    out = await call(client, "get_app_files", {"run_id": run_id})
    assert [f["path"] for f in out["files"]] == ["README.md", "app.py", "requirements.txt"]
    app = next(f for f in out["files"] if f["path"] == "app.py")
    assert app == {"path": "app.py", "bytes": len(APP["app.py"]), "revision": 1, "run_id": run_id,
                   "sha256": hashlib.sha256(APP["app.py"].encode()).hexdigest()}
    assert out["revision"] == 1 and out["parent_run_id"] is None and out["file"] is None
    assert out["space_id"] == "tester/tiny-gpt2-demo-abcdef" and "get_app_files(run_id, path)" in out["next_step"]


async def test_get_app_files_with_a_path_returns_that_files_text_redacted(client: Client, factory: Factory) -> None:
    token = fake_token()
    run_id = write_parent(factory, files={"app.py": f"TOKEN = '{token}'\nprint('hi')\n".encode(),
                                          "pkg/util.py": b"X = 1\n"})
    out = await call(client, "get_app_files", {"run_id": run_id, "path": "app.py"})
    assert token not in out["file"]["text"] and "print('hi')" in out["file"]["text"] and out["file"]["redacted"]
    nested = await call(client, "get_app_files", {"run_id": run_id, "path": "pkg/util.py"})
    assert nested["file"]["text"] == "X = 1\n" and nested["file"]["redacted"] is False
    assert "revise_build" in nested["next_step"]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0", "is a binary file (11 bytes)"),
    ("latin1.txt", "café".encode("latin-1"), "is a binary file (4 bytes)"),
    ("big.txt", b"x" * (MAX_APP_FILE_TEXT + 1), f"is {MAX_APP_FILE_TEXT + 1} bytes"),
])
async def test_binary_and_oversize_files_are_refused_with_their_size(client: Client, factory: Factory, name: str,
                                                                     data: bytes, message: str) -> None:
    run_id = write_parent(factory, files={"app.py": b"x", name: data})
    assert message in await call_error(client, "get_app_files", {"run_id": run_id, "path": name})


@pytest.mark.parametrize(("path", "message"), [("missing.py", "has no file at this path"),
                                               ("../state.json", "'..' segment"), ("/etc/passwd", "is absolute")])
async def test_get_app_files_refuses_paths_outside_the_app(client: Client, factory: Factory, path: str,
                                                           message: str) -> None:
    run_id = write_parent(factory)
    assert message in await call_error(client, "get_app_files", {"run_id": run_id, "path": path})


async def test_a_run_that_generated_no_app_lists_no_files_and_says_how_to_give_it_one(client: Client,
                                                                                       factory: Factory) -> None:
    run_id = write_parent(factory, files={}, space=False)
    out = await call(client, "get_app_files", {"run_id": run_id})
    assert out["files"] == [] and out["space_id"] is None and "revise_build" in out["next_step"]


async def test_another_owners_run_is_not_found(factory: Factory, tmp_path: Path) -> None:
    run_id = write_parent(factory)
    other = make_factory(factory.settings.home, owner="mallory")
    async with Client(make_app(other)) as client:
        assert "run not found" in await call_error(client, "get_app_files", {"run_id": run_id})
        text = await call_error(client, "revise_build", {"run_id": run_id, "files": {"app.py": "x"}})
    assert "run not found" in text


# -- revise_build refusals ----------------------------------------------------------------------

REFUSALS = [
    ({"/abs.py": "x"}, [], "is absolute"),
    ({"../up.py": "x"}, [], "'..' segment"),
    ({"C:/win.py": "x"}, [], "drive letter"),
    ({"nul\0.py": "x"}, [], "NUL"),
    ({"a\\b.py": "x"}, [], "backslash"),
    ({".git/config": "x"}, [], "leads into .git"),
    ({}, [".git/HEAD"], "leads into .git"),
    ({f"f{i}.py": "x" for i in range(201)}, [], "at most 200 files"),
    ({"big.txt": "x" * (5 * 1024 * 1024 + 1)}, [], "at most 5242880 bytes"),
    ({"app.py": "print('\ud800')"}, [], "not UTF-8 text"),
    (dict(APP), [], "changes nothing"),
    ({}, ["nothere.py"], "cannot remove 'nothere.py'"),
    ({}, ["app.py"], "no app.py"),
]


@pytest.mark.parametrize(("files", "remove", "message"), REFUSALS, ids=[m for _, _, m in REFUSALS])
async def test_revise_build_refuses_and_changes_nothing(client: Client, factory: Factory, files: dict[str, str],
                                                        remove: list[str], message: str) -> None:
    run_id = write_parent(factory)
    parent_dir, space_dir = run_folder(factory, run_id), factory.backend.spaces.spaces_dir  # type: ignore[attr-defined]
    before = (runs_of(factory), tree_hash(parent_dir), tree_hash(space_dir))
    text = await call_error(client, "revise_build", {"run_id": run_id, "files": files, "remove": remove})
    assert message in text and "nothing was" in text, text
    assert (runs_of(factory), tree_hash(parent_dir), tree_hash(space_dir)) == before


async def test_revise_build_of_a_run_still_going_names_the_run_to_wait_for(client: Client, factory: Factory) -> None:
    run_id = write_parent(factory, status=RunStatus.RUNNING)
    before = runs_of(factory)
    text = await call_error(client, "revise_build", {"run_id": run_id, "files": {"app.py": "print(2)"}})
    assert f"run {run_id!r} is still going" in text and "get_run_status" in text
    assert runs_of(factory) == before


async def test_revise_build_refuses_a_space_someone_else_wrote_to(client: Client, factory: Factory) -> None:
    run_id = write_parent(factory)
    repo = factory.backend.spaces.spaces_dir / "tester/tiny-gpt2-demo-abcdef/repo"  # type: ignore[attr-defined]
    (repo / "app.py").write_text("print('edited by hand')\n")
    before = (runs_of(factory), tree_hash(run_folder(factory, run_id)), tree_hash(repo))
    text = await call_error(client, "revise_build", {"run_id": run_id, "files": {"app.py": "print(2)"}})
    assert "changed since run" in text and "someone else wrote to it" in text and "nothing was changed" in text
    assert (runs_of(factory), tree_hash(run_folder(factory, run_id)), tree_hash(repo)) == before


async def test_a_validation_run_has_no_app_to_revise(client: Client, factory: Factory) -> None:
    run_id = write_parent(factory, space=False)
    record = RunRecord(factory.backend.bucket, run_id)
    request = record.read_json(layout.REQUEST) or {}
    record.write_json(layout.REQUEST, {**request, "mode": "validate"})
    assert "validation run" in await call_error(client, "revise_build", {"run_id": run_id, "files": {"app.py": "x"}})


async def test_a_revision_starts_a_new_run_on_the_same_space(client: Client, factory: Factory) -> None:
    """The new run is queued with its revision, parent and the parent's Space; the change is in its record."""
    run_id = write_parent(factory)
    out = await call(client, "revise_build", {"run_id": run_id, "files": {"app.py": "print(2)\n"},
                                              "note": "print two"})
    state = out["state"]
    assert out["run_id"] != run_id and state["mode"] == "revise" and state["revision"] == 2
    assert state["parent_run_id"] == run_id and state["space"]["id"] == "tester/tiny-gpt2-demo-abcdef"
    change = RunRecord(factory.backend.bucket, out["run_id"]).read_json(layout.REVISION) or {}
    assert change["files"] == {"app.py": "print(2)\n"} and change["note"] == "print two"
    assert change["parent_commit"] == factory.backend.spaces.head("tester/tiny-gpt2-demo-abcdef")
    listed = await call(client, "list_runs", {})
    assert {(r["run_id"], r["revision"], r["parent_run_id"]) for r in listed["runs"]} >= {
        (out["run_id"], 2, run_id), (run_id, 1, None)}
    await call(client, "cancel_run", {"run_id": out["run_id"]})
