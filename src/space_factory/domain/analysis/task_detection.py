"""Which task a model does, from its card's `pipeline_tag` or else its architecture class names."""

from __future__ import annotations

import re
from typing import Literal

from space_factory.domain.analysis.card_values import clean_text
from space_factory.domain.schemas import JsonDict

__all__ = ["DetectedSource", "arch_task", "declares_chat_template", "detect_task", "diffusers_task", "is_task_name"]

DetectedSource = Literal["pipeline_tag", "architecture", "unknown"]

_TASK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

# Architecture class suffix → task, checked in order (the first architecture listed decides).
_ARCH_SUFFIX_TASKS: tuple[tuple[str, str], ...] = (
    ("ForCausalLM", "text-generation"),
    ("ForSeq2SeqLM", "text2text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForMaskedLM", "fill-mask"),
    ("ForImageClassification", "image-classification"),
    ("ForAudioClassification", "audio-classification"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "image-segmentation"),
    ("ForUniversalSegmentation", "image-segmentation"),  # Mask2Former, OneFormer
    ("ForInstanceSegmentation", "image-segmentation"),
    ("ForDepthEstimation", "depth-estimation"),  # DPT, GLPN, Depth Anything, ZoeDepth
    ("ForTextToSpeech", "text-to-speech"),  # SpeechT5
    ("ForTextToWaveform", "text-to-audio"),
    ("ForZeroShotImageClassification", "zero-shot-image-classification"),
    ("MTModel", "translation"),  # MarianMTModel
    ("LMHeadModel", "text-generation"),  # GPT2LMHeadModel (T5WithLMHeadModel is caught as seq2seq first)
)
_SEQ2SEQ_PREFIXES = (
    "t5", "mt5", "umt5", "longt5", "bart", "mbart", "pegasus", "marian", "m2m100", "nllb", "led",
    "prophetnet", "fsmt", "blenderbot", "plbart", "bigbirdpegasus", "switchtransformers", "mvp",
)
_ASR_PREFIXES = ("whisper", "speech2text", "moonshine")
# Image-to-text captioners (no prompt needed); other vision-language generators are image-text-to-text.
_CAPTION_PREFIXES = ("blipfor", "pix2struct", "gitfor", "visionencoderdecoder")
# Where a tokenizer or processor keeps its chat template when it is not a key of its config.
_CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")
_CHAT_TEMPLATE_FOLDER = "additional_chat_templates/"
_AUDIO_PREFIXES = ("wav2vec2", "hubert", "wavlm", "data2vecaudio", "sew", "unispeech")
# Whole-model classes whose name alone says the task (they would otherwise read as feature extraction).
_ARCH_NAME_TASKS = {
    "CLIPModel": "zero-shot-image-classification", "SiglipModel": "zero-shot-image-classification",
    "Siglip2Model": "zero-shot-image-classification", "ChineseCLIPModel": "zero-shot-image-classification",
    "AltCLIPModel": "zero-shot-image-classification", "VitsModel": "text-to-speech",
}
_TEXT_TO_AUDIO_PREFIXES = ("musicgen", "bark")


def is_task_name(name: str) -> bool:
    """Whether `name` is shaped like a Hub task name (lowercase letters, digits and '-', at most 64)."""
    return _TASK_NAME.fullmatch(name) is not None


def arch_task(arch: str, model_type: str | None, *, vision: bool = False, nli: bool = False) -> str | None:
    """The task an architecture class name implies, or None when it tells nothing.

    Args:
        arch: an architecture class name from config.json.
        model_type: config.json's `model_type`.
        vision: config.json has a `vision_config` (a vision-language model).
        nli: the classifier's labels include "entailment" (an NLI head, used for zero-shot classification).

    Example:
        >>> arch_task("GPT2LMHeadModel", "gpt2"), arch_task("T5ForConditionalGeneration", "t5")
        ('text-generation', 'text2text-generation')
        >>> arch_task("LlavaForConditionalGeneration", "llava", vision=True)
        'image-text-to-text'
        >>> arch_task("VisionEncoderDecoderModel", None), arch_task("BertForSequenceClassification", "bert", nli=True)
        ('image-to-text', 'zero-shot-classification')
    """
    lower = arch.lower()
    if lower.startswith(_CAPTION_PREFIXES):
        return "image-to-text"
    if lower.startswith(_SEQ2SEQ_PREFIXES) and ("ConditionalGeneration" in arch or "LMHead" in arch):
        return "text2text-generation"
    if arch.endswith("ForImageTextToText") or (vision and arch.endswith("ForConditionalGeneration")):
        return "image-text-to-text"
    if nli and arch.endswith("ForSequenceClassification"):
        return "zero-shot-classification"
    if arch in _ARCH_NAME_TASKS:
        return _ARCH_NAME_TASKS[arch]
    if lower.startswith(_TEXT_TO_AUDIO_PREFIXES) and ("ConditionalGeneration" in arch or arch.endswith("Model")):
        return "text-to-audio"
    if arch.endswith("ForConditionalGeneration"):
        if lower.startswith(_ASR_PREFIXES):
            return "automatic-speech-recognition"
        seq2seq = model_type is not None and model_type.replace("-", "").replace("_", "").startswith(
            _SEQ2SEQ_PREFIXES
        )
        return "text2text-generation" if seq2seq else None
    if arch.endswith("ForSequenceClassification") and lower.startswith(_AUDIO_PREFIXES):
        return "audio-classification"
    for suffix, task in _ARCH_SUFFIX_TASKS:
        if arch.endswith(suffix):
            return task
    if arch.endswith("Model") and "For" not in arch:
        return "feature-extraction"
    return None


