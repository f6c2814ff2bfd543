"""Generate a Gradio Space (app.py, requirements.txt, README.md) for a model from its task template.

Everything taken from a model card or an analysis is untrusted (DESIGN §9): it reaches `app.py` only as a
Python literal made by `repr()`, and `README.md` only as a double-quoted YAML scalar made from
`json.dumps`, so no card value can become code or inject a front-matter key.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from space_factory.domain.errors import InvalidModelId, NoTemplate
from space_factory.domain.front_matter import SHORT_DESCRIPTION_MAX, card_license, suggested_hardware
from space_factory.domain.ids import parse_model_id
from space_factory.domain.schemas import ModelCardAnalysis, RuntimeRecommendation
from space_factory.domain.tasks import InputKind, InputSlot, OutputKind, TaskSpec, task_spec

API_NAME = "/predict"
APP_FILES = ("app.py", "requirements.txt", "README.md")
TEMPLATE_PACKAGE = "space_factory.worker.templates"
ZEROGPU_FLAVOR = "zero-a10g"
MAX_EXAMPLES = 5

# `{{NAME}}` in a template; replaced in one pass, so a value that itself holds `{{...}}` stays as it is.
_PLACEHOLDER_RE = re.compile(r"\{\{([A-Z_]+)\}\}")
# Lines between these markers are kept (markers dropped) for a GPU plan and removed otherwise.
_GPU_BEGIN = "# >>> gpu-only"
_GPU_END = "# <<< gpu-only"

# What each template imports besides gradio, spaces and huggingface_hub, which the Space image provides and
# which must never be pinned there. fastapi and uvicorn are gradio's own dependencies, so they come with it.
# Lower bounds only: ZeroGPU supports a few torch versions, and a pin here could rule them all out.
# `gradio[mcp]` without a version: the Space's sdk_version (the image) still decides gradio, and the extra's own pins
# (gradio 6.31: mcp>=1.21,<2 and pydantic<=2.12.5) follow whichever gradio that is; they conflict with the factory's
# mcp 2, so they live only in the Space's environment (docs/architecture.md, "Every Space is an MCP server").
_BASE_REQUIREMENTS = ("transformers>=5.0", "torch", "gradio[mcp]")
_EXTRA_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "text2text_generation": ("sentencepiece", "protobuf"),  # T5/Marian tokenizers without tokenizer.json
    "fill_mask": ("sentencepiece",),  # XLM-R/CamemBERT-style tokenizers
    "image_classification": ("pillow",),
    "speech_recognition": ("numpy", "soundfile"),
    "audio_classification": ("numpy", "soundfile"),
    "object_detection": ("pillow",),
    "image_segmentation": ("pillow", "numpy"),
    "depth_estimation": ("pillow",),
    "zero_shot_image_classification": ("pillow",),
    "text_to_audio": ("numpy",),  # VITS/MMS tokenizers may also want phonemizer/uroman: left to the agent
    "chat": ("jinja2",),  # apply_chat_template renders the template with jinja2
    "image_text_to_text": ("pillow", "jinja2"),
    "image_to_text": ("pillow",),
    "text_to_image": ("diffusers>=0.30", "pillow"),
}
_LOOK: dict[str, tuple[str, str, str]] = {  # template -> (emoji, colorFrom, colorTo)
    "text_generation": ("\u270d\ufe0f", "blue", "indigo"),
    "text2text_generation": ("\U0001f501", "indigo", "purple"),
    "text_classification": ("\U0001f3f7\ufe0f", "green", "blue"),
    "token_classification": ("\U0001f50d", "yellow", "green"),
    "fill_mask": ("\U0001f9e9", "purple", "pink"),
    "embeddings": ("\U0001f9ed", "gray", "blue"),
    "image_classification": ("\U0001f5bc\ufe0f", "pink", "red"),
    "speech_recognition": ("\U0001f399\ufe0f", "red", "yellow"),
    "audio_classification": ("\U0001f3b5", "red", "purple"),
    "object_detection": ("\U0001f4e6", "green", "yellow"),
    "image_segmentation": ("\U0001f9e9", "blue", "green"),
    "depth_estimation": ("\U0001f5fa\ufe0f", "gray", "purple"),
    "zero_shot_image_classification": ("\U0001f50e", "yellow", "red"),
    "text_to_audio": ("\U0001f50a", "purple", "red"),
    "chat": ("\U0001f4ac", "blue", "green"),
    "image_text_to_text": ("\U0001f441\ufe0f", "purple", "blue"),
    "image_to_text": ("\U0001f4dd", "pink", "purple"),
    "text_to_image": ("\U0001f3a8", "yellow", "pink"),
    "zero_shot_classification": ("\U0001f3af", "green", "yellow"),
    "question_answering": ("\u2753", "indigo", "green"),
}
_DEFAULT_LOOK = ("\U0001f916", "blue", "gray")


@dataclass(frozen=True)
class GeneratedApp:
    """What `generate_app` wrote.

    Attributes:
        directory: the app workspace.
        files: names of the files written there, relative to `directory`.
        task: the task the app serves.
        template: the template stem used.
        api_name: the app's one named endpoint.
    """

    directory: Path
    files: tuple[str, ...]
    task: str
    template: str
    api_name: str = API_NAME


def generate_app(
    analysis: ModelCardAnalysis,
    recommendation: RuntimeRecommendation,
    out_dir: Path,
    *,
    space_title: str | None = None,
) -> GeneratedApp:
    """Write a runnable Gradio app for `analysis.model` into `out_dir`.

    `out_dir` is created when missing; of the files already there, only app.py, requirements.txt and
    README.md are overwritten.

    Args:
        analysis: the model-card analysis; its task picks the template.
        recommendation: the hardware plan; a GPU plan makes the app ZeroGPU-ready (spaces.GPU, cuda).
        out_dir: the app workspace.
        space_title: the Space's title; default: the model's name.

    Returns:
        The workspace, the files written and the app's API name.

    Raises:
        NoTemplate: the task is unknown, missing, or has no template.
    """
    spec = task_spec(analysis.task, chat_template=analysis.chat_template)
    if spec is None or spec.template is None:
        raise NoTemplate(analysis.task)
    gpu = plans_gpu(recommendation)
    title = space_title if space_title is not None else analysis.model.rsplit("/", 1)[-1]
    values = {
        "MODEL_ID": repr(analysis.model),
        "TASK": repr(spec.task),
        "TITLE": repr(title),
        "DESCRIPTION": repr(_description(analysis.model, spec)),
        "EXAMPLES": repr(_examples(analysis, spec)),
        "USE_GPU": repr(gpu),
        "LABELS": repr(list(_labels(analysis, spec))),
        "CONTEXT": repr(_context(analysis, spec)),
        "PROMPT": repr(_prompt(analysis, spec)),
    }
    app_source = render_template(spec.template, values, gpu=gpu)
    # A template bug must fail here, in the worker, not later as a Space that never starts.
    ast.parse(app_source, filename="app.py")
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        "app.py": app_source,
        "requirements.txt": _requirements(spec.template),
        "README.md": _readme(analysis, recommendation, spec, title),
    }
    for name, text in contents.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return GeneratedApp(directory=out_dir, files=APP_FILES, task=spec.task, template=spec.template)


def plans_gpu(recommendation: RuntimeRecommendation) -> bool:
    """Whether the hardware plan puts the app on a GPU (ZeroGPU or a fixed GPU flavor)."""
    return (
        recommendation.needs_gpu
        or recommendation.chosen == ZEROGPU_FLAVOR
        or not recommendation.chosen.startswith("cpu")
    )


def render_template(stem: str, values: Mapping[str, str], *, gpu: bool) -> str:
    """Fill a template's `{{NAME}}` placeholders with ready-made Python source fragments.

    Args:
        stem: the template file stem, e.g. "text_generation".
        values: placeholder name to the source text that replaces it; callers pass `repr()` output.
        gpu: keep the template's gpu-only section (spaces.GPU wrapping) instead of removing it.

    Raises:
        KeyError: the template uses a placeholder `values` does not define.
    """
    template = resources.files(TEMPLATE_PACKAGE).joinpath(f"{stem}.py.tmpl").read_text(encoding="utf-8")
    # Sections are cut before the values go in, so a value can never open or close one.
    template = _select_gpu_section(template, gpu)
    return _PLACEHOLDER_RE.sub(lambda match: values[match.group(1)], template)


def template_stems() -> tuple[str, ...]:
    """The stems of the templates shipped in the package."""
    names = (entry.name for entry in resources.files(TEMPLATE_PACKAGE).iterdir())
    return tuple(sorted(name.removesuffix(".py.tmpl") for name in names if name.endswith(".py.tmpl")))


def _select_gpu_section(template: str, gpu: bool) -> str:
    lines: list[str] = []
    inside = False
    for line in template.splitlines(keepends=True):
        marker = line.strip()
        if marker == _GPU_BEGIN:
            inside = True
        elif marker == _GPU_END:
            inside = False
        elif gpu or not inside:
            lines.append(line)
    return "".join(lines)


def _sample_texts(analysis: ModelCardAnalysis) -> list[str]:
    texts: list[str] = []
    for sample in analysis.sample_inputs:
        # A sentence-similarity widget has a source sentence; the embedding endpoint embeds one text.
        text = sample.text if sample.text is not None else sample.source_sentence
        if text and text.strip() and text not in texts:
            texts.append(text)
    return texts


def _labels(analysis: ModelCardAnalysis, spec: TaskSpec) -> tuple[str, ...]:
    """The candidate labels the app starts with: the card widget's, else the task's defaults."""
    found = next((s.candidate_labels for s in analysis.sample_inputs if s.candidate_labels), None)
    return tuple(found) if found else spec.default_labels


def _context(analysis: ModelCardAnalysis, spec: TaskSpec) -> str | None:
    """The passage the QA app starts with: the card widget's, else the task's default."""
    return next((s.context for s in analysis.sample_inputs if s.context), None) or spec.default_context


def _prompt(analysis: ModelCardAnalysis, spec: TaskSpec) -> str | None:
    """The prompt an image-and-text app starts with: the card widget's text, else the task's default."""
    if InputSlot.TEXT not in spec.extra_inputs:
        return None
    return next((s.text for s in analysis.sample_inputs if s.text and s.text.strip()), None) or spec.default_text


def _examples(analysis: ModelCardAnalysis, spec: TaskSpec) -> list[list[str]] | None:
    """gr.Interface examples (one row per example, one column per input); None for file inputs."""
    if spec.input_kind is not InputKind.TEXT:
        return None  # card examples of images and audio are URLs, never fetched
    texts = _sample_texts(analysis) or ([spec.default_text] if spec.default_text else [])
    extra: list[str] = []
    for slot in spec.extra_inputs:  # every input needs a column: labels as one "a, b" string, the QA passage
        if slot is InputSlot.CANDIDATE_LABELS:
            extra.append(", ".join(_labels(analysis, spec)))
        elif slot is InputSlot.CONTEXT:
            extra.append(_context(analysis, spec) or "")
    return [[text, *extra] for text in texts[:MAX_EXAMPLES]] or None


def _description(model: str, spec: TaskSpec) -> str:
    return f"Runs `{model}` for {spec.task}. Generated by Space Factory; API endpoint: {API_NAME}."


def _requirements(template: str) -> str:
    lines = [*_BASE_REQUIREMENTS, *_EXTRA_REQUIREMENTS.get(template, ())]
    return "\n".join(lines) + "\n"


def yaml_str(value: str) -> str:
    """A double-quoted YAML scalar that reads back as exactly `value`.

    JSON strings are YAML; on top of `json.dumps`, every character outside printable ASCII is escaped
    (`\\uXXXX`, or `\\UXXXXXXXX` above the BMP) because YAML readers fold line separators such as U+2028
    and PyYAML reads a JSON surrogate pair as two separate characters.
    """
    out: list[str] = []
    for char in json.dumps(value, ensure_ascii=False):
        code = ord(char)
        if 0x20 <= code <= 0x7E:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _readme(
    analysis: ModelCardAnalysis, recommendation: RuntimeRecommendation, spec: TaskSpec, title: str
) -> str:
    emoji, color_from, color_to = _LOOK.get(spec.template or "", _DEFAULT_LOOK)
    model_name = analysis.model.rsplit("/", 1)[-1]
    short_description = _truncate(f"{spec.task} demo of {model_name}", SHORT_DESCRIPTION_MAX)
    front = [
        "---",
        f"title: {yaml_str(title)}",
        f"emoji: {yaml_str(emoji)}",
        f"colorFrom: {color_from}",
        f"colorTo: {color_to}",
        "sdk: gradio",
        "app_file: app.py",
        "pinned: false",
        f"short_description: {yaml_str(short_description)}",
        "models:",
        f"- {yaml_str(analysis.model)}",
    ]
    # validate-yaml refuses values outside the Hub's lists (domain.front_matter): a card's free-text license
    # becomes `other` + `license_name`, and a flavor the Hub does not list is not suggested at all.
    license_fields = card_license(analysis.license)
    if license_fields is not None:
        front.append(f"license: {yaml_str(license_fields.license)}")
        if license_fields.license_name is not None:
            front.append(f"license_name: {yaml_str(license_fields.license_name)}")
    suggested = suggested_hardware(recommendation.chosen)
    if suggested is not None:
        front.append(f"suggested_hardware: {yaml_str(suggested.value)}")
    front.append("---")
    return "\n".join(front) + "\n\n" + _readme_body(analysis.model, spec)


def _readme_body(model: str, spec: TaskSpec) -> str:
    # The body is Markdown for people. A well-formed model id is linked; anything else is shown as a
    # JSON string in a code span, so that no card text (newlines, backticks, HTML) can restructure the page.
    try:
        shown = f"[`{parse_model_id(model)}`](https://huggingface.co/{model})"
    except InvalidModelId:
        shown = "`" + json.dumps(model).replace("`", "'") + "`"
    # One argument per input, in the app's parameter order (the task's first input, then its others).
    example = {
        InputSlot.TEXT: repr(spec.default_text or "text"),
        InputSlot.QUESTION: repr(spec.default_text or "question"),
        InputSlot.IMAGE: 'handle_file("image.png")',
        InputSlot.AUDIO: 'handle_file("audio.wav")',
        InputSlot.CANDIDATE_LABELS: repr(", ".join(spec.default_labels) or "label one, label two"),
        InputSlot.CONTEXT: repr(spec.default_context or "the passage"),
    }
    argument = ", ".join(example[slot] for slot in spec.inputs)
    inputs = ", ".join(slot.value.replace("_", " ") for slot in spec.inputs)
    runtime = "diffusers" if spec.output_kind is OutputKind.IMAGE and spec.input_kind is InputKind.TEXT else (
        "transformers")
    returns = {
        "text": "the generated text (a string)",
        "transcript": "the transcript (a string)",
        "labels": 'a label dict: {"label": best, "confidences": [{"label", "confidence"}, ...]}',
        "entities": "a list of entities: {entity_group, score, word, start, end}",
        "embedding": "the embedding, a flat list of floats",
        "image": "an image file (gradio_client gives its local path)",
        "audio": "a WAV file (gradio_client gives its local path)",
        "detections": 'a tuple: the detections [{"label", "score", "box": {xmin, ymin, xmax, ymax}}], then the '
                      "image with its boxes",
        "segments": 'an annotated image: {"image", "annotations": [{"image": mask file, "label"}]}',
        "zero_shot": 'a label dict with a score for every candidate label: {"label", "confidences": [...]}',
        "chat": "the assistant's reply (a string); each call is a new conversation",
        "answer": 'the answer, a span of the context: {"answer", "score", "start", "end"}',
    }.get(spec.output_kind.value, spec.output_kind.value)
    return (
        f"# {spec.task} demo\n\n"
        f"This Space runs the model {shown} for the task **{spec.task}** with real inference "
        f"({runtime}), behind a Gradio interface. It was generated by Space Factory.\n\n"
        f"- API endpoint: `{API_NAME}` ({inputs})\n"
        f"- Returns: {returns}\n"
        "- Health check: `GET /health`\n\n"
        "## Call it from Python\n\n"
        "```python\n"
        "from gradio_client import Client, handle_file\n\n"
        'client = Client("owner/space-name")  # this Space\'s id, or its URL\n'
        f'result = client.predict({argument}, api_name="{API_NAME}")\n'
        "print(result)\n"
        "```\n"
    )
