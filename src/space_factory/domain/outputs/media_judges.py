"""The judges of file outputs: an image or a sound must be decoded and show something, not merely sniff right.

A stub's flat-colour PNG and a silent WAV have valid magic numbers; these judges decode the bytes the caller
read (`JudgeInput.files`, `domain.outputs.media`) and refuse what shows nothing: an image of an insane size or
one flat colour, audio of no duration or silence. Only the first bytes (`file_head`) are never enough.
"""

from __future__ import annotations

from collections.abc import Mapping

from space_factory.domain.excerpts import describe_type
from space_factory.domain.media import sniff_media
from space_factory.domain.outputs.coercion import MAX_UNWRAP, first_of_tuple
from space_factory.domain.outputs.judges import JudgeInput, verdict
from space_factory.domain.outputs.media import (
    FLAT_SPREAD,
    MAX_IMAGE_SIDE,
    MIN_IMAGE_SIDE,
    AudioFacts,
    ImageFacts,
    audio_facts,
    image_facts,
)
from space_factory.domain.schemas import OutputVerdict

__all__ = ["file_bytes", "file_ref", "judge_audio", "judge_image", "read_image"]


def file_ref(output: object) -> str | None:
    """The path or URL of a file output: a str, a FileData-like dict, or the first item of a list."""
    value = output
    for _ in range(MAX_UNWRAP):
        if isinstance(value, str):
            return value if value.strip() else None
        if isinstance(value, list | tuple) and value:
            value = value[0]
        elif isinstance(value, Mapping):
            ref = next((value[k] for k in ("path", "url") if isinstance(value.get(k), str) and value[k]), None)
            if ref is not None:
                return str(ref)
            value = next((value[k] for k in ("image", "audio", "video", "value") if k in value), None)
        else:
            return None
    return None


def file_bytes(ref: str, given: JudgeInput, *, first: bool) -> bytes | None:
    """The bytes the caller read for `ref`; for the output's first file, the bare `file_head` as a fallback."""
    data = given.files.get(ref)
    if data is None and first:
        data = given.file_head
    return data or None


def _sniffed(data: bytes | None, family: str) -> OutputVerdict | str:
    """The media type, or the verdict refusing bytes that are missing or of another family."""
    if not data:
        return verdict(False, family, "no file bytes to sniff")
    media = sniff_media(data[:512])
    if media is None:
        return verdict(False, "unknown file", f"the file's bytes are no known media type (start {data[:8].hex()})")
    found = media.split("/", 1)[0]
    if found != family:
        return verdict(False, found, f"the file is {media}, not {family}")
    return media


def read_image(ref: str, given: JudgeInput, *, first: bool) -> ImageFacts | OutputVerdict:
    """The decoded image behind `ref`, or the verdict saying why there is none."""
    data = file_bytes(ref, given, first=first)
    media = _sniffed(data, "image")
    if isinstance(media, OutputVerdict):
        return media
    facts = image_facts(data or b"")
    if isinstance(facts, str):
        return verdict(False, "image", f"the file is {media} but could not be decoded: {facts}")
    return facts


def judge_image(output: object, given: JudgeInput) -> OutputVerdict:
    """An image file that decodes to a sane size (each side 8..8192 px) and is not one flat colour."""
    ref = file_ref(first_of_tuple(output))
    if ref is None:
        return verdict(False, "unrecognized", f"expected a file (path or URL), got {describe_type(output)}")
    facts = read_image(ref, given, first=True)
    if isinstance(facts, OutputVerdict):
        return facts
    if not facts.sane_size:
        return verdict(False, "image", f"{facts.describe()}: a side is outside {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} px")
    if facts.flat:
        return verdict(False, "image", f"{facts.describe()}: one flat colour (no channel varies by more than "
                                       f"{FLAT_SPREAD} levels)")
    return verdict(True, "image", f"{facts.describe()}, {min(facts.distinct, 256)}{'+' * (facts.distinct > 256)} "
                                  "colours")


def judge_audio(output: object, given: JudgeInput) -> OutputVerdict:
    """An audio file that decodes (WAV) to more than 0 s of sound that is not silence."""
    ref = file_ref(first_of_tuple(output))
    if ref is None:
        return verdict(False, "unrecognized", f"expected a file (path or URL), got {describe_type(output)}")
    data = file_bytes(ref, given, first=True)
    media = _sniffed(data, "audio")
    if isinstance(media, OutputVerdict):
        return media
    facts: AudioFacts | str = audio_facts(data or b"")
    if isinstance(facts, str):
        return verdict(False, "audio", f"the file is {media} but could not be decoded: {facts}")
    if facts.frames == 0:
        return verdict(False, "audio", f"{facts.describe()}: no samples (0 s)")
    if facts.silent:
        return verdict(False, "audio", f"{facts.describe()}: silence")
    return verdict(True, "audio", facts.describe())
