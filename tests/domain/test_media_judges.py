"""The media and region judges decode what an app returned (issue 11): a flat image, a silent WAV, a box outside
the image and a mask of the wrong size are refused; real-looking outputs pass. Pure: bytes are made here."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from typing import Any

import pytest

from space_factory.domain.outputs import CONSTANT_DETAIL, judge_output
from space_factory.domain.outputs.media import FLAT_SPREAD, audio_facts, image_facts
from space_factory.domain.tasks import OutputKind


def png(width: int = 64, height: int = 48, *, flat: bool = False, colour_type: int = 2) -> bytes:
    """A PNG written with the stdlib (every row filter type is used, so the decoder's unfiltering is covered)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter None: the decoder is tested on filtered rows through Pillow's PNGs below
        for x in range(width):
            value = 128 if flat else (x * 4 + y * 5) % 256
            rows += bytes([value] * channels)
    return png_of(width, height, colour_type, zlib.compress(bytes(rows)))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_of(width: int, height: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def pillow(fmt: str, *, flat: bool = False, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    from PIL import Image

    width, height = size
    if flat:
        image = Image.new("RGB", size, (10, 120, 30))
    else:
        pixels = bytes(((x * 7 + y * 3) % 256, (x * 2) % 256, (y * 9) % 256)[c] for y in range(height)
                       for x in range(width) for c in range(3))
        image = Image.frombytes("RGB", size, pixels)
    out = io.BytesIO()
    image.convert(mode).save(out, fmt)
    return out.getvalue()


def wav(seconds: float = 0.5, *, amplitude: float = 0.3, rate: int = 16000, offset: int = 0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", offset + int(amplitude * 32767 * math.sin(i / 5)))
                               for i in range(int(seconds * rate))))
    return out.getvalue()


FILE = {"path": "/tmp/gradio/abc/image.webp", "url": "http://127.0.0.1/file=abc", "meta": {"_type": "gradio.FileData"}}


def _judge(kind: OutputKind, output: object, files: dict[str, bytes], **kw: Any) -> tuple[bool, str]:
    verdict = judge_output(kind, output, files=files, **kw)
    return verdict.ok, verdict.detail


# --- facts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_pillow_written_pngs_of_every_mode_decode_with_the_stdlib_to_the_same_size_and_spread(mode: str) -> None:
    """The stdlib PNG decoder undoes Pillow's filters (Sub, Up, Average, Paeth) for every colour type."""
    from PIL import Image

    data = pillow("PNG", mode=mode)
    facts = image_facts(data)
    assert not isinstance(facts, str), facts
    assert (facts.width, facts.height, facts.media) == (64, 48, "image/png")
    with Image.open(io.BytesIO(data)) as image:
        expected = image.convert("L" if facts.channels == 1 else "RGB")
        extrema = expected.getextrema()
        bands = [extrema] if facts.channels == 1 else extrema
        assert facts.spread == max(hi - lo for lo, hi in bands)  # type: ignore[misc]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG", "GIF", "BMP"])
def test_a_flat_colour_is_flat_in_every_format_even_after_lossy_noise(fmt: str) -> None:
    facts = image_facts(pillow(fmt, flat=True))
    assert not isinstance(facts, str) and facts.flat and facts.spread <= FLAT_SPREAD
    real = image_facts(pillow(fmt))
    assert not isinstance(real, str) and not real.flat


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "no image bytes"),
    (b"hello", "the bytes are no known image type"),
    (wav(), "the bytes are audio/wav, not an image"),
    (png()[:60], "the PNG is truncated"),
    (png_of(64, 48, 2, b"not zlib at all"), "the PNG's pixel data is corrupt"),
    (png_of(64, 48, 2, zlib.compress(b"\x00" * 100)), "the PNG's pixel data is truncated"),
])
def test_undecodable_images_say_why(data: bytes, reason: str) -> None:
    assert image_facts(data) == reason


def test_audio_facts_measure_duration_and_loudness() -> None:
    facts = audio_facts(wav(0.5))
    assert not isinstance(facts, str)
    assert facts.seconds == pytest.approx(0.5) and facts.peak == pytest.approx(0.3, abs=0.01) and not facts.silent
    silence = audio_facts(wav(0.5, amplitude=0.0, offset=900))  # a constant DC offset is silence too
    assert not isinstance(silence, str) and silence.silent


