"""Sample inputs for the gate: the card's widget examples that fit the task, else the task's default sample."""

from __future__ import annotations

from space_factory.domain.analysis.card_values import clean_text, clean_text_list
from space_factory.domain.schemas import JsonDict, SampleInput
from space_factory.domain.tasks import InputKind, task_spec

__all__ = ["MAX_SAMPLES", "MAX_SAMPLE_CHARS", "samples"]

MAX_SAMPLE_CHARS = 2_000
MAX_SAMPLES = 50
MAX_SENTENCES = 20
MAX_CANDIDATE_LABELS = 20

# Tokenizers of these model types write the mask as "<mask>"; BERT-style ones as "[MASK]".
_ANGLE_MASK_TYPES = frozenset({
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "bart", "mbart", "mpnet",
    "data2vec-text", "luke", "ibert", "roberta-prelayernorm", "xmod", "mvp",
})
_MASK_TOKENS = ("[MASK]", "<mask>")


def _candidate_labels(value: object) -> list[str] | None:
    """A widget's candidate labels: "a, b, c" (the Hub's widget form) or a list of strings."""
    if isinstance(value, str):
        value = value.split(",")
    labels, _ = clean_text_list(value, MAX_CANDIDATE_LABELS)
    return [label for label in labels if label] or None


def _sample(entry: JsonDict) -> SampleInput | None:
    text = clean_text(entry.get("text"), MAX_SAMPLE_CHARS, multiline=True)
    messages = entry.get("messages")
    if text is None and isinstance(messages, list):  # chat widgets: the last user message is the prompt
        for message in reversed(messages[:MAX_SAMPLES]):
            if isinstance(message, dict) and message.get("role") == "user":
                text = clean_text(message.get("content"), MAX_SAMPLE_CHARS, multiline=True)
                break
    sentences, _ = clean_text_list(entry.get("sentences"), MAX_SENTENCES, MAX_SAMPLE_CHARS)
    src = clean_text(entry.get("src"), MAX_SAMPLE_CHARS)
    if src is not None and not src.lower().startswith(("https://", "http://")):
        src = None  # only URLs, never a local path or a data: blob
    sample = SampleInput(
        text=text,
        source_sentence=clean_text(entry.get("source_sentence"), MAX_SAMPLE_CHARS, multiline=True),
        sentences=sentences or None,
        src=src,
        candidate_labels=_candidate_labels(entry.get("candidate_labels")),
        context=clean_text(entry.get("context"), MAX_SAMPLE_CHARS, multiline=True),
        title=clean_text(entry.get("example_title")),
        origin="card",
    )
    return sample if (sample.text or sample.source_sentence or sample.sentences or sample.src) else None


def _usable(sample: SampleInput, task: str | None) -> bool:
    spec = task_spec(task)
    if spec is None:
        return True
    if spec.input_kind in (InputKind.IMAGE, InputKind.AUDIO):
        return sample.src is not None
    if task in ("feature-extraction", "sentence-similarity"):
        return bool(sample.text or sample.source_sentence)
    if task == "fill-mask":
        return sample.text is not None and any(mask in sample.text for mask in _MASK_TOKENS)
    return sample.text is not None


def _default_sample(task: str | None, model_type: str | None, chat_template: bool) -> SampleInput | None:
    spec = task_spec(task, chat_template=chat_template)
    if spec is None or spec.default_text is None:
        return None
    text = spec.default_text
    if task == "fill-mask":
        mask = "<mask>" if model_type in _ANGLE_MASK_TYPES else "[MASK]"
        text = text.replace("[MASK]", mask) if "[MASK]" in text else f"{text} {mask}"
    if task == "sentence-similarity":
        other = spec.probe_text or text
        return SampleInput(text=text, source_sentence=text, sentences=[other], origin="default")
    return SampleInput(text=text, origin="default")


def samples(widget: object, task: str | None, model_type: str | None, warnings: list[str], *,
            chat_template: bool = False) -> list[SampleInput]:
    """The card widget's examples usable for `task`, or the task's default sample; problems go to `warnings`.

    Example:
        >>> [s.text for s in samples([{"text": "the cat sat"}], "text-generation", None, [])]
        ['the cat sat']
    """
    if isinstance(widget, dict):
        widget = [widget]
    entries: list[object] = []
    if isinstance(widget, list):
        if len(widget) > MAX_SAMPLES:
            warnings.append(
                f"The card's widget lists {len(widget)} examples; only the first {MAX_SAMPLES} were read."
            )
        entries = list(widget[:MAX_SAMPLES])
    elif widget is not None:
        kind = type(widget).__name__
        warnings.append(f"The card's widget is a {kind}, not a list of examples; it was ignored.")
    found = [s for e in entries if isinstance(e, dict) and (s := _sample(e)) is not None]
    usable = [s for s in found if _usable(s, task)]
    if found and not usable:
        warnings.append(
            f"None of the card's {len(found)} widget examples fits task {task!r}; using a default sample."
        )
    if not usable and (default := _default_sample(task, model_type, chat_template)) is not None:
        usable = [default]
    return usable
