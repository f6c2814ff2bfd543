"""Output excerpts for the run record: a short printable excerpt of an app's output and a description of its type.

Pure; never raises, whatever the output holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["describe_type", "excerpt"]

DESCRIBE_LIMIT = 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(output: object, limit: int = 500) -> str:
    """A short, printable, JSON-ish excerpt of an output for the run record.

    Long outputs are cut to `limit` characters, ending with "…". It never raises.

    Example:
        >>> excerpt({"label": "POSITIVE", "confidences": [{"label": "POSITIVE", "confidence": 0.9}]}, 40)
        '{"label": "POSITIVE", "confidences": [{…'
    """
    limit = max(limit, 2)
    value = output
    if isinstance(value, list | tuple) and len(value) > limit:
        value = list(value[:limit])  # nothing past `limit` items can show anyway
    if isinstance(value, bytes | bytearray):
        text = f"<{len(value)} bytes>"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=repr)
        except Exception:  # circular, too deep, or a __repr__ that raises: fall back to a guarded repr
            text = _safe_repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a hostile __repr__ must not break the record
        return f"<{type(value).__name__}>"


def describe_type(output: object) -> str:
    """A short description of an output's type and shape, e.g. "list[float] len=32".

    Example:
        >>> describe_type({"label": "a", "confidences": []}), describe_type([0.1, 2])
        ('dict{label,confidences}', 'list[float] len=2')
    """
    return _clip(_describe(output, 0), DESCRIBE_LIMIT)


def _describe(value: object, depth: int) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool | int | float | str):
        return type(value).__name__
    if isinstance(value, bytes | bytearray):
        return f"{type(value).__name__} len={len(value)}"
    if isinstance(value, Mapping):
        keys = [_clip(str(k), 20) for k in list(value)[:8]]
        return "dict{" + ",".join(keys) + (",…" if len(value) > 8 else "") + "}"
    if isinstance(value, list | tuple):
        name = type(value).__name__
        if not value:
            return f"{name} len=0"
        inner = {_element_type(item, depth) for item in value}
        if inner == {"int", "float"}:
            inner = {"float"}
        return f"{name}[{inner.pop() if len(inner) == 1 else 'mixed'}] len={len(value)}"
    return type(value).__name__


def _element_type(value: object, depth: int) -> str:
    if isinstance(value, list | tuple) and depth < 2 and value:
        return _describe(value, depth + 1).split(" len=", 1)[0]
    if isinstance(value, Mapping):
        return "dict"
    return type(value).__name__
