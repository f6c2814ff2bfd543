"""The gate's judgement of an API output (DESIGN §6): is this real inference for the task?

`judge_output` takes what `gradio_client.predict` returned (and, for files, the first bytes of the
file, read by the caller) and answers with an `OutputVerdict` whose `detail` is one sentence of
evidence. It never raises: odd outputs are verdicts, not errors. The rules are deliberately strict
about what counts as evidence (an echo of the prompt, a placeholder string, scores outside [0, 1],
the same output for two different inputs) because the gate must never report more than it saw.

Pure: no I/O. Everything judged here is untrusted output of a generated app.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence

from space_factory.domain.media import sniff_media
from space_factory.domain.schemas import OutputVerdict
from space_factory.domain.summaries import describe_type
from space_factory.domain.tasks import OutputKind

__all__ = ["CONSTANT_DETAIL", "DETAIL_LIMIT", "judge_output"]

DETAIL_LIMIT = 200
CONSTANT_DETAIL = "the same output for two different inputs (constant placeholder)"
# Softmax outputs may overshoot 1.0 by a rounding error.
_SCORE_TOLERANCE = 1e-6
_MAX_UNWRAP = 4

# Compared after `_normalise`: stripped, lowercased, whitespace collapsed, wrapping quotes/brackets removed.
# Stub markers no model says on its own; transcripts are held to these only, since a speech sample
# may well say "hello world" or "testing".
_STUB_TEXTS = frozenset(
    {
        "todo", "tbd", "fixme", "placeholder", "placeholder text", "lorem ipsum", "not implemented",
        "not implemented yet", "...", "…", "n/a", "none", "null", "nil", "undefined", "nan",
        "example output", "sample output", "dummy", "dummy output", "dummy text", "mock", "mock output",
        "fake output", "stub", "your text here", "output goes here",
    }
)  # fmt: skip
# Generated text is also held to the words a hand-written stub returns.
_PLACEHOLDERS = _STUB_TEXTS | {
    "hello world", "hello, world", "test", "testing", "this is a test", "test output", "output", "result",
    "response", "prediction", "example", "sample text", "foo", "bar", "foobar", "xxx", "na", "generated text",
}  # fmt: skip
_PLACEHOLDER_PREFIX_RE = re.compile(
    r"^(?:placeholder\b|lorem ipsum\b|todo:|not ?implemented\b"
    r"|this is (?:a |an |just a |only a )?(?:placeholder|mock|fake|dummy|stub)\b"
    r"|(?:mock|mocked|fake|dummy|stub) (?:output|response|result|prediction|answer|text|transcript)\b)"
)
_TEXT_KEYS = ("generated_text", "text", "summary_text", "translation_text")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _verdict(ok: bool, kind: str, detail: str) -> OutputVerdict:
    return OutputVerdict(ok=ok, kind=kind, detail=_clip(detail, DETAIL_LIMIT))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(value: object) -> float | None:
    """The number as a float (huge ints become inf); None for anything that is not a number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _is_score(value: object) -> bool:
    """A finite number in [0, 1] (with a rounding tolerance)."""
    number = _as_float(value)
    return number is not None and math.isfinite(number) and -_SCORE_TOLERANCE <= number <= 1 + _SCORE_TOLERANCE


def _maybe_json(value: object) -> object:
    """Parse a string that holds a JSON list or object; anything else is returned as is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _first_of_tuple(value: object) -> object:
    """gradio_client returns a tuple when an endpoint has several outputs; the first is the task's."""
    return value[0] if isinstance(value, tuple) and value else value


def _normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def _placeholder(text: str, vocabulary: frozenset[str] = _PLACEHOLDERS) -> bool:
    norm = _normalise(text)
    bare = norm.strip("\"'`[](){}<>*_ ").rstrip(".!").strip()
    return (
        norm in vocabulary
        or bare in vocabulary
        or _PLACEHOLDER_PREFIX_RE.match(bare) is not None
        or (norm != "" and norm.strip(".… ") == "")
    )