# --- image and audio judges ---------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "ok", "detail"), [
    (png(), True, "a 64×48 image/png, 3 channel(s), spread 255, 256 colours"),
    (pillow("WEBP"), True, "image/webp"),  # gr.Image's default output format
    (pillow("JPEG"), True, "image/jpeg"),
    (png(flat=True), False, "one flat colour"),
    (pillow("WEBP", flat=True), False, "one flat colour"),
    (png(4, 4), False, "a side is outside 8..8192 px"),
    (png(9000, 8), False, "a side is outside 8..8192 px"),
    (wav(), False, "the file is audio/wav, not image"),
    (b"<html>", False, "no known media type"),
])
def test_the_image_judge_decodes_the_file(data: bytes, ok: bool, detail: str) -> None:
    verdict_ok, verdict_detail = _judge(OutputKind.IMAGE, FILE, {FILE["path"]: data})
    assert verdict_ok is ok and detail in verdict_detail


def test_the_first_bytes_alone_are_never_enough_for_an_image() -> None:
    """file_head (64 bytes) sniffs as PNG but cannot show the pixels: not evidence."""
    verdict = judge_output(OutputKind.IMAGE, FILE, file_head=png()[:64])
    assert not verdict.ok and "could not be decoded" in verdict.detail


@pytest.mark.parametrize(("data", "ok", "detail"), [
    (wav(0.5), True, "0.50 s of audio/wav at 16000 Hz"),
    (wav(0.5, amplitude=0.0), False, "silence"),
    (wav(0.5, amplitude=0.00002), False, "silence"),
    (wav(0.0), False, "no samples (0 s)"),
    (png(), False, "the file is image/png, not audio"),
    (b"OggS" + bytes(60), False, "audio/ogg cannot be decoded here"),
])
def test_the_audio_judge_decodes_the_file(data: bytes, ok: bool, detail: str) -> None:
    output = {"path": "/tmp/gradio/x/audio.wav", "meta": {"_type": "gradio.FileData"}}
    verdict_ok, verdict_detail = _judge(OutputKind.AUDIO, output, {output["path"]: data})
    assert verdict_ok is ok and detail in verdict_detail


# --- detections ---------------------------------------------------------------------------------------


def _det(label: Any = "cat", score: Any = 0.9, box: Any = None) -> dict[str, Any]:
    return {"label": label, "score": score, "box": box or {"xmin": 2, "ymin": 3, "xmax": 40, "ymax": 30}}


@pytest.mark.parametrize(("output", "ok", "detail"), [
    ([_det(), _det("dog", 0.4)], True, "2 detection(s) inside the image: cat, dog"),
    ({"detections": [_det()]}, True, "1 detection(s)"),
    ('[{"label": "cat", "score": 0.5, "box": [1, 1, 10, 10]}]', True, "1 detection(s)"),
    # Detectors do not clip: 5% of the side (here 3.2 px) past the border is tolerated...
    ([_det(box={"xmin": -3, "ymin": 0, "xmax": 67, "ymax": 48})], True, "inside the image"),
    # ...more is a box outside the image.
    ([_det(box={"xmin": 10, "ymin": 10, "xmax": 90, "ymax": 20})], False, "outside the 64×48 image"),
    ([_det(box={"xmin": -20, "ymin": 0, "xmax": 5, "ymax": 5})], False, "outside the 64×48 image"),
    ([_det(box={"xmin": 30, "ymin": 0, "xmax": 5, "ymax": 5})], False, "corners swapped"),
    ([_det(box={"xmin": "a", "ymin": 0, "xmax": 5, "ymax": 5})], False, "non-number"),
    ([_det(score=1.7)], False, "not in [0, 1]"),
    ([_det(score=None)], False, "not in [0, 1]"),
    ([_det(label="")], False, "no label"),
    ([], False, "no detections"),
    ("no objects", False, "expected a list of detections"),
])
def test_detections_must_be_labelled_scored_and_inside_the_image(output: object, ok: bool, detail: str) -> None:
    verdict_ok, verdict_detail = _judge(OutputKind.DETECTIONS, output, {}, image_size=(64, 48))
    assert verdict_ok is ok and detail in verdict_detail


# --- segments -----------------------------------------------------------------------------------------


