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
    IMAGE = "image"  # an image file: decoded, of a sane size, not one flat colour
    AUDIO = "audio"  # an audio file: decoded, longer than 0 s, not silent
    DETECTIONS = "detections"  # [{label, score∈[0,1], box:{xmin,ymin,xmax,ymax}}] inside the input image
    SEGMENTS = "segments"  # AnnotatedImage {image, annotations:[{image: mask of the input's size, label}]}
    ZERO_SHOT = "zero_shot"  # labels: exactly the candidate labels given, scores in [0, 1]
    CHAT = "chat"  # a chat reply (text or an assistant message): non-empty, not the user's message
    ANSWER = "answer"  # extractive QA: {answer, score, start, end}, the answer a span of the context given


class InputKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class InputSlot(StrEnum):
    """One input an endpoint must be given; the gate maps each required parameter of an app to one.

    The first slot of a task is its `input_kind` (same values); `TaskSpec.extra_inputs` lists the others.
    """

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    CANDIDATE_LABELS = "candidate_labels"  # zero-shot: the labels to choose from
    QUESTION = "question"  # question answering: the question (when the text slot is not it)
    CONTEXT = "context"  # question answering: the passage


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
        extra_inputs: the inputs after the first (`input_kind`), e.g. candidate labels or a QA context.
        default_labels: the candidate labels used when the card gives none (zero-shot tasks).
        default_context: the passage used when the card gives none (question answering).
        probe_context: the probe's passage (question answering): one context may honestly answer two
            questions with one span, so the probe asks another question about another passage.
        single_label: zero-shot scores must sum to 1 (a softmax over the labels); None when the task cannot
            tell (CLIP's softmax and SigLIP's per-label sigmoid both serve zero-shot-image-classification).
    """

    task: str
    template: str | None
    input_kind: InputKind
    output_kind: OutputKind
    default_text: str | None = None
    probe_text: str | None = None
    extra_inputs: tuple[InputSlot, ...] = ()
    default_labels: tuple[str, ...] = ()
    default_context: str | None = None
    probe_context: str | None = None
    single_label: bool | None = None

    @property
    def inputs(self) -> tuple[InputSlot, ...]:
        """Every input slot, the first (`input_kind`) first."""
        return (InputSlot(self.input_kind.value), *self.extra_inputs)


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
        TaskSpec("audio-classification", "audio_classification", InputKind.AUDIO, OutputKind.LABELS),
        TaskSpec("object-detection", "object_detection", InputKind.IMAGE, OutputKind.DETECTIONS),
        TaskSpec("image-segmentation", "image_segmentation", InputKind.IMAGE, OutputKind.SEGMENTS),
        TaskSpec("depth-estimation", "depth_estimation", InputKind.IMAGE, OutputKind.IMAGE),
        TaskSpec("zero-shot-image-classification", "zero_shot_image_classification", InputKind.IMAGE,
                 OutputKind.ZERO_SHOT, extra_inputs=(InputSlot.CANDIDATE_LABELS,),
                 default_labels=("a cat", "a dog", "a car")),
        # transformers 5 serves text-to-speech as an alias of text-to-audio: one template for both.
        TaskSpec("text-to-speech", "text_to_audio", InputKind.TEXT, OutputKind.AUDIO,
                 "Hello world, this is a test of speech.", "The weather is sunny today."),
        TaskSpec("text-to-audio", "text_to_audio", InputKind.TEXT, OutputKind.AUDIO,
                 "A dog barking in the distance.", "Rain falling on a tin roof."),
        TaskSpec("image-text-to-text", "image_text_to_text", InputKind.IMAGE, OutputKind.TEXT,
                 "Describe this image.", extra_inputs=(InputSlot.TEXT,)),
        TaskSpec("image-to-text", "image_to_text", InputKind.IMAGE, OutputKind.TEXT),
        TaskSpec("text-to-image", "text_to_image", InputKind.TEXT, OutputKind.IMAGE,
                 "a photo of a cat", "a watercolor painting of a lighthouse at night"),
        TaskSpec("zero-shot-classification", "zero_shot_classification", InputKind.TEXT, OutputKind.ZERO_SHOT,
                 "I loved this movie, the actors were great!", "The parliament passed the new budget today.",
                 extra_inputs=(InputSlot.CANDIDATE_LABELS,), default_labels=("cinema", "politics", "sport"),
                 single_label=True),
        TaskSpec("question-answering", "question_answering", InputKind.TEXT, OutputKind.ANSWER,
                 "Where does Alice live?", "What is the capital of France?", extra_inputs=(InputSlot.CONTEXT,),
                 default_context="Alice lives in London with her cat. She works as a doctor.",
                 probe_context="Paris is the capital of France. The Eiffel Tower stands in Paris."),
        # Known tasks without a template yet: analysed and recommended, but a build ends in an honest
        # technical_blocker instead of an app that pretends.
        TaskSpec("image-to-image", None, InputKind.IMAGE, OutputKind.IMAGE),
    )
}

TEMPLATE_TASKS = frozenset(task for task, spec in TASKS.items() if spec.template)

# A text-generation model whose tokenizer (or processor) has a chat template is served as a chat: the
# template applied to a conversation, gr.ChatInterface, the reply judged as a reply.
CHAT_SPEC = TaskSpec("text-generation", "chat", InputKind.TEXT, OutputKind.CHAT,
                     "Hello! What can you do?", "What is the capital of France?")


def task_spec(task: str | None, *, chat_template: bool = False) -> TaskSpec | None:
    """The catalog entry for `task`, or None for a task the factory does not know.

    Args:
        task: the Hub task.
        chat_template: whether the model declares a chat template; a text-generation model then gets `CHAT_SPEC`.

    Example:
        >>> task_spec("text-generation").template, task_spec("text-generation", chat_template=True).template
        ('text_generation', 'chat')
    """
    if task == CHAT_SPEC.task and chat_template:
        return CHAT_SPEC
    return TASKS.get(task) if task else None
