"""A run's app workspace as its record keeps it (`generated/`, DESIGN §4): its files, and what each one holds.

The service lists and reads it for `get_app_files` and to admit a revision; the worker of a revision reads its
parent's from here. A revision's worker writes `app_files.json`, which names the revision that last changed each
file; a first build has none (every file is its own), so its list is read from `generated/` itself.
"""

from __future__ import annotations

from space_factory.domain import layout
from space_factory.domain.revisions import sha256_hex
from space_factory.domain.schemas import AppFile, AppFiles
from space_factory.record import RunRecord

__all__ = ["app_files", "manifest_of", "read_app_file"]

# How deep `generated/` is walked when it has no manifest: a template app is flat; an agent may add a package.
_MAX_DEPTH = 8


def app_files(record: RunRecord, revision: int = 1) -> list[AppFile]:
    """The files of the run's app, sorted by path; empty when the run generated none (e.g. no template)."""
    manifest = record.read_model(layout.APP_FILES, AppFiles)
    if manifest is not None:
        return sorted(manifest.files, key=lambda f: f.path)
    out = [AppFile(path=path, bytes=len(data), sha256=sha256_hex(data), revision=revision, run_id=record.run_id)
           for path, data in _walk(record, layout.GENERATED, 0)]
    return sorted(out, key=lambda f: f.path)


def _walk(record: RunRecord, folder: str, depth: int) -> list[tuple[str, bytes]]:
    """The files under `folder` of the record, as (path relative to `generated/`, bytes); a name that reads as
    nothing is a folder (each file is read once: on the hf backend a read is a Hub request)."""
    found: list[tuple[str, bytes]] = []
    for name in record.bucket.list(record.key(folder)):
        key = f"{folder}/{name}"
        data = record.read_bytes(key)
        if data is not None:
            found.append((key.removeprefix(f"{layout.GENERATED}/"), data))
        elif depth < _MAX_DEPTH:
            found += _walk(record, key, depth + 1)
    return found


def read_app_file(record: RunRecord, path: str) -> bytes | None:
    """The bytes of one file of the run's app (`path` checked by `layout.safe_child`), or None."""
    return record.read_bytes(f"{layout.GENERATED}/{path}")


def manifest_of(run_id: str, revision: int, files: dict[str, bytes], previous: list[AppFile],
                written: tuple[str, ...]) -> AppFiles:
    """The manifest of a revision's app: `files` (path → bytes), each attributed to the revision that last changed it
    — this one for the `written` paths, else the one `previous` (the parent's manifest) names."""
    before = {f.path: f for f in previous}
    entries = []
    for path in sorted(files):
        data = files[path]
        if path not in written and path in before:
            entries.append(before[path])
        else:
            entries.append(AppFile(path=path, bytes=len(data), sha256=sha256_hex(data), revision=revision,
                                   run_id=run_id))
    return AppFiles(run_id=run_id, revision=revision, files=entries)
