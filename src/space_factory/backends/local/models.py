"""Model facts from the local Hugging Face cache, read offline (DESIGN §2; hf-apis.md §4.3).

Layout read (the one `hf_hub_download` writes, plain files or symlinks into `blobs/`):

    <cache>/models--owner--name/refs/main              the commit sha (a trailing newline is tolerated)
    <cache>/models--owner--name/snapshots/<sha>/...     the repository's files

Nothing here touches the network, and nothing reads a tensor: safetensors files are read up to the end
of their JSON header only. The card, config.json and the headers come from a model repository and are
untrusted: every parse failure is tolerated and leaves that fact empty.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import date
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import yaml  # type: ignore[import-untyped, unused-ignore]

from space_factory.domain.analysis import select_weight_files
from space_factory.domain.errors import ModelNotFound
from space_factory.domain.ids import parse_model_id
from space_factory.domain.safetensors_header import (
    HEADER_PREFIX_BYTES,
    header_length,
    parse_safetensors_header,
)
from space_factory.domain.schemas import FileEntry, JsonDict, ModelFacts

__all__ = ["CacheModelSource", "parse_card_yaml", "read_safetensors_params", "split_front_matter"]

logger = logging.getLogger(__name__)

MAX_README_BYTES = 2 * 1024 * 1024
MAX_FRONT_MATTER_CHARS = 1_000_000
MAX_CARD_TEXT_CHARS = 200_000
MAX_CONFIG_BYTES = 10 * 1024 * 1024
MAX_FILES = 10_000
MAX_YAML_DEPTH = 32
_MAX_REF_BYTES = 256
# libyaml's safe loader when PyYAML has it (fast, and it refuses deep nesting itself); same safe constructor.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CacheModelSource:
    """A `ModelSource` over the local Hugging Face cache (`HF_HUB_CACHE`), offline.

    Args:
        cache_dir: the hub cache directory (the one holding `models--*`). Default: the current
            `huggingface_hub.constants.HF_HUB_CACHE`, read at each call. huggingface_hub reads `HF_HOME`
            and `HF_HUB_CACHE` once, at import, so pass `cache_dir` when the environment changed later.

    Example:
        >>> source = CacheModelSource(Path("/tmp/hf/hub"))
        >>> source.model_facts("factory-test/tiny-gpt2").revision  # doctest: +SKIP
        '2bdbae04329165c908883c0059e5926feed13dc4'
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir or Path(huggingface_hub.constants.HF_HUB_CACHE)

    def model_facts(self, model: str) -> ModelFacts:
        """Facts about `model`, from its cached snapshot (the one `refs/main` names, else the newest).

        Raises:
            InvalidModelId: `model` is not a model id.
            ModelNotFound: the cache holds no snapshot of the model.
        """
        model_id = parse_model_id(model)
        cache = self.cache_dir
        snapshot = _snapshot_dir(cache / f"models--{model_id.replace('/', '--')}")
        if snapshot is None:
            # No path in the message: it may travel to a remote MCP client (STYLE R6).
            raise ModelNotFound(model_id, "the local Hugging Face cache (HF_HOME)")
        files = _list_files(snapshot)
        card_data, card_text = _read_card(snapshot / "README.md")
        safetensors_params: dict[str, int] = {}
        for entry in select_weight_files(files):
            if entry.path.endswith(".safetensors"):
                try:
                    counts = read_safetensors_params(snapshot / entry.path)
                except (OSError, ValueError) as exc:
                    logger.debug("skipping safetensors header of %s: %s", entry.path, exc)
                    continue
                for dtype, count in counts.items():
                    safetensors_params[dtype] = safetensors_params.get(dtype, 0) + count
        return ModelFacts(
            model=model_id,
            revision=snapshot.name,
            card_data=card_data,
            card_text=card_text,
            config=_read_json(snapshot / "config.json"),
            files=files,
            safetensors_params=safetensors_params,
        )


def _snapshot_dir(repo_dir: Path) -> Path | None:
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    try:
        with (repo_dir / "refs" / "main").open("rb") as fh:
            ref = fh.read(_MAX_REF_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        ref = ""
    # huggingface_hub itself fails on a ref with a trailing newline (hf-apis.md §4.3); we strip it.
    if ref and ref not in (".", "..") and "/" not in ref and "\\" not in ref and (snapshots / ref).is_dir():
        return snapshots / ref
    candidates = [p for p in snapshots.iterdir() if p.is_dir()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def _list_files(snapshot: Path) -> list[FileEntry]:
    """Regular files under the snapshot (symlinks into blobs/ followed), as sorted relative POSIX paths."""
    entries: list[FileEntry] = []
    for root, dirs, names in os.walk(snapshot):  # followlinks=False: no loops through linked folders
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            try:
                info = path.stat()
            except OSError:  # a broken symlink: the blob is not there
                continue
            if stat.S_ISREG(info.st_mode):
                entries.append(FileEntry(path=path.relative_to(snapshot).as_posix(), size=info.st_size))
            if len(entries) >= MAX_FILES:
                logger.warning("%s holds more than %d files; listing stops there", snapshot.name, MAX_FILES)
                return sorted(entries, key=lambda e: e.path)
    return sorted(entries, key=lambda e: e.path)


def _read_limited(path: Path, limit: int) -> bytes | None:
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _read_json(path: Path) -> JsonDict | None:
    raw = _read_limited(path, MAX_CONFIG_BYTES + 1)
    if raw is None or len(raw) > MAX_CONFIG_BYTES:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        logger.debug("%s is not valid JSON; ignored", path.name)
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


def _read_card(path: Path) -> tuple[JsonDict, str]:
    raw = _read_limited(path, MAX_README_BYTES)
    if raw is None:
        return {}, ""
    front, body = split_front_matter(raw.decode("utf-8", "replace"))
    data: object = None
    if front is not None and len(front) <= MAX_FRONT_MATTER_CHARS:
        try:
            data = parse_card_yaml(front)
        # Card YAML is untrusted: besides YAMLError, PyYAML raises ValueError (huge ints), RecursionError
        # (deep nesting) and TypeError on some malformed keys. Any failure means "no front matter".
        except Exception as exc:
            logger.debug("card front matter of %s does not parse: %s", path.parent.name, type(exc).__name__)
    card = _jsonable(data)
    return (card if isinstance(card, dict) else {}), body[:MAX_CARD_TEXT_CHARS]


def read_safetensors_params(path: Path) -> dict[str, int]:
    """Parameter counts per dtype from a safetensors file's header; the tensors are never read.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not a safetensors file (bad length or header).
    """
    with path.open("rb") as fh:
        length = header_length(fh.read(HEADER_PREFIX_BYTES))
        if length > os.fstat(fh.fileno()).st_size - HEADER_PREFIX_BYTES:
            raise ValueError(f"safetensors header of {length} bytes is longer than the file")
        raw = fh.read(length)
    return parse_safetensors_header(raw)
