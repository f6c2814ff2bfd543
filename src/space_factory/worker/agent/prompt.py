"""The coding agent's instructions (`agent/prompt.md`, DESIGN §9, §11): our words plus validated fields only.

The text is `prompt.md` (package data) with `{{NAME}}` placeholders and `<!-- if SECTION -->` … `<!-- end -->`
sections kept or cut by mode. Every value put in is validated first (the model and Space ids by their id
rules, the task by the task-name rule, the rest are our own words and numbers), so no model-card text, and
nothing else a repository author wrote, can ever become part of the instructions; the card reaches the
agent only as the data file `.factory/model_card.md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from space_factory.domain.analysis.task_detection import is_task_name
from space_factory.domain.hardware import ZEROGPU_FLAVOR, flavor_spec
from space_factory.domain.ids import parse_model_id, validate_space_id
from space_factory.domain.tasks import InputKind, task_spec

PROMPT_PACKAGE = "space_factory.worker.agent"
PROMPT_FILE = "prompt.md"
# What Pi is asked to do in an attempt (an `AttemptRecord.mode` other than "template").
PiMode = Literal["write", "adapt", "repair"]

_PLACEHOLDER_RE = re.compile(r"\{\{([A-Z_]+)\}\}")
_SECTION_RE = re.compile(r"^<!-- if ([a-z]+) -->\n(.*?)^<!-- end -->\n", re.DOTALL | re.MULTILINE)
_INPUT_WORDS = {InputKind.TEXT: "text (a string)", InputKind.IMAGE: "image (a file path, gr.Image type 'filepath')",
                InputKind.AUDIO: "audio (a file path, gr.Audio type 'filepath')"}


@dataclass(frozen=True)
class PromptFields:
    """What the instructions may name about this run. Each is validated by `render_prompt`.

    Attributes:
        model: the model id (`owner/name`).
        task: the task (a Hub task name), or None when unknown.
        space_id: the run's Space.
        attempt: this attempt, from 1.
        attempts: how many attempts the run has.
        mode: write the app, adapt the template, or repair after a gate.
        hardware: the flavor the Space is created with (a flavor the factory knows).
        pi_deploys: Pi pushes the app itself with the `hf` CLI (agent `pi-deploy`).
    """

    model: str
    task: str | None
    space_id: str
    attempt: int
    attempts: int
    mode: PiMode
    hardware: str
    pi_deploys: bool = False


def _keep_sections(text: str, keep: set[str]) -> str:
    return _SECTION_RE.sub(lambda m: m.group(2) if m.group(1) in keep else "", text)


def _hardware_words(flavor: str) -> str:
    spec = flavor_spec(flavor)
    if spec is None:
        raise ValueError(f"unknown hardware flavor {flavor[:50]!r}")
    if flavor == ZEROGPU_FLAVOR:
        return (f"`{flavor}` (ZeroGPU: the GPU is attached only inside functions decorated with `@spaces.GPU`; "
                "import `spaces` before torch, load the model at start-up and move it to `cuda` there)")
    return f"`{flavor}` ({'a GPU' if spec.is_gpu else 'CPU only'})"


def render_prompt(fields: PromptFields) -> str:
    """The instructions for one attempt.

    Raises:
        InvalidModelId, InvalidSpaceId: an id breaks its rule.
        ValueError: the task, attempt numbers or hardware are not valid.
    """
    model = parse_model_id(fields.model)
    space_id = validate_space_id(fields.space_id)
    if fields.task is not None and not is_task_name(fields.task):
        raise ValueError("the task is not a task name")
    if not 1 <= fields.attempt <= fields.attempts:
        raise ValueError(f"attempt {fields.attempt} is not within 1..{fields.attempts}")
    spec = task_spec(fields.task)
    input_kind = _INPUT_WORDS[spec.input_kind] if spec else "input of the kind the task needs"
    output_kind = f"a {spec.output_kind.value}" if spec else "the output the task produces"
    values = {
        "MODEL_ID": model,
        "SPACE_ID": space_id,
        "TASK": f"`{fields.task}`" if fields.task else "unknown (read the card)",
        "TASK_IO": f"input: {input_kind}; output: {output_kind}",
        "INPUT_KIND": input_kind,
        "OUTPUT_KIND": output_kind,
        "ATTEMPT": str(fields.attempt),
        "ATTEMPTS": str(fields.attempts),
        "HARDWARE": _hardware_words(fields.hardware),
        "DEPLOYS": "takes what you pushed" if fields.pi_deploys else "uploads this directory",
    }
    keep: set[str] = {fields.mode}
    if fields.pi_deploys:
        keep.add("deploy")
    template = resources.files(PROMPT_PACKAGE).joinpath(PROMPT_FILE).read_text(encoding="utf-8")
    # Sections are cut before the values go in, so a value can never open or close one.
    text = _keep_sections(template, keep)
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)