def _annotated(*masks: tuple[str, str]) -> dict[str, Any]:
    return {"image": {"path": "/d/base/image.png"},
            "annotations": [{"image": {"path": path}, "label": label} for path, label in masks]}


@pytest.mark.parametrize(("output", "files", "ok", "detail"), [
    (_annotated(("/d/1/image.png", "sky"), ("/d/2/image.png", "road")),
     {"/d/1/image.png": png(flat=True), "/d/2/image.png": png()}, True, "2 mask(s) of 64×48: sky, road"),
    (_annotated(("/d/1/image.png", "sky")), {"/d/1/image.png": png(32, 32)}, False,
     "the mask of 'sky' is 32×32, not the image's 64×48"),
    (_annotated(("/d/1/image.png", "")), {"/d/1/image.png": png()}, False, "no label"),
    (_annotated(("/d/1/image.png", "sky")), {}, False, "no file bytes"),
    (_annotated(), {}, False, "no segments"),
    ([{"label": "sky", "mask": {"path": "/d/1/m.png"}}], {"/d/1/m.png": png()}, True, "1 mask(s)"),
    ("sky", {}, False, "expected segments"),
])
def test_segments_need_labels_and_masks_of_the_input_size(output: object, files: dict[str, bytes], ok: bool,
                                                          detail: str) -> None:
    verdict_ok, verdict_detail = _judge(OutputKind.SEGMENTS, output, files, image_size=(64, 48))
    assert verdict_ok is ok and detail in verdict_detail


def test_a_mask_is_held_to_the_base_image_the_output_carries() -> None:
    output = _annotated(("/d/1/image.png", "sky"))
    files = {"/d/base/image.png": png(40, 40), "/d/1/image.png": png()}
    ok, detail = _judge(OutputKind.SEGMENTS, output, files, image_size=(64, 48))
    assert not ok and "not the image's 40×40" in detail


# --- constants and zero-shot image labels --------------------------------------------------------------


def test_detections_are_compared_without_the_annotated_images_temporary_path() -> None:
    """The template returns (detections, annotated image): only the detections say whether the answer moved."""
    first = ([_det()], {"image": "/dl/1/image.png", "annotations": []})
    same = ([_det()], {"image": "/dl/2/image.png", "annotations": []})
    moved = ([_det(score=0.8)], {"image": "/dl/3/image.png", "annotations": []})
    kw: dict[str, Any] = {"image_size": (64, 48), "inputs_differ": True}
    assert judge_output(OutputKind.DETECTIONS, first, probe_output=same, **kw).detail == CONSTANT_DETAIL
    assert judge_output(OutputKind.DETECTIONS, first, probe_output=moved, **kw).ok


def test_the_same_masks_for_two_images_are_a_constant() -> None:
    output, probe = _annotated(("/d/1/image.png", "sky")), _annotated(("/d/2/image.png", "sky"))
    mask = png()
    verdict = judge_output(OutputKind.SEGMENTS, output, files={"/d/1/image.png": mask}, probe_output=probe,
                           probe_files={"/d/2/image.png": mask}, image_size=(64, 48), inputs_differ=True)
    assert verdict.detail == CONSTANT_DETAIL


@pytest.mark.parametrize(("output", "ok", "detail"), [
    ({"label": "a dog", "confidences": [{"label": "a dog", "confidence": 0.6}, {"label": "a cat", "confidence": 0.3},
                                        {"label": "a car", "confidence": 0.1}]}, True, "3 candidate labels"),
    # SigLIP-like scores are independent: no sum to 1 is asked of zero-shot image classification
    ({"a dog": 0.9, "a cat": 0.8, "a car": 0.05}, True, "3 candidate labels"),
    ({"cat": 0.7, "dog": 0.3}, False, "labels other than those given"),
    ({"a dog": 0.7, "a cat": 0.3}, False, "candidate labels missing: a car"),
])
def test_zero_shot_image_labels_must_be_exactly_the_given_ones(output: object, ok: bool, detail: str) -> None:
    from space_factory.domain.tasks import TASKS

    spec = TASKS["zero-shot-image-classification"]
    verdict = judge_output(spec.output_kind, output, candidate_labels=("a cat", "a dog", "a car"),
                           single_label=spec.single_label)
    assert verdict.ok is ok and detail in verdict.detail