def _canonical(value: object) -> str:
    """A stable text form to compare two outputs byte for byte."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


# --- per-kind judges --------------------------------------------------------------------------------
def _as_text(output: object, keys: Sequence[str]) -> str | None:
    """The text in a str, a list/tuple (its first item), or a dict under one of `keys`."""
    value = output
    for _ in range(_MAX_UNWRAP):
        if isinstance(value, str):
            return value
        if isinstance(value, list | tuple) and value:
            value = value[0]
        elif isinstance(value, Mapping):
            found = next((value[k] for k in keys if k in value), None)
            # transformers' chat output: generated_text is the message list; the reply is the last one.
            if isinstance(found, list) and found and isinstance(found[-1], Mapping):
                found = found[-1].get("content")
            value = found
        else:
            return None
    return None


def _judge_text(output: object, input_text: str | None) -> OutputVerdict:
    text = _as_text(output, _TEXT_KEYS)
    if text is None:
        return _verdict(False, "unrecognized", f"expected generated text, got {describe_type(output)}")
    if not text.strip():
        return _verdict(False, "text", "the output is empty")
    if _placeholder(text):
        return _verdict(False, "text", f"the output is a placeholder ({_clip(text.strip(), 40)!r})")
    if input_text is None or not input_text.strip():
        return _verdict(True, "text", f"generated {len(text.strip())} characters")
    # Tokenizers re-space text on decode, so prompts are compared with whitespace collapsed.
    said, asked = _normalise(text), _normalise(input_text)
    if said == asked:
        return _verdict(False, "text", "the output equals the input prompt (echo)")
    if said.startswith(asked):
        rest = said[len(asked) :].strip()
        if _placeholder(rest):
            return _verdict(False, "text", f"the text after the prompt is a placeholder ({_clip(rest, 40)!r})")
        return _verdict(True, "text", f"generated {len(rest)} characters beyond the prompt")
    return _verdict(True, "text", f"generated {len(text.strip())} characters")


def _judge_transcript(output: object) -> OutputVerdict:
    text = _as_text(output, ("text",))
    if text is None:
        return _verdict(False, "unrecognized", f"expected a transcript string, got {describe_type(output)}")
    if not text.strip():
        return _verdict(False, "transcript", "empty transcript")
    if _placeholder(text, _STUB_TEXTS):
        return _verdict(False, "transcript", f"the transcript is a placeholder ({_clip(text.strip(), 40)!r})")
    return _verdict(True, "transcript", f"transcribed {len(text.strip())} characters")


LabelPairs = list[tuple[object, object]]
# gradio's Label with a label and no confidences (the app returned a bare class name).
_NO_CONFIDENCES = object()


def _label_pairs(output: object) -> LabelPairs | str:
    """(label, score) pairs from any accepted labels format, or why the output is not one.

    A bare gradio label comes back as one pair whose score is `_NO_CONFIDENCES`.
    """
    value = _first_of_tuple(_maybe_json(output))
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


def _judge_labels(output: object) -> OutputVerdict:
    pairs = _label_pairs(output)
    if isinstance(pairs, str):
        return _verdict(False, "unrecognized", pairs)
    if not pairs:
        return _verdict(False, "labels", "no labels in the output")
    for label, score in pairs:
        if not isinstance(label, str) or not label.strip():
            return _verdict(False, "labels", f"a label is not a non-empty string ({_clip(repr(label), 40)})")
        if score is _NO_CONFIDENCES:
            return _verdict(True, "labels", f"a single label {_clip(label, 40)!r} without confidences")
        if not _is_score(score):
            return _verdict(
                False,
                "labels",
                f"label {_clip(label, 40)!r} has score {_clip(repr(score), 40)}, not a number in [0, 1]",
            )
    top_score, top_label = max((_as_float(score) or 0.0, str(label)) for label, score in pairs)
    return _verdict(True, "labels", f"{len(pairs)} label(s), top {_clip(top_label, 40)!r} at {top_score:.3g}")


def _entity_items(output: object) -> list[object] | str:
    value = _first_of_tuple(_maybe_json(output))
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
        number = _as_float(label)
        if number is not None:  # confidence mode: a signed number per span
            ok = math.isfinite(number) and -1 <= number <= 1
            return (str(label), None, str(item.get("token", ""))) if ok else f"span confidence {label!r}"
        return (label, None, str(item.get("token", "")))
    label = item.get("entity_group", item.get("entity", item.get("label")))
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and not 0 <= start <= end:
        return f"entity {_clip(repr(label), 30)} spans {start}..{end}"
    return (label, item.get("score"), str(item.get("word", item.get("text", ""))))


def _judge_entities(output: object) -> OutputVerdict:
    items = _entity_items(output)
    if isinstance(items, str):
        return _verdict(False, "unrecognized", items)
    if not items:
        return _verdict(False, "entities", "an empty list: no entities")
    found: list[tuple[str, str]] = []
    for item in items:
        entity = _entity(item)
        if isinstance(entity, str):
            return _verdict(False, "entities", f"malformed entity: {entity}")
        if entity is None:
            continue
        label, score, text = entity
        if not isinstance(label, str) or not label.strip():
            return _verdict(False, "entities", f"an entity has no label ({_clip(repr(label), 40)})")
        if score is not None and not _is_score(score):
            return _verdict(
                False, "entities", f"entity {_clip(label, 30)!r} has score {_clip(repr(score), 30)}, not in [0, 1]"
            )
        found.append((label, text.strip()))
    if not found:
        return _verdict(False, "entities", "no labelled entities, only plain text spans")
    shown = ", ".join(f"{label} {_clip(text, 20)!r}" for label, text in found[:4])
    return _verdict(True, "entities", f"{len(found)} entities: {shown}{', …' if len(found) > 4 else ''}")


def _shape(value: object, depth: int = 0) -> tuple[tuple[int, ...], list[float]] | str:
    """The shape and flat values of a rectangular nested list of numbers, or why it is not one."""
    if not isinstance(value, list | tuple):
        return f"a {describe_type(value)} where numbers were expected"
    if not value:
        return "an empty list"
    numbers = [_as_float(v) for v in value]
    if all(n is not None for n in numbers):
        return (len(value),), [n for n in numbers if n is not None]
    if depth >= _MAX_UNWRAP or not all(isinstance(v, list | tuple) for v in value):
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


def _judge_embedding(output: object) -> OutputVerdict:
    value = _first_of_tuple(_maybe_json(output))
    if isinstance(value, Mapping):
        key = next((k for k in ("embedding", "embeddings", "data") if k in value), None)
        value = _maybe_json(value[key]) if key else value
    shaped = _shape(value)
    if isinstance(shaped, str):
        kind = "embedding" if isinstance(value, list) else "unrecognized"
        return _verdict(False, kind, f"expected a numeric vector, got {shaped}")
    shape, flat = shaped
    if not all(math.isfinite(v) for v in flat):
        return _verdict(False, "embedding", "the embedding contains NaN or infinite values")
    if not any(flat):
        return _verdict(False, "embedding", f"all {len(flat)} values are zero")
    # A real encoder never returns one value repeated; a stub filling a vector often does.
    if len(flat) >= 4 and len(set(flat)) == 1:
        return _verdict(False, "embedding", f"all {len(flat)} values are equal ({flat[0]:.3g})")
    if len(shape) == 1:
        return _verdict(True, "embedding", f"a {shape[0]}-dimensional vector")
    if len(shape) == 2:
        return _verdict(True, "embedding", f"{shape[0]} vector(s) of {shape[1]} dimensions")
    return _verdict(True, "embedding", f"an array of shape {'×'.join(map(str, shape))}")


def _file_ref(output: object) -> str | None:
    """The path or URL of a file output: a str, a FileData-like dict, or the first item of a list."""
    value = output
    for _ in range(_MAX_UNWRAP):
        if isinstance(value, str):
            return value if value.strip() else None
        if isinstance(value, list | tuple) and value:
            value = value[0]
        elif isinstance(value, Mapping):
            ref = next((value[k] for k in ("path", "url") if isinstance(value.get(k), str) and value[k]), None)
            if ref is not None:
                return str(ref)
            value = next((value[k] for k in ("image", "audio", "video", "value") if k in value), None)
        else:
            return None
    return None


def _judge_file(kind: OutputKind, output: object, file_head: bytes | None) -> OutputVerdict:
    family = "image" if kind is OutputKind.IMAGE else "audio"
    ref = _file_ref(output)
    if ref is None:
        return _verdict(False, "unrecognized", f"expected a file (path or URL), got {describe_type(output)}")
    if not file_head:
        return _verdict(False, family, "no file bytes to sniff")
    media = sniff_media(file_head)
    if media is None:
        return _verdict(
            False, "unknown file", f"the file's bytes are no known media type (start {file_head[:8].hex()})"
        )
    found = media.split("/", 1)[0]
    if found != family:
        return _verdict(False, found, f"the file is {media}, not {family}")
    return _verdict(True, family, f"the file's bytes are {media}")


def _same_output(kind: OutputKind, output: object, probe_output: object) -> bool:
    if kind is OutputKind.LABELS:
        # Compare the full confidences: a real classifier's scores move even when the top label does not.
        mine, theirs = _label_pairs(output), _label_pairs(probe_output)
        if isinstance(mine, str) or isinstance(theirs, str):
            return False
        return _canonical(sorted(map(repr, mine))) == _canonical(sorted(map(repr, theirs)))
    return _canonical(output) == _canonical(probe_output)


def judge_output(
    kind: OutputKind,
    output: object,
    *,
    input_text: str | None = None,
    file_head: bytes | None = None,
    probe_output: object = None,
    probe_input_text: str | None = None,
) -> OutputVerdict:
    """Whether `output` is real inference for a task whose API returns `kind`.

    Args:
        kind: what the task must return (`TaskSpec.output_kind`).
        output: what `gradio_client.predict` returned for the sample input.
        input_text: the text input sent, for the echo checks; None for image/audio inputs.
        file_head: the first bytes of the output file (IMAGE/AUDIO), read by the caller.
        probe_output: the output of a second call with a different input, to catch constants.
        probe_input_text: the probe's text input. The constant check is skipped only when both
            texts are given and equal (the same input may well give the same output); with
            image/audio inputs (both None) any probe is taken to be a different input.

    Returns:
        `ok` and one sentence of evidence; `kind` is what the output was found to be.
        It never raises: unexpected shapes, None and garbage are verdicts with `ok=False`.

    Example:
        >>> judge_output(OutputKind.TEXT, "Once upon a time there was", input_text="Once upon a time").detail
        'generated 9 characters beyond the prompt'
        >>> judge_output(OutputKind.TEXT, "Once upon a time", input_text="Once upon a time").detail
        'the output equals the input prompt (echo)'
    """
    try:
        kind = OutputKind(kind)  # a plain "text" from a record works as well as the enum
    except ValueError:
        return _verdict(False, "unrecognized", f"no rule for output kind {_clip(repr(kind), 40)}")
    try:
        if kind is OutputKind.TEXT:
            verdict = _judge_text(output, input_text)
        elif kind is OutputKind.TRANSCRIPT:
            verdict = _judge_transcript(output)
        elif kind is OutputKind.LABELS:
            verdict = _judge_labels(output)
        elif kind is OutputKind.ENTITIES:
            verdict = _judge_entities(output)
        elif kind is OutputKind.EMBEDDING:
            verdict = _judge_embedding(output)
        else:
            verdict = _judge_file(kind, output, file_head)
        same_input = input_text is not None and input_text == probe_input_text
        if verdict.ok and probe_output is not None and not same_input and _same_output(kind, output, probe_output):
            return _verdict(False, verdict.kind, CONSTANT_DETAIL)
        return verdict
    except Exception as exc:  # the gate must classify, not crash, whatever a generated app returns
        return _verdict(False, "unrecognized", f"could not judge the output ({type(exc).__name__})")
