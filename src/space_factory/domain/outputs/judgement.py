"""`judge_output`: the gate's judgement of an API output (DESIGN §6), one table row per output kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from space_factory.domain.outputs.answers import judge_answer, judge_chat, judge_zero_shot, same_answer
from space_factory.domain.outputs.coercion import clip
from space_factory.domain.outputs.judges import (
    JudgeInput,
    judge_embedding,
    judge_entities,
    judge_labels,
    judge_text,
    judge_transcript,
    verdict,
)
from space_factory.domain.outputs.media_judges import judge_audio, judge_image
from space_factory.domain.outputs.probe import same_files, same_labels, same_output
from space_factory.domain.outputs.regions import judge_detections, judge_segments, same_detections
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
        compare_files: the outputs are files, so the constant check compares the files' bytes (the two
            outputs' paths always differ) instead of the output values.
        judge_probe: the probe's output must pass the judge too, with the probe's own inputs (a QA
            answer must be a span of the probe's context as well).
    """

    judge: Callable[[object, JudgeInput], OutputVerdict]
    same: Callable[[object, object], bool] = same_output
    compare_files: bool = False
    judge_probe: bool = False


# A new output kind adds a row here.
OUTPUT_RULES: dict[OutputKind, OutputRule] = {
    OutputKind.TEXT: OutputRule(judge_text),
    OutputKind.TRANSCRIPT: OutputRule(judge_transcript),
    OutputKind.LABELS: OutputRule(judge_labels, same_labels),
    OutputKind.ENTITIES: OutputRule(judge_entities),
    OutputKind.EMBEDDING: OutputRule(judge_embedding),
    OutputKind.IMAGE: OutputRule(judge_image, compare_files=True),
    OutputKind.AUDIO: OutputRule(judge_audio, compare_files=True),
    OutputKind.DETECTIONS: OutputRule(judge_detections, same_detections),
    # Masks are files: a constant stub returns the same mask bytes for every image.
    OutputKind.SEGMENTS: OutputRule(judge_segments, compare_files=True),
    OutputKind.ZERO_SHOT: OutputRule(judge_zero_shot, same_labels, judge_probe=True),
    OutputKind.CHAT: OutputRule(judge_chat),
    OutputKind.ANSWER: OutputRule(judge_answer, same_answer, judge_probe=True),
}


def judge_output(
    kind: OutputKind,
    output: object,
    *,
    input_text: str | None = None,
    file_head: bytes | None = None,
    probe_output: object = None,
    probe_input_text: str | None = None,
    files: Mapping[str, bytes] | None = None,
    candidate_labels: Sequence[str] | None = None,
    context: str | None = None,
    image_size: tuple[int, int] | None = None,
    single_label: bool | None = None,
    probe_files: Mapping[str, bytes] | None = None,
    probe_context: str | None = None,
    probe_image_size: tuple[int, int] | None = None,
    inputs_differ: bool | None = None,
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
        files: the output's files (path or URL as in the output → bytes), for the media judges.
        candidate_labels: the labels sent to a zero-shot endpoint.
        context: the passage sent to a question-answering endpoint.
        image_size: (width, height) of the image sent (boxes and masks must fit it).
        single_label: the zero-shot scores must sum to 1; None when the task cannot tell.
        probe_files: the probe output's files, for the constant check of file outputs.
        probe_context: the passage sent with the probe (question answering).
        probe_image_size: (width, height) of the probe's image.
        inputs_differ: whether the sample and the probe differ in any input (the checkup knows: a VLM's two
            calls share the prompt but not the image); None falls back to comparing the two texts.

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
        labels = tuple(candidate_labels) if candidate_labels is not None else None
        given = JudgeInput(kind, input_text, file_head, files=dict(files or {}), candidate_labels=labels,
                           context=context, image_size=image_size, single_label=single_label)
        found = rule.judge(output, given)
        if not found.ok or probe_output is None:
            return found
        if rule.judge_probe:
            probe_given = JudgeInput(kind, probe_input_text, None, files=dict(probe_files or {}),
                                     candidate_labels=labels, context=probe_context, image_size=probe_image_size,
                                     single_label=single_label)
            probe_found = rule.judge(probe_output, probe_given)
            if not probe_found.ok:
                return verdict(False, probe_found.kind, f"the second call's output: {probe_found.detail}")
        differ = inputs_differ if inputs_differ is not None else not (
            input_text is not None and input_text == probe_input_text)
        if not differ:
            return found
        # File outputs always come back under new temporary paths: their bytes are what may repeat.
        same = same_files(files or {}, probe_files or {}) if rule.compare_files else rule.same(output, probe_output)
        return verdict(False, found.kind, CONSTANT_DETAIL) if same else found
    except Exception as exc:  # the gate must classify, not crash, whatever a generated app returns
        return verdict(False, "unrecognized", f"could not judge the output ({type(exc).__name__})")
