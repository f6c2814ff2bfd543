"""A model repository's card (README.md) and config.json, parsed from bytes for both model sources.

The cache source reads these files from a snapshot, the Hub source from its downloads; both read at
most the `*_READ_BYTES` below and hand the bytes here. The files come from a model repository and
are untrusted: every parse failure is tolerated and leaves that fact empty.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from space_factory.domain.schemas import JsonDict

__all__ = [
    "CARD_READ_BYTES",
    "CONFIG_READ_BYTES",
    "MAX_YAML_DEPTH",
    "parse_card",
    "parse_card_yaml",
    "parse_config",
    "split_front_matter",
]

MAX_README_BYTES = 2 * 1024 * 1024
MAX_FRONT_MATTER_CHARS = 1_000_000
MAX_CARD_TEXT_CHARS = 200_000
MAX_CONFIG_BYTES = 10 * 1024 * 1024
MAX_YAML_DEPTH = 32
# What a source reads: a card is cut at its limit; a config one byte past it, so a larger one is refused whole.
CARD_READ_BYTES = MAX_README_BYTES
CONFIG_READ_BYTES = MAX_CONFIG_BYTES + 1
# libyaml's safe loader when PyYAML has it (fast, and it refuses deep nesting itself); same safe constructor.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_config(raw: bytes | None) -> JsonDict | None:
    """config.json as a dict, or None: missing (`raw` None), larger than its limit, not JSON, or not an object."""
    if raw is None or len(raw) > MAX_CONFIG_BYTES:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def split_front_matter(text: str) -> tuple[str | None, str]:
    """Split a card into its YAML front matter (between the first two `---` lines) and its body.

    Example:
        >>> split_front_matter("---\\nlicense: mit\\n---\\n# Title\\n")
        ('license: mit\\n', '# Title\\n')
        >>> split_front_matter("# no front matter")
        (None, '# no front matter')
    """
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None, text


def _jsonable(value: object, depth: int = 0) -> Any:
    """YAML values as JSON values: string keys, dates as ISO text, anything else odd dropped."""
    if depth > MAX_YAML_DEPTH:
        return None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {
            str(key): _jsonable(item, depth + 1)
            for key, item in value.items()
            if isinstance(key, str | int | float | bool)
        }
    return None


def parse_card_yaml(front: str) -> object:
    """`yaml.safe_load` of a card's front matter, refusing what would make it slow.

    Aliases are refused (a "billion laughs" card builds a DAG that costs exponential time to walk), and so
    is nesting deeper than `MAX_YAML_DEPTH` (PyYAML's pure-Python scanner is quadratic in the nesting depth:
    5,000 `[` took 12 s). The event stream is checked first, so a hostile document stops early.

    Raises:
        ValueError: aliases or too deep nesting.
        yaml.YAMLError: the front matter is not YAML.
    """
    depth = 0
    for event in yaml.parse(front, Loader=_YAML_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise ValueError("YAML aliases are not accepted in a model card")
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ValueError(f"card YAML nests deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
    return yaml.load(front, Loader=_YAML_LOADER)


def parse_card(raw: bytes | None) -> tuple[JsonDict, str]:
    """A card's front matter as JSON values and its body text (cut at `MAX_CARD_TEXT_CHARS`); `({}, "")` if missing."""
    if raw is None:
        return {}, ""
    front, body = split_front_matter(raw.decode("utf-8", "replace"))
    data: object = None
    if front is not None and len(front) <= MAX_FRONT_MATTER_CHARS:
        try:
            data = parse_card_yaml(front)
        # Card YAML is untrusted: besides YAMLError, PyYAML raises ValueError (huge ints), RecursionError
        # (deep nesting) and TypeError on some malformed keys. Any failure means "no front matter".
        except Exception:
            data = None
    card = _jsonable(data)
    return (card if isinstance(card, dict) else {}), body[:MAX_CARD_TEXT_CHARS]
