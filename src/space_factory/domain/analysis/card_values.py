"""Cleaning untrusted model-card values: every string capped and stripped of control characters, wrong types ignored.

Everything a model repository says is untrusted (DESIGN §9): these readers never raise, they give None
or nothing for a value of the wrong type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from space_factory.domain.schemas import JsonDict

__all__ = ["MAX_LABEL_CHARS", "clean_text", "clean_text_list", "first_int", "positive_int"]

MAX_LABEL_CHARS = 200  # tags, languages, license, base models, titles, architecture names
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: object, limit: int = MAX_LABEL_CHARS, *, multiline: bool = False) -> str | None:
    """A cleaned, capped string from an untrusted card value; None for anything that is not text.

    Numbers become their text; unless `multiline`, whitespace runs collapse to one blank.

    Example:
        >>> clean_text("  a\\x00b \\n c "), clean_text(12), clean_text(True), clean_text(["x"])
        ('ab c', '12', None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and abs(value) < 1e15:
        value = str(value)
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub("", value[: limit * 4])
    if not multiline:
        text = " ".join(text.split())
    return text.strip()[:limit] or None


def clean_text_list(value: object, max_items: int, limit: int = MAX_LABEL_CHARS) -> tuple[list[str], int]:
    """Unique cleaned strings from a str or a list (anything else gives nothing), and the raw item count.

    Example:
        >>> clean_text_list(["en", "en", 3, None], 10)
        (['en', '3'], 4)
    """
    items: Sequence[object] = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    out: list[str] = []
    for item in items[: max_items * 10]:
        text = clean_text(item, limit)
        if text is not None and text not in out:
            out.append(text)
            if len(out) == max_items:
                break
    return out, len(items)


def positive_int(value: object, maximum: int) -> int | None:
    """`value` when it is an int in 1..maximum (bools excluded), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= maximum:
        return value
    return None


def first_int(config: JsonDict, keys: Iterable[str], maximum: int) -> int | None:
    """The first of `keys` in `config` whose value is a `positive_int`."""
    for key in keys:
        found = positive_int(config.get(key), maximum)
        if found is not None:
            return found
    return None
