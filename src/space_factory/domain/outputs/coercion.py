"""Reading untrusted API outputs: numbers, scores, JSON held in strings, and the text inside wrappers.

A generated app returns anything at all; these helpers never raise and answer None (or the value as it
was) for what does not fit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

__all__ = ["MAX_UNWRAP", "as_float", "as_text", "clip", "first_of_tuple", "is_score", "maybe_json"]

# Softmax outputs may overshoot 1.0 by a rounding error.
_SCORE_TOLERANCE = 1e-6
# How many list/dict layers are looked through to find the value inside.
MAX_UNWRAP = 4


def clip(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_float(value: object) -> float | None:
    """The number as a float (huge ints become inf); None for anything that is not a number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf


def is_score(value: object) -> bool:
    """A finite number in [0, 1] (with a rounding tolerance).

    Example:
        >>> is_score(0.5), is_score(1.0000001), is_score(True), is_score(float("nan"))
        (True, True, False, False)
    """
    number = as_float(value)
    return number is not None and math.isfinite(number) and -_SCORE_TOLERANCE <= number <= 1 + _SCORE_TOLERANCE


def maybe_json(value: object) -> object:
    """Parse a string that holds a JSON list or object; anything else is returned as is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def first_of_tuple(value: object) -> object:
    """gradio_client returns a tuple when an endpoint has several outputs; the first is the task's."""
    return value[0] if isinstance(value, tuple) and value else value


def as_text(output: object, keys: Sequence[str]) -> str | None:
    """The text in a str, a list/tuple (its first item), or a dict under one of `keys`.

    Example:
        >>> as_text([{"generated_text": "hi"}], ("generated_text",))
        'hi'
    """
    value = output
    for _ in range(MAX_UNWRAP):
        if isinstance(value, str):
            return value
        if isinstance(value, list | tuple) and value:
            value = value[0]
        elif isinstance(value, Mapping):
            found = next((value[k] for k in keys if k in value), None)
            # transformers' chat output: generated_text is the message list; the reply is the last one.
            if isinstance(found, list) and found and isinstance(found[-1], Mapping):
                found = found[-1].get("content")
            value = found
        else:
            return None
    return None
