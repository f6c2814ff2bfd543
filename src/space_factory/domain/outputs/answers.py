"""Judges of answers to what was asked: a chat reply, an extractive answer (a span of the context given) and a
zero-shot choice among the candidate labels given. Pure; each answers with an `OutputVerdict`.

Edge cases, decided (docs/architecture.md, "Output judges"):
- a chat reply is compared with the user's message with whitespace collapsed and case folded: the same text
  back is an echo, whatever the spacing;
- an extractive answer must appear in the context (case and whitespace aside, since an uncased tokenizer's
  decode lowercases), must not be the whole context (a stub returning its input), and must carry a score;
  when it gives `start`/`end`, they must point at it;
- zero-shot labels must be exactly the candidate labels given (none missing, none added, none twice), each
  with a score in [0, 1]; for a single-label task the scores must sum to 1 within `SCORE_SUM_TOLERANCE`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from space_factory.domain.excerpts import describe_type
from space_factory.domain.outputs.coercion import as_float, clip, first_of_tuple, is_score, maybe_json
from space_factory.domain.outputs.judges import JudgeInput, label_pairs, verdict
from space_factory.domain.outputs.placeholders import is_placeholder, normalise
from space_factory.domain.outputs.probe import same_output
from space_factory.domain.schemas import OutputVerdict

__all__ = ["SCORE_SUM_TOLERANCE", "answer_text", "judge_answer", "judge_chat", "judge_zero_shot",
           "reply_text", "same_answer"]

# Softmax scores rounded by an app (or by JSON) still sum to 1 within this.
SCORE_SUM_TOLERANCE = 0.02
_REPLY_KEYS = ("content", "generated_text", "text", "response", "reply", "message")


def _fold(text: str) -> str:
    return normalise(text).casefold()


# --- chat --------------------------------------------------------------------------------------------
def _content_text(content: object) -> str | None:
    """A message's content: a string, or the text parts of a multimodal content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)]
        return " ".join(str(p) for p in parts) if parts else None
    return None


def reply_text(output: object) -> str | None:
    """The reply in a chat output: a string, an assistant message `{role, content}`, a list of messages (the
    last assistant one), or a dict under a reply key; None when there is none.

    Example:
        >>> reply_text({"role": "assistant", "content": "hi"}), reply_text([{"role": "user", "content": "a"},
        ...     {"role": "assistant", "content": [{"type": "text", "text": "b"}]}])
        ('hi', 'b')
    """
    value = first_of_tuple(maybe_json(output))
    for _ in range(4):
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            messages = [m for m in value if isinstance(m, Mapping)]
            replies = [m for m in messages if m.get("role") == "assistant"]
            if replies:
                return _content_text(replies[-1].get("content"))
            value = value[-1] if value else None
        elif isinstance(value, Mapping):
            if "role" in value and "content" in value:
                return _content_text(value["content"])
            value = next((value[k] for k in _REPLY_KEYS if k in value), None)
        else:
            return None
    return None


def judge_chat(output: object, given: JudgeInput) -> OutputVerdict:
    """A chat reply: non-empty, not a placeholder, not the user's message sent back."""
    text = reply_text(output)
    if text is None:
        return verdict(False, "unrecognized", f"expected a chat reply, got {describe_type(output)}")
    if not text.strip():
        return verdict(False, "chat", "the reply is empty")
    if is_placeholder(text):
        return verdict(False, "chat", f"the reply is a placeholder ({clip(text.strip(), 40)!r})")
    if given.input_text is not None and _fold(text) == _fold(given.input_text):
        return verdict(False, "chat", "the reply repeats the user's message (echo)")
    return verdict(True, "chat", f"a reply of {len(text.strip())} characters")


# --- extractive question answering -------------------------------------------------------------------
def _answer_fields(output: object) -> Mapping[str, object] | str:
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, list) and value:
        value = maybe_json(value[0])  # a top-k list: the best answer first
    if isinstance(value, str):
        return {"answer": value}
    if isinstance(value, Mapping):
        return value
    return f"expected an answer with a score, got {describe_type(output)}"


def answer_text(output: object) -> str | None:
    """The answer string of a QA output, or None."""
    fields = _answer_fields(output)
    answer = fields.get("answer") if isinstance(fields, Mapping) else None
    return answer if isinstance(answer, str) else None


