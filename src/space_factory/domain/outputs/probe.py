"""The constant-output check: did a second call with a different input return the same output?"""

from __future__ import annotations

import json

from space_factory.domain.outputs.judges import label_pairs

__all__ = ["same_labels", "same_output"]


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
