"""One judge per output kind: is this output real inference of that kind? Each answers with an `OutputVerdict`.

A judge reads the output and the `JudgeInput` (the prompt sent, the file's first bytes) and may raise on
truly odd values; `judge_output` turns that into a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from space_factory.domain.excerpts import describe_type
from space_factory.domain.outputs.coercion import (
    MAX_UNWRAP,
    as_float,
    as_text,
    clip,
    first_of_tuple,
    is_score,
    maybe_json,
)
from space_factory.domain.outputs.placeholders import STUB_TEXTS, is_placeholder, normalise
from space_factory.domain.schemas import OutputVerdict
from space_factory.domain.tasks import OutputKind

__all__ = [
    "DETAIL_LIMIT",
    "JudgeInput",
    "judge_embedding",
    "judge_entities",
    "judge_labels",
    "judge_text",
    "judge_transcript",
    "label_pairs",
    "verdict",
]

DETAIL_LIMIT = 200
_TEXT_KEYS = ("generated_text", "text", "summary_text", "translation_text")


@dataclass(frozen=True)
class JudgeInput:
    """What a judge knows besides the output.

    Attributes:
        kind: the output kind being judged.
        input_text: the text input sent, for the echo checks; None for image/audio inputs.
        file_head: the first bytes of the output file (IMAGE/AUDIO), read by the caller.
        files: every file the output names, read by the caller (bounded): the path or URL exactly as it
            appears in the output → the file's bytes. The media judges decode these.
        candidate_labels: the labels sent to a zero-shot endpoint.
        context: the passage sent to a question-answering endpoint.
        image_size: (width, height) of the image sent, for outputs that must fit it (boxes, masks).
        single_label: the scores must sum to 1 (a softmax over the candidate labels); None when the task
            cannot tell (a sigmoid head scores each label alone).
    """

    kind: OutputKind
    input_text: str | None = None
    file_head: bytes | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    candidate_labels: tuple[str, ...] | None = None
    context: str | None = None
    image_size: tuple[int, int] | None = None
    single_label: bool | None = None


def verdict(ok: bool, kind: str, detail: str) -> OutputVerdict:
    """An `OutputVerdict` whose detail is cut to `DETAIL_LIMIT` characters."""
    return OutputVerdict(ok=ok, kind=kind, detail=clip(detail, DETAIL_LIMIT))


# --- text --------------------------------------------------------------------------------------------
def judge_text(output: object, given: JudgeInput) -> OutputVerdict:
    """Generated text: not empty, not a placeholder, not the prompt echoed."""
    text = as_text(output, _TEXT_KEYS)
    if text is None:
        return verdict(False, "unrecognized", f"expected generated text, got {describe_type(output)}")
    if not text.strip():
        return verdict(False, "text", "the output is empty")
    if is_placeholder(text):
        return verdict(False, "text", f"the output is a placeholder ({clip(text.strip(), 40)!r})")
    input_text = given.input_text
    if input_text is None or not input_text.strip():
        return verdict(True, "text", f"generated {len(text.strip())} characters")
    # Tokenizers re-space text on decode, so prompts are compared with whitespace collapsed.
    said, asked = normalise(text), normalise(input_text)
    if said == asked:
        return verdict(False, "text", "the output equals the input prompt (echo)")
    if said.startswith(asked):
        rest = said[len(asked) :].strip()
        if is_placeholder(rest):
            return verdict(False, "text", f"the text after the prompt is a placeholder ({clip(rest, 40)!r})")
        return verdict(True, "text", f"generated {len(rest)} characters beyond the prompt")
    return verdict(True, "text", f"generated {len(text.strip())} characters")


def judge_transcript(output: object, given: JudgeInput) -> OutputVerdict:
    """A transcript: any non-empty text that is not a stub marker (a speech sample may say "testing")."""
    text = as_text(output, ("text",))
    if text is None:
        return verdict(False, "unrecognized", f"expected a transcript string, got {describe_type(output)}")
    if not text.strip():
        return verdict(False, "transcript", "empty transcript")
    if is_placeholder(text, STUB_TEXTS):
        return verdict(False, "transcript", f"the transcript is a placeholder ({clip(text.strip(), 40)!r})")
    return verdict(True, "transcript", f"transcribed {len(text.strip())} characters")


# --- labels ------------------------------------------------------------------------------------------
LabelPairs = list[tuple[object, object]]
# gradio's Label with a label and no confidences (the app returned a bare class name).
_NO_CONFIDENCES = object()


def label_pairs(output: object) -> LabelPairs | str:
    """(label, score) pairs from any accepted labels format, or why the output is not one.

    A bare gradio label comes back as one pair whose score is a sentinel, not a number.
    """
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]  # a pipeline's batch of one
    if isinstance(value, Mapping):
        if "confidences" in value or set(value) == {"label"}:  # gradio's Label
            confidences = value.get("confidences")
            if not confidences:
                label = value.get("label")
                return [] if label is None else [(label, _NO_CONFIDENCES)]
            if isinstance(confidences, Mapping):
                return list(confidences.items())
            if isinstance(confidences, list):
                return [
                    (c.get("label"), c.get("confidence")) if isinstance(c, Mapping) else (None, None)
                    for c in confidences
                ]
            return f"confidences is a {describe_type(confidences)}, not a list"
        return list(value.items())  # a plain {label: score} mapping
    if isinstance(value, list):
        pairs: LabelPairs = []
        for item in value:
            if not isinstance(item, Mapping):
                return f"a labels list holds a {describe_type(item)}, not a dict"
            label = item.get("label", item.get("token_str"))
            pairs.append((label, item.get("score", item.get("confidence"))))
        return pairs
    return f"expected labels with scores, got {describe_type(output)}"


def judge_labels(output: object, given: JudgeInput) -> OutputVerdict:
    """Class labels: non-empty label strings, each with a score in [0, 1] (or one bare label)."""
    pairs = label_pairs(output)
    if isinstance(pairs, str):
        return verdict(False, "unrecognized", pairs)
    if not pairs:
        return verdict(False, "labels", "no labels in the output")
    for label, score in pairs:
        if not isinstance(label, str) or not label.strip():
            return verdict(False, "labels", f"a label is not a non-empty string ({clip(repr(label), 40)})")
        if score is _NO_CONFIDENCES:
            return verdict(True, "labels", f"a single label {clip(label, 40)!r} without confidences")
        if not is_score(score):
            return verdict(
                False,
                "labels",
                f"label {clip(label, 40)!r} has score {clip(repr(score), 40)}, not a number in [0, 1]",
            )
    top_score, top_label = max((as_float(score) or 0.0, str(label)) for label, score in pairs)
    return verdict(True, "labels", f"{len(pairs)} label(s), top {clip(top_label, 40)!r} at {top_score:.3g}")


# --- entities ----------------------------------------------------------------------------------------
def _entity_items(output: object) -> list[object] | str:
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, Mapping) and "entities" in value:
        value = value["entities"]
    if not isinstance(value, list):
        return f"expected a list of entities, got {describe_type(output)}"
    return value


def _entity(item: object) -> tuple[object, object, str] | str | None:
    """(label, score, text) of one item; None for an unlabelled span; a reason when malformed."""
    if isinstance(item, list | tuple) and len(item) == 2:  # HighlightedText (text, label) pair
        text, label = item
        return None if label is None else (label, None, str(text))
    if not isinstance(item, Mapping):
        return f"an entity is a {describe_type(item)}"
    if "class_or_confidence" in item:  # gradio_client's HighlightedText: {token, class_or_confidence}
        label = item["class_or_confidence"]
        if label is None:
            return None
        number = as_float(label)
        if number is not None:  # confidence mode: a signed number per span
            ok = math.isfinite(number) and -1 <= number <= 1
            return (str(label), None, str(item.get("token", ""))) if ok else f"span confidence {label!r}"
        return (label, None, str(item.get("token", "")))
    label = item.get("entity_group", item.get("entity", item.get("label")))
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and not 0 <= start <= end:
        return f"entity {clip(repr(label), 30)} spans {start}..{end}"
    return (label, item.get("score"), str(item.get("word", item.get("text", ""))))


def judge_entities(output: object, given: JudgeInput) -> OutputVerdict:
    """Token-classification entities: at least one labelled span, scores (when given) in [0, 1]."""
    items = _entity_items(output)
    if isinstance(items, str):
        return verdict(False, "unrecognized", items)
    if not items:
        return verdict(False, "entities", "an empty list: no entities")
    found: list[tuple[str, str]] = []
    for item in items:
        entity = _entity(item)
        if isinstance(entity, str):
            return verdict(False, "entities", f"malformed entity: {entity}")
        if entity is None:
            continue
        label, score, text = entity
        if not isinstance(label, str) or not label.strip():
            return verdict(False, "entities", f"an entity has no label ({clip(repr(label), 40)})")
        if score is not None and not is_score(score):
            return verdict(
                False, "entities", f"entity {clip(label, 30)!r} has score {clip(repr(score), 30)}, not in [0, 1]"
            )
        found.append((label, text.strip()))
    if not found:
        return verdict(False, "entities", "no labelled entities, only plain text spans")
    shown = ", ".join(f"{label} {clip(text, 20)!r}" for label, text in found[:4])
    return verdict(True, "entities", f"{len(found)} entities: {shown}{', …' if len(found) > 4 else ''}")


# --- embeddings --------------------------------------------------------------------------------------
def _shape(value: object, depth: int = 0) -> tuple[tuple[int, ...], list[float]] | str:
    """The shape and flat values of a rectangular nested list of numbers, or why it is not one."""
    if not isinstance(value, list | tuple):
        return f"a {describe_type(value)} where numbers were expected"
    if not value:
        return "an empty list"
    numbers = [as_float(v) for v in value]
    if all(n is not None for n in numbers):
        return (len(value),), [n for n in numbers if n is not None]
    if depth >= MAX_UNWRAP or not all(isinstance(v, list | tuple) for v in value):
        return "a list mixing numbers and other values"
    shapes: set[tuple[int, ...]] = set()
    flat: list[float] = []
    for row in value:
        inner = _shape(row, depth + 1)
        if isinstance(inner, str):
            return inner
        shapes.add(inner[0])
        flat += inner[1]
    if len(shapes) != 1:
        return "vectors of different lengths"
    return (len(value), *shapes.pop()), flat


def judge_embedding(output: object, given: JudgeInput) -> OutputVerdict:
    """A numeric vector (or a rectangular array of them): finite, not all zero, not one value repeated."""
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, Mapping):
        key = next((k for k in ("embedding", "embeddings", "data") if k in value), None)
        value = maybe_json(value[key]) if key else value
    shaped = _shape(value)
    if isinstance(shaped, str):
        kind = "embedding" if isinstance(value, list) else "unrecognized"
        return verdict(False, kind, f"expected a numeric vector, got {shaped}")
    shape, flat = shaped
    if not all(math.isfinite(v) for v in flat):
        return verdict(False, "embedding", "the embedding contains NaN or infinite values")
    if not any(flat):
        return verdict(False, "embedding", f"all {len(flat)} values are zero")
    # A real encoder never returns one value repeated; a stub filling a vector often does.
    if len(flat) >= 4 and len(set(flat)) == 1:
        return verdict(False, "embedding", f"all {len(flat)} values are equal ({flat[0]:.3g})")
    if len(shape) == 1:
        return verdict(True, "embedding", f"a {shape[0]}-dimensional vector")
    if len(shape) == 2:
        return verdict(True, "embedding", f"{shape[0]} vector(s) of {shape[1]} dimensions")
    return verdict(True, "embedding", f"an array of shape {'×'.join(map(str, shape))}")
