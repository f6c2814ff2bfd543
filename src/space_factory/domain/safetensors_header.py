"""Parse a safetensors header into parameter counts per dtype, without touching the tensors.

A safetensors file starts with an 8-byte little-endian header length N, then N bytes of JSON:
`{"<tensor name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ..., "__metadata__": {..}}`.
The header comes from an untrusted repository, so every entry is checked and bad ones are skipped.
"""

from __future__ import annotations

import json
import math

__all__ = ["HEADER_PREFIX_BYTES", "MAX_HEADER_BYTES", "header_length", "parse_safetensors_header"]

HEADER_PREFIX_BYTES = 8
# The safetensors format itself refuses headers over 100 MB; so do we.
MAX_HEADER_BYTES = 100 * 1024 * 1024
_MAX_DTYPE_LEN = 16


def header_length(prefix: bytes) -> int:
    """The header length announced by a file's first 8 bytes.

    Raises:
        ValueError: fewer than 8 bytes, or a length above `MAX_HEADER_BYTES`.

    Example:
        >>> header_length((42).to_bytes(8, "little"))
        42
    """
    if len(prefix) < HEADER_PREFIX_BYTES:
        raise ValueError(f"a safetensors file starts with 8 bytes; got {len(prefix)}")
    length = int.from_bytes(prefix[:HEADER_PREFIX_BYTES], "little")
    if length > MAX_HEADER_BYTES:
        raise ValueError(f"safetensors header of {length} bytes is over the {MAX_HEADER_BYTES}-byte limit")
    return length


def parse_safetensors_header(raw: bytes) -> dict[str, int]:
    """Count parameters per dtype in a safetensors JSON header.

    Args:
        raw: the N header bytes (after the 8-byte length).

    Returns:
        `{dtype: number of elements}`, e.g. `{"F32": 124439808}`; tensors with a malformed entry are
        skipped, and `__metadata__` is ignored.

    Raises:
        ValueError: the header is not a JSON object (not UTF-8, not JSON, or another JSON type).

    Example:
        >>> parse_safetensors_header(b'{"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 12]}}')
        {'F16': 6}
    """
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"safetensors header is not valid UTF-8 JSON: {type(exc).__name__}") from exc
    if not isinstance(header, dict):
        raise ValueError(f"safetensors header is a JSON {type(header).__name__}, not an object")
    counts: dict[str, int] = {}
    for name, entry in header.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        dtype, shape = entry.get("dtype"), entry.get("shape")
        if not isinstance(dtype, str) or not 0 < len(dtype) <= _MAX_DTYPE_LEN or not isinstance(shape, list):
            continue
        # bool is an int subclass: a shape of [true] is malformed, not [1].
        if not all(isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in shape):
            continue
        counts[dtype] = counts.get(dtype, 0) + math.prod(shape)
    return counts
