"""Model facts from the local Hugging Face cache, read offline (DESIGN §2; hf-apis.md §4.3).

Layout read (the one `hf_hub_download` writes, plain files or symlinks into `blobs/`):

    <cache>/models--owner--name/refs/main              the commit sha (a trailing newline is tolerated)
    <cache>/models--owner--name/snapshots/<sha>/...     the repository's files

Nothing here touches the network, and nothing reads a tensor: safetensors files are read up to the end
of their JSON header only. The card, config.json and the headers come from a model repository and are
untrusted: every parse failure is tolerated and leaves that fact empty (the card and config are parsed by
`domain.model_files`, which the Hub source shares).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import huggingface_hub.constants

from space_factory.domain.analysis import select_weight_files
from space_factory.domain.errors import ModelNotFound
from space_factory.domain.ids import parse_model_id
from space_factory.domain.model_files import CARD_READ_BYTES, CONFIG_READ_BYTES, parse_card, parse_config
from space_factory.domain.safetensors_header import (
    HEADER_PREFIX_BYTES,
    header_length,
    parse_safetensors_header,
)
from space_factory.domain.schemas import FileEntry, ModelFacts

__all__ = ["CacheModelSource", "read_safetensors_params"]

logger = logging.getLogger(__name__)

MAX_FILES = 10_000
_MAX_REF_BYTES = 256


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
        card_data, card_text = parse_card(_read_head(snapshot / "README.md", CARD_READ_BYTES))
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
            config=parse_config(_read_head(snapshot / "config.json", CONFIG_READ_BYTES)),
            files=files,
            safetensors_params=safetensors_params,
            tokenizer_config=parse_config(_read_head(snapshot / "tokenizer_config.json", CONFIG_READ_BYTES)),
            processor_config=parse_config(_read_head(snapshot / "processor_config.json", CONFIG_READ_BYTES)),
            model_index=parse_config(_read_head(snapshot / "model_index.json", CONFIG_READ_BYTES)),
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


def _read_head(path: Path, limit: int) -> bytes | None:
    """At most `limit` bytes of `path`, or None when it cannot be read (missing, a broken link)."""
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


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
