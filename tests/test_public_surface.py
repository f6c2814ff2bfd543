"""The package's public surface is written down and tested (STYLE R15)."""

from __future__ import annotations

import space_factory


def test_all_lists_exactly_the_public_names_sorted() -> None:
    public = sorted(name for name in vars(space_factory) if not name.startswith("_") and name != "annotations")
    modules = {"admission", "app_workspace", "backends", "cli", "config", "domain", "idempotency", "reconcile",
               "record", "revision_admission", "runs_index", "service", "trace_pages", "worker", "server", "tools"}
    assert sorted(space_factory.__all__) == space_factory.__all__
    assert sorted(set(space_factory.__all__) - {"__version__"}) == [n for n in public if n not in modules]


def test_every_public_name_resolves() -> None:
    for name in space_factory.__all__:
        assert getattr(space_factory, name) is not None
