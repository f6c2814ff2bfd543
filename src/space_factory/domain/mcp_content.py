"""An MCP tool result read back into what gradio_client would have returned, so the API's judges read it. Pure.

Gradio (6.31, `GradioMCPServer.postprocess_output_data`) turns each output component's value into content blocks:
an image file is an `image` block (base64) followed by a text block `Image URL: <url>` (`SVG Image URL:` for SVG);
any other file (audio, video) is one text block holding its URL; anything else is `str(value)` — a Python repr,
not JSON, for dicts and lists (a `gr.Label` comes back as `{'label': …, 'confidences': [...]}`). `mcp_output` undoes
that, one value per returned component (a multi-output result comes as one block, the repr of the outputs' list,
which is split): text components keep their text, file components become the file's
reference (its URL, or `mcp:<n>` for inline bytes), structured ones are parsed (JSON, else a Python literal) and
their FileData dicts become their URLs, as gradio_client gives downloaded paths. Blocks of the other MCP kinds
(`audio`, `resource_link`, embedded `resource`) are read too. URLs are only collected here: the caller fetches them,
from the app's own origin only, and hands the bytes to the judge with the inline ones.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["MAX_PARSED_CHARS", "McpOutput", "mcp_output"]

# A text block larger than this is not parsed (a Python literal of megabytes is no output a judge needs).
MAX_PARSED_CHARS = 4 * 1024 * 1024
MAX_INLINE_BYTES = 32 * 1024 * 1024
MAX_FILES = 32
MAX_NESTING = 8
_TEXT_COMPONENTS = frozenset({"Textbox", "Text", "TextArea", "Markdown", "Code", "HTML"})
_FILE_COMPONENTS = frozenset({"Image", "Audio", "Video", "File", "ImageEditor", "Model3D", "DownloadButton"})
_IMAGE_URL_PREFIXES = ("Image URL: ", "SVG Image URL: ")


@dataclass
class McpOutput:
    """A tool result as the judges read it.

    Attributes:
        value: the output: one value, or a tuple of one value per returned component (as gradio_client gives).
        files: inline file bytes (image/audio blocks, embedded blobs) by the reference `value` uses for them.
        urls: the http(s) URLs `value` names as files, in order; the caller fetches them (same origin only).
        note: how the blocks were matched to components, when not one value per component.
    """

    value: object = None
    files: dict[str, bytes] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)
    note: str | None = None


def _b64(data: object) -> bytes | None:
    if not isinstance(data, str) or len(data) > MAX_INLINE_BYTES * 4 // 3 + 4:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _blocks_to_values(blocks: Sequence[Mapping[str, object]], out: McpOutput) -> list[tuple[bool, str]]:
    """One raw value per output: (False, a text block's text), or (True, a file block's reference)."""
    values: list[tuple[bool, str]] = []
    index = 0
    while index < len(blocks):
        block, index = blocks[index], index + 1
        kind = block.get("type")
        if kind in ("image", "audio"):
            ref = f"mcp:{len(values)}"
            following = blocks[index] if index < len(blocks) else {}
            text = following.get("text") if following.get("type") == "text" else None
            prefix = next((p for p in _IMAGE_URL_PREFIXES if isinstance(text, str) and text.startswith(p)), None)
            if prefix is not None and isinstance(text, str):
                ref, index = text[len(prefix):].strip(), index + 1  # the image's URL names its inline bytes
            data = _b64(block.get("data"))
            if data is not None and len(out.files) < MAX_FILES:
                out.files[ref] = data
            values.append((True, ref))
        elif kind == "resource_link":
            values.append((True, _url(str(block.get("uri") or ""), out)))
        elif kind == "resource":
            resource = block.get("resource")
            resource = resource if isinstance(resource, Mapping) else {}
            ref = str(resource.get("uri") or f"mcp:{len(values)}")
            data = _b64(resource.get("blob"))
            if data is not None and len(out.files) < MAX_FILES:
                out.files[ref] = data
                values.append((True, ref))
            else:
                values.append((False, str(resource.get("text") or "")))
        else:
            values.append((False, str(block.get("text") or "")))
    return values


def _url(value: str, out: McpOutput) -> str:
    """A file's reference; an http(s) URL whose bytes are not inline is also queued for the caller to fetch."""
    fetch = value.startswith(("http://", "https://")) and value not in out.files and value not in out.urls
    if fetch and len(out.urls) < MAX_FILES:
        out.urls.append(value)
    return value


def _parsed(text: str) -> object:
    """A structured value's text as data: JSON, else a Python literal (Gradio writes `str(value)`); else the text."""
    stripped = text.strip()
    if len(stripped) > MAX_PARSED_CHARS or not stripped.startswith(("{", "[", "(")):
        return text
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _files_to_refs(value: object, out: McpOutput, depth: int = 0) -> object:
    """`value` with each FileData dict replaced by its URL (or path), as gradio_client replaces it by a path."""
    if depth > MAX_NESTING:
        return value
    if isinstance(value, Mapping):
        meta = value.get("meta")
        file_data = isinstance(meta, Mapping) and meta.get("_type") == "gradio.FileData"
        if file_data or {"path", "url", "orig_name"} <= value.keys():
            ref = value.get("url") or value.get("path")
            return _url(ref, out) if isinstance(ref, str) else ref
        return {key: _files_to_refs(item, out, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [_files_to_refs(item, out, depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def _as_component(item: tuple[bool, str], component: str | None, out: McpOutput) -> object:
    is_file, raw = item
    if is_file or component in _TEXT_COMPONENTS:
        return raw
    if component in _FILE_COMPONENTS:
        return _url(raw, out)
    return _files_to_refs(_parsed(raw), out)


def mcp_output(blocks: Sequence[Mapping[str, object]], returns: Sequence[str | None]) -> McpOutput:
    """Read a tool result's content blocks as the endpoint's outputs.

    Args:
        blocks: the result's `content`, each block as a dict (`type`, `text`, `data`, `mimeType`/`mime_type`, …).
        returns: the endpoint's returned components, in order (`view_api`'s `returns[].component`).

    Returns:
        The output, its inline files and the URLs to fetch. When the blocks do not come one per component, each
        text is read as a structured value where it looks like one, and `note` says so. It never raises.

    Example:
        >>> mcp_output([{"type": "text", "text": "{'label': 'POS', 'confidences': []}"}], ["Label"]).value
        {'label': 'POS', 'confidences': []}
        >>> mcp_output([{"type": "text", "text": "[1, 2]"}], ["Textbox"]).value
        '[1, 2]'
    """
    out = McpOutput()
    raw = _blocks_to_values(blocks, out)
    components: Sequence[str | None] = returns
    whole = _parsed(raw[0][1]) if len(raw) == 1 and len(returns) > 1 and not raw[0][0] else None
    if isinstance(whole, list | tuple) and len(whole) == len(returns):
        # Gradio's queued path hands a multi-output result over as one value, so it writes one block: the repr of
        # the outputs' list or tuple.
        values = [_files_to_refs(item, out) if isinstance(item, Mapping | list | tuple) else
                  _url(item, out) if isinstance(item, str) and component in _FILE_COMPONENTS else item
                  for item, component in zip(whole, returns, strict=True)]
        out.value = tuple(values)
        return out
    if len(raw) != len(returns):
        out.note = f"{len(raw)} output value(s) for {len(returns)} returned component(s)"
        components = [None] * len(raw)
    values = [_as_component(item, component, out) for item, component in zip(raw, components, strict=True)]
    out.value = values[0] if len(values) == 1 else tuple(values) if values else None
    return out
