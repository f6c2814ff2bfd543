"""The task catalog: which Hub tasks have a Gradio template, what their API takes and returns, and the
default sample input used when a model card has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutputKind(StrEnum):
    """What a task's API must return for the gate to call it real inference."""

    TEXT = "text"  # generated text: non-empty, not the prompt echoed
    TRANSCRIPT = "transcript"  # text from audio: a string (may be short), not a placeholder
    LABELS = "labels"  # {label, confidences:[{label, confidence∈[0,1]}]}
    ENTITIES = "entities"  # [{entity|entity_group, score∈[0,1], word, start, end}]
    EMBEDDING = "embedding"  # non-empty numeric vector (or list of vectors)
    IMAGE = "image"  # a file whose bytes are an image
    AUDIO = "audio"  # a file whose bytes are audio


class InputKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


@dataclass(frozen=True)
class TaskSpec:
    """One task the factory knows.

    Attributes:
        task: the Hub `pipeline_tag`.
        template: the template file stem under `worker/templates/`, or None when no template exists.
        input_kind: what the API's first parameter takes.
        output_kind: what the gate expects back.
        default_text: the sample text used when the card has none (text tasks).
        probe_text: a second, different input, used to catch constant outputs.
    """

    task: str
    template: str | None
    input_kind: InputKind
    output_kind: OutputKind
    default_text: str | None = None
    probe_text: str | None = None


TASKS: dict[str, TaskSpec] = {
    spec.task: spec
    for spec in (
        TaskSpec("text-generation", "text_generation", InputKind.TEXT, OutputKind.TEXT,
                 "Once upon a time", "The weather today is"),
        TaskSpec("text2text-generation", "text2text_generation", InputKind.TEXT, OutputKind.TEXT,
                 "summarize: the cat sat on the mat", "translate English to German: the house is small"),
        TaskSpec("summarization", "text2text_generation", InputKind.TEXT, OutputKind.TEXT,
                 "the cat sat on the mat and looked at the dog for a long time", "paris is the capital of france"),
        TaskSpec("translation", "text2text_generation", InputKind.TEXT, OutputKind.TEXT,
                 "the house is wonderful", "the cat sat on the mat"),
        TaskSpec("text-classification", "text_classification", InputKind.TEXT, OutputKind.LABELS,
                 "I loved this movie!", "This was a terrible experience."),
        TaskSpec("token-classification", "token_classification", InputKind.TEXT, OutputKind.ENTITIES,
                 "Alice met Bob in London last year.", "Paris is the capital of France."),
        TaskSpec("fill-mask", "fill_mask", InputKind.TEXT, OutputKind.LABELS,
                 "The capital of France is [MASK].", "The cat sat on the [MASK]."),
        TaskSpec("feature-extraction", "embeddings", InputKind.TEXT, OutputKind.EMBEDDING,
                 "The cat sat on the mat.", "A quick brown fox jumps over the lazy dog."),
        TaskSpec("sentence-similarity", "embeddings", InputKind.TEXT, OutputKind.EMBEDDING,
                 "The cat sat on the mat.", "A quick brown fox jumps over the lazy dog."),
        TaskSpec("image-classification", "image_classification", InputKind.IMAGE, OutputKind.LABELS),
        TaskSpec("automatic-speech-recognition", "speech_recognition", InputKind.AUDIO, OutputKind.TRANSCRIPT),
        # Known tasks without a template yet: analysed and recommended, but a build ends in an honest
        # technical_blocker instead of an app that pretends.
        TaskSpec("text-to-image", None, InputKind.TEXT, OutputKind.IMAGE, "a photo of a cat"),
        TaskSpec("text-to-speech", None, InputKind.TEXT, OutputKind.AUDIO, "Hello world."),
        TaskSpec("text-to-audio", None, InputKind.TEXT, OutputKind.AUDIO, "A dog barking."),
        TaskSpec("image-to-image", None, InputKind.IMAGE, OutputKind.IMAGE),
        TaskSpec("image-to-text", None, InputKind.IMAGE, OutputKind.TEXT),
    )
}

TEMPLATE_TASKS = frozenset(task for task, spec in TASKS.items() if spec.template)


def task_spec(task: str | None) -> TaskSpec | None:
    """The catalog entry for `task`, or None for a task the factory does not know."""
    return TASKS.get(task) if task else None
