"""Sample inputs for a predict call: the card's example text, or a small synthetic image or sound.

Widget URLs from a card are never fetched (offline, and untrusted); images and audio are made here.
"""

from __future__ import annotations

import math
import struct
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

from space_factory.domain.schemas import SampleInput
from space_factory.domain.tasks import InputKind, InputSlot, TaskSpec

# Candidate labels go to a text box as one comma-separated string (how zero-shot apps take them).
LABEL_SEPARATOR = ", "


@dataclass(frozen=True)
class Sample:
    """One input for the chosen endpoint: text, or a file path to send with `handle_file`, plus the task's
    other inputs (candidate labels, a QA context).

    Attributes:
        image_size: (width, height) of `file` when it is an image, for the judges of boxes and masks.
    """

    text: str | None = None
    file: Path | None = None
    origin: str = "default"
    candidate_labels: tuple[str, ...] | None = None
    context: str | None = None
    image_size: tuple[int, int] | None = None

    def describe(self) -> str:
        main = repr(self.text[:200]) if self.text is not None else f"file {self.file.name if self.file else '?'}"
        if self.file is not None and self.text is not None:  # an image and its prompt
            main = f"file {self.file.name} with prompt {self.text[:200]!r}"
        if self.candidate_labels is not None:
            main += f" with labels {LABEL_SEPARATOR.join(self.candidate_labels)[:200]!r}"
        if self.context is not None:
            main += f" with context {self.context[:100]!r}"
        return main

    def value(self, slot: InputSlot) -> str | Path | None:
        """What this sample sends for `slot` (a file as its path; labels as one comma-separated string)."""
        if slot in (InputSlot.IMAGE, InputSlot.AUDIO):
            return self.file
        if slot is InputSlot.CANDIDATE_LABELS:
            return LABEL_SEPARATOR.join(self.candidate_labels) if self.candidate_labels is not None else None
        if slot is InputSlot.CONTEXT:
            return self.context
        return self.text  # TEXT, and QUESTION (the main text of a QA task)


def write_png(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """A small RGB PNG with a deterministic pattern (pure stdlib)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes(((x * 4 + seed * 37) % 256, (y * 5 + seed * 11) % 256, ((x + y) * 3 + seed) % 256))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows)))
                     + chunk(b"IEND", b""))
    return path


def write_wav(path: Path, seconds: float = 1.0, rate: int = 16000, freq: float = 440.0) -> Path:
    """A mono 16-bit WAV tone (pure stdlib)."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        value = 0.3 * math.sin(2 * math.pi * freq * i / rate) + 0.05 * math.sin(2 * math.pi * 3 * freq * i / rate)
        frames += struct.pack("<h", int(value * 32767))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def _labels(spec: TaskSpec, card_samples: list[SampleInput]) -> tuple[str, ...] | None:
    """The card's candidate labels, else the task's defaults; None for a task that takes none."""
    if InputSlot.CANDIDATE_LABELS not in spec.extra_inputs:
        return None
    found = next((s.candidate_labels for s in card_samples if s.candidate_labels), None)
    return tuple(found) if found else spec.default_labels


def pick_samples(spec: TaskSpec, card_samples: list[SampleInput], workdir: Path) -> tuple[Sample, Sample]:
    """The main sample and a different probe sample (to catch constant outputs), for the task's input kind."""
    workdir.mkdir(parents=True, exist_ok=True)
    if spec.input_kind is InputKind.IMAGE:
        labels = _labels(spec, card_samples)
        # A vision-language model also takes a prompt: the card's, else the task's; both calls ask the same of
        # two different images.
        prompt = _prompt(spec, card_samples)
        return (Sample(text=prompt, file=write_png(workdir / "sample.png", seed=1), candidate_labels=labels,
                       image_size=(64, 48)),
                Sample(text=prompt, file=write_png(workdir / "probe.png", 40, 40, seed=7), candidate_labels=labels,
                       image_size=(40, 40)))
    if spec.input_kind is InputKind.AUDIO:
        return (Sample(file=write_wav(workdir / "sample.wav", freq=440.0)),
                Sample(file=write_wav(workdir / "probe.wav", seconds=0.8, freq=1250.0)))
    if InputSlot.CONTEXT in spec.extra_inputs:
        return _question_samples(spec, card_samples)
    texts = [s.text or s.source_sentence for s in card_samples if (s.text or s.source_sentence)]
    main_text = texts[0] if texts else (spec.default_text or "Hello")
    origin = "card" if texts else "default"
    probe_text = next((t for t in texts[1:] if t != main_text), None) or spec.probe_text or main_text + " again"
    if probe_text == main_text:
        probe_text = main_text + " again"
    labels = _labels(spec, card_samples)
    return (Sample(text=main_text, origin=origin, candidate_labels=labels),
            Sample(text=probe_text, origin="default", candidate_labels=labels))


def _prompt(spec: TaskSpec, card_samples: list[SampleInput]) -> str | None:
    """The prompt sent with an image, for a task that takes one (image-text-to-text); else None."""
    if InputSlot.TEXT not in spec.extra_inputs:
        return None
    return next((s.text for s in card_samples if s.text), None) or spec.default_text or "Describe this image."


def _question_samples(spec: TaskSpec, card_samples: list[SampleInput]) -> tuple[Sample, Sample]:
    """Question answering: the card's question and context (else the task's), and a probe asking another
    question of another passage — one passage may honestly answer two questions with the same span."""
    card = next((s for s in card_samples if s.text and s.context), None)
    question = card.text if card else spec.default_text or "What is this about?"
    context = card.context if card else spec.default_context or "This is a short passage about a cat."
    probe_question = spec.probe_text or question
    probe_context = spec.probe_context or context
    if (probe_question, probe_context) == (question, context):
        probe_question, probe_context = "Who lives there?", "Alice lives in London with her cat."
    return (Sample(text=question, context=context, origin="card" if card else "default"),
            Sample(text=probe_question, context=probe_context, origin="default"))
