"""Model facts from the Hub: `model_info` plus the card and config.json (DESIGN §2; hf-apis.md §4).

The card and config come from a model repository and are untrusted: they are parsed by
`domain.model_files`, as the cache source's are, and any parse failure leaves that fact empty.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from space_factory.backends.hf.errors import hub_errors
from space_factory.domain.ids import parse_model_id
from space_factory.domain.model_files import CARD_READ_BYTES, CONFIG_READ_BYTES, parse_card, parse_config
from space_factory.domain.schemas import FileEntry, ModelFacts

__all__ = ["HubModelSource"]


class HubModelSource:
    """A `ModelSource` over the Hub, with the caller's token.

    Args:
        api: the Hub client.
        token: the caller's token (a gated or private model needs it).
        cache_dir: where downloaded card/config files go (default: the HF cache).
    """

    def __init__(self, api: HfApi, token: str, cache_dir: Path | None = None) -> None:
        self.api = api
        self._token = token
        self.cache_dir = cache_dir

    def __repr__(self) -> str:
        return "HubModelSource()"

    def _download(self, model_id: str, revision: str | None, filename: str, limit: int) -> bytes | None:
        """The first `limit` bytes of a repository file (downloaded to the cache first), or None if unreadable."""
        with hub_errors(f"download {filename} of {model_id}", model=model_id, scope="read"):
            path = Path(self.api.hf_hub_download(model_id, filename, revision=revision, token=self._token,
                                                 cache_dir=self.cache_dir))
        try:
            with path.open("rb") as fh:
                return fh.read(limit)
        except OSError:
            return None

    def model_facts(self, model: str) -> ModelFacts:
        model_id = parse_model_id(model)
        with hub_errors(f"read the model {model_id}", model=model_id, scope="read"):
            info = self.api.model_info(model_id, files_metadata=True, token=self._token)
        names = {s.rfilename: s.size for s in info.siblings or []}
        revision = info.sha
        card_data, card_text = parse_card(self._download(model_id, revision, "README.md", CARD_READ_BYTES)) \
            if "README.md" in names else ({}, "")
        config = parse_config(self._download(model_id, revision, "config.json", CONFIG_READ_BYTES)) \
            if "config.json" in names else (info.config if isinstance(info.config, dict) else None)
        params = dict(info.safetensors.parameters) if info.safetensors else {}
        # Chat templates and diffusers components are declared in these; each is fetched only when listed.
        extra = {field: parse_config(self._download(model_id, revision, name, CONFIG_READ_BYTES))
                 for field, name in (("tokenizer_config", "tokenizer_config.json"),
                                     ("processor_config", "processor_config.json"),
                                     ("model_index", "model_index.json")) if name in names}
        return ModelFacts(model=model_id, revision=revision, card_data=card_data, card_text=card_text, config=config,
                          files=[FileEntry(path=p, size=s) for p, s in sorted(names.items())],
                          safetensors_params=params, gated=bool(info.gated), **extra)
