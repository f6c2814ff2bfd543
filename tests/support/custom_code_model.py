"""A tiny custom-code model for tests: its architecture lives in the repo's own Python files behind `auto_map`
(the LongCat class of model, in miniature), so loading it needs `trust_remote_code=True`.

`build_custom_code_lm(out_dir)` writes `configuration_tiny_custom.py`, `modeling_tiny_custom.py`, a config
whose `auto_map` names them, random weights, the tiny GPT-2 tokenizer and a `text-generation` card. Like
`tiny_models`, importing this module imports nothing heavy, and nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from tests.support.tiny_models import SEED, build_gpt2, write_card

CONFIG_SOURCE = '''"""Configuration of the tiny custom causal LM (test fixture)."""

from transformers import PretrainedConfig


class TinyCustomConfig(PretrainedConfig):
    model_type = "tiny-custom"

    def __init__(self, vocab_size=400, hidden_size=32, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
'''

MODELING_SOURCE = '''"""The tiny custom causal LM (test fixture): embeddings, a causal running mean, a mixing layer."""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_tiny_custom import TinyCustomConfig


class TinyCustomForCausalLM(PreTrainedModel):
    config_class = TinyCustomConfig
    base_model_prefix = "tiny"

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.mix = nn.Linear(config.hidden_size, config.hidden_size)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        hidden = self.embed(input_ids)
        steps = torch.arange(1, hidden.shape[1] + 1, device=hidden.device).view(1, -1, 1)
        hidden = torch.tanh(self.mix(hidden.cumsum(dim=1) / steps))
        return CausalLMOutput(logits=self.head(hidden))
'''


def build_custom_code_lm(out_dir: Path) -> Path:
    """The tiny custom-code model in `out_dir` (a `save_pretrained`-style folder with its own code)."""
    import torch

    build_gpt2(out_dir)  # the tokenizer (and a card, replaced below); its GPT-2 weights are removed
    for name in ("model.safetensors", "generation_config.json", "config.json"):
        (out_dir / name).unlink(missing_ok=True)
    (out_dir / "configuration_tiny_custom.py").write_text(CONFIG_SOURCE)
    (out_dir / "modeling_tiny_custom.py").write_text(MODELING_SOURCE)
    package = f"tiny_custom_build_{abs(hash(str(out_dir)))}"
    (out_dir / "__init__.py").write_text("")
    spec = importlib.util.spec_from_file_location(package, out_dir / "__init__.py",
                                                  submodule_search_locations=[str(out_dir)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        spec.loader.exec_module(module)
        configuration = importlib.import_module(f"{package}.configuration_tiny_custom")
        modeling = importlib.import_module(f"{package}.modeling_tiny_custom")
        vocab = len(json.loads((out_dir / "tokenizer.json").read_text())["model"]["vocab"]) + 1
        torch.manual_seed(SEED)
        config = configuration.TinyCustomConfig(vocab_size=vocab, hidden_size=32,
                                                architectures=["TinyCustomForCausalLM"])
        modeling.TinyCustomForCausalLM(config).save_pretrained(out_dir)
    finally:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]
        (out_dir / "__init__.py").unlink(missing_ok=True)
    data = json.loads((out_dir / "config.json").read_text())
    data["auto_map"] = {"AutoConfig": "configuration_tiny_custom.TinyCustomConfig",
                        "AutoModelForCausalLM": "modeling_tiny_custom.TinyCustomForCausalLM"}
    (out_dir / "config.json").write_text(json.dumps(data, indent=2))
    (out_dir / "README.md").unlink(missing_ok=True)
    write_card(out_dir, "text-generation", [{"text": "the cat sat"}], tags=("custom_code",))
    return out_dir


if __name__ == "__main__":  # python -m tests.support.custom_code_model OUT_DIR
    print(build_custom_code_lm(Path(sys.argv[1])))
