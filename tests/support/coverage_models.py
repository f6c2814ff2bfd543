"""Tiny random-weight models for the coverage templates (issue 11, text and generation tasks), built offline.

Each builder writes a `save_pretrained` folder with a model card: a Llama-like chat model (its chat template in
chat_template.jinja, as transformers 5 saves it), a tiny LLaVA (vision-language, the template in the processor), a BLIP
captioner, a tiny Stable Diffusion pipeline (UNet, VAE, CLIP text encoder, scheduler), an NLI head
for zero-shot classification and a BERT question-answering head. `build_coverage` lays the requested ones into an
HF cache the way `tests.support.tiny_models.build_all` does. Nothing is downloaded; the outputs are meaningless.

Like tiny_models, importing this module imports nothing heavy and sets no environment variable (pitfall P1).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.tiny_models import CORPUS, DEFAULT_ORG, SEED, bert_tokenizer, install_into_cache, write_card

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

# ChatML; message content is a string or a list of {"type": "image"} / {"type": "text", "text": ...} parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHAT_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]
NLI_LABELS = ["entailment", "neutral", "contradiction"]


def chat_tokenizer(model_max_length: int = 256) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (reproducible trainer, P8) with ChatML special tokens and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Without the byte alphabet, random weights cannot emit stray bytes that decode to U+FFFD (P9).
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=CHAT_SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", unk_token="<|endoftext|>",
        pad_token="<|endoftext|>", model_max_length=model_max_length, chat_template=CHAT_TEMPLATE,
        extra_special_tokens={"image_token": "<image>"},
    )


def _llama_config(tok: PreTrainedTokenizerFast) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=256, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
    )


def build_chat_llama(out_dir: Path) -> Path:
    """LlamaForCausalLM whose tokenizer carries a ChatML chat template; card widget in messages form."""
    import torch
    from transformers import LlamaForCausalLM

    tok = chat_tokenizer()
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(_llama_config(tok))
    model.generation_config.max_new_tokens = 16
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    write_card(out_dir, "text-generation", [{"messages": [{"role": "user", "content": "the cat sat"}]}],
               tags=("conversational",))
    return out_dir


def build_llava(out_dir: Path) -> Path:
    """A tiny LLaVA: CLIP vision tower + Llama text model; the chat template lives in the processor."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = chat_tokenizer()
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=_llama_config(tok),
                         image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-1,
                         vision_feature_select_strategy="default")
    torch.manual_seed(SEED)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.max_new_tokens = 16
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out_dir)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                image_mean=[0.5] * 3, image_std=[0.5] * 3)
    LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                   chat_template=CHAT_TEMPLATE, num_additional_image_tokens=1).save_pretrained(out_dir)
    write_card(out_dir, "image-text-to-text",
               [{"src": "https://example.invalid/cat.png", "text": "what is in the picture?"}])
    return out_dir


def build_blip(out_dir: Path) -> Path:
    """A tiny BLIP captioner (BlipForConditionalGeneration + BlipProcessor with a BERT WordPiece tokenizer)."""
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    tok = bert_tokenizer()
    tok.bos_token = "[CLS]"
    text = {"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": 64, "bos_token_id": tok.cls_token_id,
            "eos_token_id": tok.sep_token_id, "sep_token_id": tok.sep_token_id, "pad_token_id": tok.pad_token_id,
            "initializer_range": 0.5}
    # A wide init makes the random decoder depend on the image: with the default, two images gave one caption.
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8, "initializer_range": 0.5}
    config = BlipConfig(text_config=text, vision_config=vision, projection_dim=32, initializer_range=0.5)
    torch.manual_seed(SEED)
    model = BlipForConditionalGeneration(config)
    model.generation_config.max_new_tokens = 12
    model.save_pretrained(out_dir)
    images = BlipImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    BlipProcessor(image_processor=images, tokenizer=tok).save_pretrained(out_dir)
    write_card(out_dir, "image-to-text", [{"src": "https://example.invalid/cat.png", "example_title": "cat"}])
    return out_dir


def build_nli(out_dir: Path) -> Path:
    """A BERT sequence-pair classifier with entailment/neutral/contradiction labels: the zero-shot NLI head."""
    import torch
    from transformers import BertForSequenceClassification

    from tests.support.tiny_models import tiny_bert_config

    tok = bert_tokenizer()
    torch.manual_seed(SEED)
    BertForSequenceClassification(tiny_bert_config(len(tok), NLI_LABELS)).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    write_card(out_dir, "zero-shot-classification",
               [{"text": "this movie was great", "candidate_labels": "cinema, politics, sport"}])
    return out_dir


def build_bert_qa(out_dir: Path) -> Path:
    """BertForQuestionAnswering (start/end logits); the card widget carries a question and its context."""
    import torch
    from transformers import BertForQuestionAnswering

    from tests.support.tiny_models import tiny_bert_config

    tok = bert_tokenizer()
    torch.manual_seed(SEED)
    BertForQuestionAnswering(tiny_bert_config(len(tok))).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    write_card(out_dir, "question-answering",
               [{"text": "where did alice meet bob?", "context": "alice met bob in london last year"}])
    return out_dir


def clip_tokenizer() -> Any:
    """A CLIPTokenizer over the byte-level BPE vocabulary the chat models use (vocab + merges in memory, P6)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<|startoftext|>", "<|endoftext|>"]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                         end_of_word_suffix="</w>"))
    saved = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in saved["merges"]]
    return CLIPTokenizer(vocab=saved["vocab"], merges=merges, model_max_length=77)


def build_tiny_sd(out_dir: Path) -> Path:
    """A tiny Stable Diffusion pipeline: UNet2DConditionModel, AutoencoderKL, CLIP text encoder, DDIM scheduler.

    The latents are 16×16 and the VAE upsamples twice: the pipeline draws 32×32 images by default.
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tok = clip_tokenizer()
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=4, attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, projection_dim=32,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tok, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(out_dir)
    write_card(out_dir, "text-to-image", [{"text": "a photo of a cat"}], library_name="diffusers")
    return out_dir


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "tiny-chat-llama": build_chat_llama,
    "tiny-llava": build_llava,
    "tiny-blip": build_blip,
    "tiny-sd": build_tiny_sd,
    "tiny-nli": build_nli,
    "tiny-bert-qa": build_bert_qa,
}
# The task each model's card declares (the e2e tests check the analysis found it).
TASKS = {"tiny-chat-llama": "text-generation", "tiny-llava": "image-text-to-text", "tiny-blip": "image-to-text",
         "tiny-sd": "text-to-image", "tiny-nli": "zero-shot-classification", "tiny-bert-qa": "question-answering"}


def build_coverage(hf_home: Path | str, names: Iterable[str] = BUILDERS, org: str = DEFAULT_ORG) -> dict[str, str]:
    """Build the named coverage models and install them into the HF cache at `hf_home`.

    Returns:
        Model name (e.g. "tiny-sd") to repo id (e.g. "factory-test/tiny-sd").
    """
    repos: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="coverage_build_") as build_root:
        for name in names:
            repo_id = f"{org}/{name}"
            install_into_cache(BUILDERS[name](Path(build_root) / name), repo_id, hf_home)
            repos[name] = repo_id
    return repos


if __name__ == "__main__":  # python -m tests.support.coverage_models HF_HOME [NAME ...]: prints the repo ids as JSON
    import sys

    print(json.dumps(build_coverage(sys.argv[1], sys.argv[2:] or list(BUILDERS))))
