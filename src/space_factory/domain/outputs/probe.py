"""The constant-output check: did a second call with a different input return the same output?"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from space_factory.domain.outputs.judges import label_pairs

__all__ = ["same_files", "same_labels", "same_output"]


def _canonical(value: object) -> str:
    """A stable text form to compare two outputs byte for byte."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def same_output(output: object, probe_output: object) -> bool:
    """Whether two outputs are the same value, compared in a canonical JSON form.

    Example:
        >>> same_output({"a": 1, "b": [2]}, {"b": [2], "a": 1}), same_output("x", "y")
        (True, False)
    """
    return _canonical(output) == _canonical(probe_output)


def same_labels(output: object, probe_output: object) -> bool:
    """Whether two label outputs carry the same labels *and* confidences, whatever their format.

    The full confidences are compared: a real classifier's scores move even when the top label does not.
    """
    mine, theirs = label_pairs(output), label_pairs(probe_output)
    if isinstance(mine, str) or isinstance(theirs, str):
        return False
    return _canonical(sorted(map(repr, mine))) == _canonical(sorted(map(repr, theirs)))


def same_files(files: Mapping[str, bytes], probe_files: Mapping[str, bytes]) -> bool:
    """Whether two calls returned files with the same bytes (compared as sorted SHA-256 digests; the names,
    temporary paths, never match). Two calls without files are not "the same": there is nothing to compare.

    Example:
        >>> same_files({"/a/x.png": b"1"}, {"/b/y.png": b"1"}), same_files({"/a": b"1"}, {"/b": b"2"})
        (True, False)
    """
    if not files or not probe_files:
        return False

    def digests(found: Mapping[str, bytes]) -> list[str]:
        return sorted(hashlib.sha256(data).hexdigest() for data in found.values())

    return digests(files) == digests(probe_files)