def _is_nli(config: JsonDict) -> bool:
    labels = config.get("id2label")
    names = labels.values() if isinstance(labels, dict) else labels if isinstance(labels, list) else ()
    return any(isinstance(name, str) and name.strip().lower() == "entailment" for name in list(names)[:100])


def diffusers_task(model_index: JsonDict | None) -> str | None:
    """The task a diffusers pipeline's `model_index.json` implies (its `_class_name` and components), or None.

    Example:
        >>> diffusers_task({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        ...                 "text_encoder": ["transformers", "CLIPTextModel"]})
        'text-to-image'
        >>> diffusers_task({"_class_name": "StableDiffusionImg2ImgPipeline"})
        'image-to-image'
    """
    if not isinstance(model_index, dict):
        return None
    name = clean_text(model_index.get("_class_name"), 100) or ""
    if any(marker in name for marker in ("Img2Img", "Inpaint", "Pix2Pix", "Upscale", "ImageVariation")):
        return "image-to-image"
    if "Video" in name:
        return "text-to-video"
    if "Audio" in name or "Music" in name:
        return "text-to-audio"
    denoiser = any(isinstance(model_index.get(k), list) for k in ("unet", "transformer", "prior", "decoder"))
    text_encoder = any(isinstance(model_index.get(k), list) for k in ("text_encoder", "text_encoder_2"))
    return "text-to-image" if denoiser and text_encoder else None


def declares_chat_template(root_files: set[str], tokenizer_config: JsonDict | None,
                           processor_config: JsonDict | None) -> bool:
    """Whether the tokenizer or processor has a chat template: a `chat_template` key in tokenizer_config.json or
    processor_config.json (a string, or a list of named templates), or a chat_template.jinja/.json file.

    Example:
        >>> declares_chat_template(set(), {"chat_template": "{{ messages }}"}, None)
        True
        >>> declares_chat_template({"chat_template.jinja"}, None, None), declares_chat_template(set(), {}, None)
        (True, False)
    """
    if any(name in root_files for name in _CHAT_TEMPLATE_FILES):
        return True
    if any(name.startswith(_CHAT_TEMPLATE_FOLDER) and name.endswith(".jinja") for name in root_files):
        return True
    for config in (tokenizer_config, processor_config):
        template = config.get("chat_template") if isinstance(config, dict) else None
        if isinstance(template, str) and template.strip():
            return True
        if isinstance(template, list) and any(
            isinstance(t, dict) and isinstance(t.get("template"), str) and t["template"].strip() for t in template[:20]
        ):
            return True
    return False


def detect_task(
    card: JsonDict, architectures: list[str], model_type: str | None, is_sentence_transformer: bool,
    *, config: JsonDict | None = None, model_index: JsonDict | None = None,
) -> tuple[str | None, DetectedSource]:
    """The task and its source: the card's `pipeline_tag`, else sentence-transformers, else a diffusers
    pipeline's model_index.json, else the architectures (read with config.json's vision and label hints)."""
    tag = clean_text(card.get("pipeline_tag"), 64)
    if tag and is_task_name(tag.lower()):
        return tag.lower(), "pipeline_tag"
    if is_sentence_transformer:
        return "sentence-similarity", "architecture"
    if (pipeline_task := diffusers_task(model_index)) is not None:
        return pipeline_task, "architecture"
    config = config or {}
    vision, nli = isinstance(config.get("vision_config"), dict), _is_nli(config)
    for arch in architectures:
        task = arch_task(arch, model_type, vision=vision, nli=nli)
        if task:
            return task, "architecture"
    return None, "unknown"
