"""`judge_output`: the gate's judgement of an API output (DESIGN §6), one table row per output kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from space_factory.domain.outputs.coercion import clip
from space_factory.domain.outputs.judges import (
    JudgeInput,
    judge_embedding,
    judge_entities,
    judge_file,
    judge_labels,
    judge_text,
    judge_transcript,
    verdict,
)
from space_factory.domain.outputs.probe import same_labels, same_output
from space_factory.domain.schemas import OutputVerdict
from space_factory.domain.tasks import OutputKind

__all__ = ["CONSTANT_DETAIL", "OUTPUT_RULES", "OutputRule", "judge_output"]

CONSTANT_DETAIL = "the same output for two different inputs (constant placeholder)"


@dataclass(frozen=True)
class OutputRule:
    """How outputs of one kind are judged.

    Attributes:
        judge: whether an output is real inference of this kind, with one sentence of evidence.
        same: whether the sample's and the probe's outputs are the same (a constant placeholder).
    """

    judge: Callable[[object, JudgeInput], OutputVerdict]
    same: Callable[[object, object], bool] = same_output


# A new output kind adds a row here.
OUTPUT_RULES: dict[OutputKind, OutputRule] = {
    OutputKind.TEXT: OutputRule(judge_text),
    OutputKind.TRANSCRIPT: OutputRule(judge_transcript),
    OutputKind.LABELS: OutputRule(judge_labels, same_labels),
    OutputKind.ENTITIES: OutputRule(judge_entities),
    OutputKind.EMBEDDING: OutputRule(judge_embedding),
    OutputKind.IMAGE: OutputRule(judge_file),
    OutputKind.AUDIO: OutputRule(judge_file),
}


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
        return verdict(False, "unrecognized", f"no rule for output kind {clip(repr(kind), 40)}")
    rule = OUTPUT_RULES[kind]  # every kind has a row (tests/domain/test_outputs.py checks it)
    try:
        found = rule.judge(output, JudgeInput(kind, input_text, file_head))
        same_input = input_text is not None and input_text == probe_input_text
        if found.ok and probe_output is not None and not same_input and rule.same(output, probe_output):
            return verdict(False, found.kind, CONSTANT_DETAIL)
        return found
    except Exception as exc:  # the gate must classify, not crash, whatever a generated app returns
        return verdict(False, "unrecognized", f"could not judge the output ({type(exc).__name__})")
