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
from space_factory.domain.tasks import InputKind, TaskSpec


@dataclass(frozen=True)
class Sample:
    """One input for the chosen endpoint: text, or a file path to send with `handle_file`."""

    text: str | None = None
    file: Path | None = None
    origin: str = "default"

    def describe(self) -> str:
        return repr(self.text[:200]) if self.text is not None else f"file {self.file.name if self.file else '?'}"


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


def pick_samples(spec: TaskSpec, card_samples: list[SampleInput], workdir: Path) -> tuple[Sample, Sample]:
    """The main sample and a different probe sample (to catch constant outputs), for the task's input kind."""
    workdir.mkdir(parents=True, exist_ok=True)
    if spec.input_kind is InputKind.IMAGE:
        return (Sample(file=write_png(workdir / "sample.png", seed=1)),
                Sample(file=write_png(workdir / "probe.png", 40, 40, seed=7)))
    if spec.input_kind is InputKind.AUDIO:
        return (Sample(file=write_wav(workdir / "sample.wav", freq=440.0)),
                Sample(file=write_wav(workdir / "probe.wav", seconds=0.8, freq=1250.0)))
    texts = [s.text or s.source_sentence for s in card_samples if (s.text or s.source_sentence)]
    main_text = texts[0] if texts else (spec.default_text or "Hello")
    origin = "card" if texts else "default"
    probe_text = next((t for t in texts[1:] if t != main_text), None) or spec.probe_text or main_text + " again"
    if probe_text == main_text:
        probe_text = main_text + " again"
    return Sample(text=main_text, origin=origin), Sample(text=probe_text, origin="default")