def judge_answer(output: object, given: JudgeInput) -> OutputVerdict:
    """An extractive answer: `{answer, score, start?, end?}` whose answer is a span of the context given."""
    fields = _answer_fields(output)
    if isinstance(fields, str):
        return verdict(False, "unrecognized", fields)
    answer = fields.get("answer")
    if not isinstance(answer, str):
        keys = clip(", ".join(sorted(map(str, fields))), 60)
        return verdict(False, "unrecognized", f"no answer string in the output (keys: {keys})")
    if not answer.strip():
        return verdict(False, "answer", "the answer is empty")
    score = fields.get("score")
    if score is None:
        return verdict(False, "answer", "the answer has no score")
    if not is_score(score):
        return verdict(False, "answer", f"the answer's score {clip(repr(score), 30)} is not a number in [0, 1]")
    context = given.context
    if context is None:
        return verdict(True, "answer", f"an answer of {len(answer.strip())} characters (no context to check)")
    found, whole = _fold(answer), _fold(context)
    if found not in whole:
        return verdict(False, "answer", f"the answer {clip(answer.strip(), 40)!r} is not a span of the context")
    if found == whole:
        return verdict(False, "answer", "the answer is the whole context, not a span of it")
    start, end = fields.get("start"), fields.get("end")
    if (isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool)
            and (not 0 <= start < end <= len(context) or _fold(context[start:end]) != found)):
        return verdict(False, "answer", f"start/end {start}..{end} do not point at the answer in the context")
    return verdict(True, "answer", f"a span of the context, {clip(answer.strip(), 40)!r}, score {as_float(score):.3g}")


def same_answer(output: object, probe_output: object) -> bool:
    """Whether two QA outputs give the same answer text (their scores may differ; a stub's answer does not)."""
    mine, theirs = answer_text(output), answer_text(probe_output)
    if mine is None or theirs is None:
        return same_output(output, probe_output)
    return _fold(mine) == _fold(theirs)


# --- zero-shot classification ------------------------------------------------------------------------
def _zero_shot_pairs(output: object) -> list[tuple[object, object]] | str:
    value = first_of_tuple(maybe_json(output))
    if isinstance(value, Mapping) and isinstance(value.get("labels"), list) and isinstance(value.get("scores"), list):
        labels, scores = value["labels"], value["scores"]  # the zero-shot pipeline's own format
        if len(labels) != len(scores):
            return f"{len(labels)} labels but {len(scores)} scores"
        return list(zip(labels, scores, strict=True))
    return label_pairs(output)


def judge_zero_shot(output: object, given: JudgeInput) -> OutputVerdict:
    """Zero-shot labels: exactly the candidate labels given, each with a score in [0, 1], summing to about 1
    when the task is single-label (`given.single_label`)."""
    pairs = _zero_shot_pairs(output)
    if isinstance(pairs, str):
        return verdict(False, "unrecognized", pairs)
    if not pairs:
        return verdict(False, "zero_shot", "no labels in the output")
    labels: list[str] = []
    scores: list[float] = []
    for label, score in pairs:
        if not isinstance(label, str) or not label.strip():
            return verdict(False, "zero_shot", f"a label is not a non-empty string ({clip(repr(label), 40)})")
        if not is_score(score):
            return verdict(False, "zero_shot",
                           f"label {clip(label, 40)!r} has score {clip(repr(score), 30)}, not a number in [0, 1]")
        labels.append(label.strip())
        scores.append(as_float(score) or 0.0)
    if len(set(labels)) != len(labels):
        return verdict(False, "zero_shot", "a label appears twice")
    if given.candidate_labels is not None:
        asked = [label.strip() for label in given.candidate_labels]
        extra = [label for label in labels if label not in asked]
        missing = [label for label in asked if label not in labels]
        if extra:
            return verdict(False, "zero_shot", f"labels other than those given: {clip(', '.join(extra), 80)}")
        if missing:
            return verdict(False, "zero_shot", f"candidate labels missing: {clip(', '.join(missing), 80)}")
    total = math.fsum(scores)
    if given.single_label and abs(total - 1.0) > SCORE_SUM_TOLERANCE:
        return verdict(False, "zero_shot", f"the scores sum to {total:.3g}, not 1 (a single-label task)")
    best = max(range(len(labels)), key=lambda i: scores[i])
    return verdict(True, "zero_shot", f"{len(labels)} candidate labels scored, top {clip(labels[best], 40)!r} "
                                      f"at {scores[best]:.3g}")
