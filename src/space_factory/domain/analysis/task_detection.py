"""Which task a model does, from its card's `pipeline_tag` or else its architecture class names."""

from __future__ import annotations

import re
from typing import Literal

from space_factory.domain.analysis.card_values import clean_text
from space_factory.domain.schemas import JsonDict

__all__ = ["DetectedSource", "arch_task", "detect_task", "is_task_name"]

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
    ("MTModel", "translation"),  # MarianMTModel
    ("LMHeadModel", "text-generation"),  # GPT2LMHeadModel (T5WithLMHeadModel is caught as seq2seq first)
)
_SEQ2SEQ_PREFIXES = (
    "t5", "mt5", "umt5", "longt5", "bart", "mbart", "pegasus", "marian", "m2m100", "nllb", "led",
    "prophetnet", "fsmt", "blenderbot", "plbart", "bigbirdpegasus", "switchtransformers", "mvp",
)
_ASR_PREFIXES = ("whisper", "speech2text", "moonshine")
_AUDIO_PREFIXES = ("wav2vec2", "hubert", "wavlm", "data2vecaudio", "sew", "unispeech")


def is_task_name(name: str) -> bool:
    """Whether `name` is shaped like a Hub task name (lowercase letters, digits and '-', at most 64)."""
    return _TASK_NAME.fullmatch(name) is not None


def arch_task(arch: str, model_type: str | None) -> str | None:
    """The task an architecture class name implies, or None when it tells nothing.

    Example:
        >>> arch_task("GPT2LMHeadModel", "gpt2"), arch_task("T5ForConditionalGeneration", "t5")
        ('text-generation', 'text2text-generation')
    """
    lower = arch.lower()
    if lower.startswith(_SEQ2SEQ_PREFIXES) and ("ConditionalGeneration" in arch or "LMHead" in arch):
        return "text2text-generation"
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


def detect_task(
    card: JsonDict, architectures: list[str], model_type: str | None, is_sentence_transformer: bool
) -> tuple[str | None, DetectedSource]:
    """The task and its source: the card's `pipeline_tag`, else sentence-transformers, else the architectures."""
    tag = clean_text(card.get("pipeline_tag"), 64)
    if tag and is_task_name(tag.lower()):
        return tag.lower(), "pipeline_tag"
    if is_sentence_transformer:
        return "sentence-similarity", "architecture"
    for arch in architectures:
        task = arch_task(arch, model_type)
        if task:
            return task, "architecture"
    return None, "unknown"
