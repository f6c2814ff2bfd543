"""The gate's judgement of API outputs (DESIGN §6: valid for the task, bytes sniffed, no echo, no constant)."""

from __future__ import annotations

import io
import json
import math
import struct
from typing import cast

import pytest
from PIL import Image

from space_factory.domain.excerpts import describe_type, excerpt
from space_factory.domain.media import sniff_media
from space_factory.domain.outputs import CONSTANT_DETAIL, DETAIL_LIMIT, OUTPUT_RULES, judge_output
from space_factory.domain.outputs.coercion import first_of_tuple
from space_factory.domain.outputs.media_judges import file_ref
from space_factory.domain.tasks import OutputKind
from tests.support.media_samples import wav_bytes

PROMPT = "Once upon a time"


# --- media bytes, made here --------------------------------------------------------------------------
def _pil(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 90)).save(buffer, fmt)
    return buffer.getvalue()



# fLaC + a last-metadata-block STREAMINFO header (type 0, length 34) and its first fields.
FLAC = b"fLaC" + bytes([0x80, 0x00, 0x00, 0x22]) + struct.pack(">HH", 4096, 4096) + bytes(30)
# An Ogg page header: capture pattern, version 0, "beginning of stream" flag.
OGG = b"OggS" + bytes([0x00, 0x02]) + bytes(8) + struct.pack("<I", 1) + bytes(8)
MP3_ID3 = b"ID3" + bytes([0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]) + bytes(16)
MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(28)
MP3_FRAME_MPEG2 = bytes([0xFF, 0xF3, 0x90, 0x64]) + bytes(28)
MP4 = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2" + bytes(8)
M4A = struct.pack(">I", 24) + b"ftypM4A " + struct.pack(">I", 0) + b"M4A mp42" + bytes(8)
# EBML header (doc type "webm"), then a Segment with one track entry whose TrackType is 2 (audio) or 1 (video).
_EBML = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87\x81\x04"
WEBM_AUDIO = (
    _EBML + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff\x16\x54\xae\x6b\x86\xae\x84\xd7\x81\x01\x83\x81\x02"
)
WEBM_VIDEO = (
    _EBML + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff\x16\x54\xae\x6b\x86\xae\x84\xd7\x81\x01\x83\x81\x01"
)
BMP = _pil("BMP")

MEDIA = [
    ("png", _pil("PNG"), "image/png"),
    ("jpeg", _pil("JPEG"), "image/jpeg"),
    ("gif", _pil("GIF"), "image/gif"),
    ("webp", _pil("WEBP"), "image/webp"),
    ("bmp", BMP, "image/bmp"),
    ("tiff", _pil("TIFF"), "image/tiff"),
    ("wav", wav_bytes(frames=160, rate=16000), "audio/wav"),
    ("flac", FLAC, "audio/flac"),
    ("ogg", OGG, "audio/ogg"),
    ("mp3 id3", MP3_ID3, "audio/mpeg"),
    ("mp3 frame", MP3_FRAME, "audio/mpeg"),
    ("mp3 mpeg2 frame", MP3_FRAME_MPEG2, "audio/mpeg"),
    ("mp4", MP4, "video/mp4"),
    ("m4a", M4A, "audio/mp4"),
    ("webm audio", WEBM_AUDIO, "audio/webm"),
    ("webm video", WEBM_VIDEO, "video/webm"),
    ("text", b"hello world, not media", None),
    ("BM text", b"BMW is a car maker, not a bitmap", None),
    ("truncated bmp", BMP[:10], None),
    ("empty", b"", None),
    ("html", b"<!doctype html><html>", None),
]


@pytest.mark.parametrize(("name", "head", "media"), MEDIA, ids=[m[0] for m in MEDIA])
def test_media_types_are_sniffed_from_their_magic_bytes(name: str, head: bytes, media: str | None) -> None:
    """DESIGN §6 "bytes sniffed"; the skill's step D (peers.md §2.2)."""
    assert sniff_media(head[:64]) == media


# --- TEXT -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("output", "input_text", "detail"),
    [
        ("Once upon a time there was a cat", PROMPT, "generated 15 characters beyond the prompt"),
        ("once upon a  time,\nthe end", PROMPT, "generated 9 characters beyond the prompt"),
        ("Der Hund ist klein.", "translate English to German: the dog is small", "generated 19 characters"),
        ("A cat sat.", None, "generated 10 characters"),
        (["there was a cat"], PROMPT, "generated 15 characters"),
        (("there was a cat", None), PROMPT, "generated 15 characters"),
        ({"generated_text": PROMPT + " and then"}, PROMPT, "generated 8 characters beyond the prompt"),
        ([{"generated_text": PROMPT + " and then"}], PROMPT, "generated 8 characters beyond the prompt"),
        ({"summary_text": "a cat on a mat"}, "the cat sat on the mat", "generated 14 characters"),
        ({"translation_text": "das Haus"}, "the house", "generated 8 characters"),
        ({"text": "a caption"}, None, "generated 9 characters"),
        (
            [{"generated_text": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]}],
            "hi",
            "generated 11 characters",
        ),
    ],
)
def test_generated_text_is_accepted_with_how_much_was_generated(
    output: object, input_text: str | None, detail: str
) -> None:
    verdict = judge_output(OutputKind.TEXT, output, input_text=input_text)
    assert (verdict.ok, verdict.kind, verdict.detail) == (True, "text", detail)


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        (PROMPT, "the output equals the input prompt (echo)"),
        ("  once UPON a   time \n", "the output equals the input prompt (echo)"),
        (PROMPT + "\n\n   ", "the output equals the input prompt (echo)"),
        ([PROMPT], "the output equals the input prompt (echo)"),
        ({"generated_text": PROMPT}, "the output equals the input prompt (echo)"),
        (PROMPT + " [placeholder]", "the text after the prompt is a placeholder ('[placeholder]')"),
        (PROMPT + " TODO", "the text after the prompt is a placeholder ('todo')"),
        ("", "the output is empty"),
        ("  \n\t ", "the output is empty"),
    ],
)
def test_an_echo_of_the_prompt_or_nothing_generated_is_not_inference(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.TEXT, output, input_text=PROMPT)
    assert (verdict.ok, verdict.detail) == (False, detail)


PLACEHOLDERS = [
    "TODO",
    "todo.",
    "placeholder",
    "[placeholder]",
    "<placeholder>",
    "Lorem ipsum",
    "Lorem ipsum dolor sit amet",
    "Not implemented",
    "not implemented yet",
    "NotImplemented",
    "hello world",
    "Hello, World!",
    "test",
    "output",
    "...",
    "…",
    "N/A",
    "None",
    "null",
    "example output",
    "dummy",
    "Dummy output",
    "mock",
    "fake output",
    "This is a placeholder.",
    "This is a placeholder response for the model.",
    "Placeholder: the model answers here",
    "this is a mock response",
    "Mock output: 42",
    "fake output for testing",
    "TODO: call the model",
]


@pytest.mark.parametrize("output", PLACEHOLDERS)
def test_placeholder_text_is_not_inference(output: str) -> None:
    verdict = judge_output(OutputKind.TEXT, output, input_text="Tell me a story")
    assert not verdict.ok
    assert verdict.detail.startswith("the output is a placeholder")


@pytest.mark.parametrize(
    "output", ["Mockingbirds sing at night", "Testing showed the bridge was safe", "Fake news spreads"]
)
def test_real_sentences_that_start_like_placeholders_are_accepted(output: str) -> None:
    assert judge_output(OutputKind.TEXT, output, input_text="Tell me a story").ok


@pytest.mark.parametrize("output", [None, 42, {"foo": "bar"}, [], [1, 2], {"generated_text": 5}])
def test_an_output_that_holds_no_text_is_unrecognized(output: object) -> None:
    verdict = judge_output(OutputKind.TEXT, output, input_text=PROMPT)
    assert (verdict.ok, verdict.kind) == (False, "unrecognized")
    assert verdict.detail.startswith("expected generated text, got ")


# --- TRANSCRIPT -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("output", "ok", "detail"),
    [
        ("hello world", True, "transcribed 11 characters"),
        (" you", True, "transcribed 3 characters"),
        ({"text": "testing"}, True, "transcribed 7 characters"),
        ((" Thank you.", None), True, "transcribed 10 characters"),
        ("", False, "empty transcript"),
        ({"text": "  "}, False, "empty transcript"),
        ("TODO", False, "the transcript is a placeholder ('TODO')"),
        ("placeholder transcript", False, "the transcript is a placeholder ('placeholder transcript')"),
        (None, False, "expected a transcript string, got None"),
        ({"chunks": []}, False, "expected a transcript string, got dict{chunks}"),
    ],
)
def test_a_transcript_may_be_short_but_not_empty_or_a_placeholder(output: object, ok: bool, detail: str) -> None:
    verdict = judge_output(OutputKind.TRANSCRIPT, output)
    assert (verdict.ok, verdict.detail) == (ok, detail)


# --- LABELS -----------------------------------------------------------------------------------------
GRADIO_LABEL = {
    "label": "POSITIVE",
    "confidences": [{"label": "POSITIVE", "confidence": 0.52}, {"label": "NEGATIVE", "confidence": 0.48}],
}


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        (GRADIO_LABEL, "2 label(s), top 'POSITIVE' at 0.52"),
        (json.dumps(GRADIO_LABEL), "2 label(s), top 'POSITIVE' at 0.52"),
        ((GRADIO_LABEL, "extra output"), "2 label(s), top 'POSITIVE' at 0.52"),
        ({"LABEL_0": 0.3, "LABEL_1": 0.7}, "2 label(s), top 'LABEL_1' at 0.7"),
        ([{"label": "cat", "score": 0.9}, {"label": "dog", "score": 0.1}], "2 label(s), top 'cat' at 0.9"),
        ([[{"label": "cat", "score": 0.9}]], "1 label(s), top 'cat' at 0.9"),
        ([{"token_str": "paris", "score": 0.2, "token": 3000}], "1 label(s), top 'paris' at 0.2"),
        ({"label": "POSITIVE"}, "a single label 'POSITIVE' without confidences"),
        ({"label": "POSITIVE", "confidences": None}, "a single label 'POSITIVE' without confidences"),
        ({"label": "x", "confidences": [{"label": "x", "confidence": 1.0000001}]}, "1 label(s), top 'x' at 1"),
        ({"label": "x", "confidences": [{"label": "x", "confidence": 0}]}, "1 label(s), top 'x' at 0"),
    ],
)
def test_labels_with_scores_in_range_are_accepted(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.LABELS, output, input_text="I loved it")
    assert (verdict.ok, verdict.kind, verdict.detail) == (True, "labels", detail)


def _conf(score: object) -> dict[str, object]:
    return {"label": "a", "confidences": [{"label": "a", "confidence": score}]}


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        ({}, "no labels in the output"),
        ({"confidences": []}, "no labels in the output"),
        ([], "no labels in the output"),
        (_conf(1.5), "label 'a' has score 1.5, not a number in [0, 1]"),
        (_conf(-0.1), "label 'a' has score -0.1, not a number in [0, 1]"),
        (_conf(float("nan")), "label 'a' has score nan, not a number in [0, 1]"),
        (_conf(float("inf")), "label 'a' has score inf, not a number in [0, 1]"),
        (_conf("0.5"), "label 'a' has score '0.5', not a number in [0, 1]"),
        (_conf(True), "label 'a' has score True, not a number in [0, 1]"),
        (_conf(None), "label 'a' has score None, not a number in [0, 1]"),
        ({"a": 0.5, "b": 2}, "label 'b' has score 2, not a number in [0, 1]"),
        ({"confidences": [{"label": "", "confidence": 0.5}]}, "a label is not a non-empty string ('')"),
        ([{"score": 0.5}], "a label is not a non-empty string (None)"),
        ([{"label": 3, "score": 0.5}], "a label is not a non-empty string (3)"),
        ([{"label": "cat"}, {"label": "dog"}], "label 'cat' has score None, not a number in [0, 1]"),
    ],
)
def test_labels_without_valid_scores_are_rejected(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.LABELS, output)
    assert (verdict.ok, verdict.detail) == (False, detail)


@pytest.mark.parametrize("output", ["POSITIVE", None, 0.5, [0.1, 0.2], {"label": "a", "confidences": "high"}])
def test_outputs_that_are_not_labels_are_unrecognized(output: object) -> None:
    verdict = judge_output(OutputKind.LABELS, output)
    assert (verdict.ok, verdict.kind) == (False, "unrecognized")


# --- ENTITIES ---------------------------------------------------------------------------------------
RAW_ENTITIES = [
    {"entity_group": "PER", "score": 0.98, "word": "Alice", "start": 0, "end": 5},
    {"entity_group": "PER", "score": 0.97, "word": "Bob", "start": 10, "end": 13},
    {"entity_group": "LOC", "score": 0.95, "word": "London", "start": 17, "end": 23},
]


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        (RAW_ENTITIES, "3 entities: PER 'Alice', PER 'Bob', LOC 'London'"),
        (json.dumps(RAW_ENTITIES), "3 entities: PER 'Alice', PER 'Bob', LOC 'London'"),
        ([{"entity": "B-PER", "score": 0.5, "word": "Al", "index": 1}], "1 entities: B-PER 'Al'"),
        (
            [{"token": "Alice", "class_or_confidence": "PER"}, {"token": " met ", "class_or_confidence": None}],
            "1 entities: PER 'Alice'",
        ),
        ([["Alice", "PER"], [" met ", None], ["Bob", "PER"]], "2 entities: PER 'Alice', PER 'Bob'"),
        ({"text": "Alice met Bob", "entities": [{"entity": "PER", "start": 0, "end": 5}]}, "1 entities: PER ''"),
        ([{"token": "great", "class_or_confidence": 0.8}], "1 entities: 0.8 'great'"),
        (
            [{"entity_group": "LABEL_1", "score": 0.5, "word": w} for w in "abcdef"],
            "6 entities: LABEL_1 'a', LABEL_1 'b', LABEL_1 'c', LABEL_1 'd', …",
        ),
    ],
)
def test_entities_in_pipeline_and_highlighted_text_formats_are_accepted(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.ENTITIES, output, input_text="Alice met Bob in London")
    assert (verdict.ok, verdict.kind, verdict.detail) == (True, "entities", detail)


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        ([], "an empty list: no entities"),
        ("[]", "an empty list: no entities"),
        ({"text": "x", "entities": []}, "an empty list: no entities"),
        ([["Alice met Bob", None]], "no labelled entities, only plain text spans"),
        ([{"entity_group": "PER", "score": 1.7, "word": "A"}], "entity 'PER' has score 1.7, not in [0, 1]"),
        ([{"entity_group": "PER", "score": float("nan")}], "entity 'PER' has score nan, not in [0, 1]"),
        ([{"score": 0.5, "word": "A"}], "an entity has no label (None)"),
        ([{"entity": "", "score": 0.5}], "an entity has no label ('')"),
        ([{"entity": "PER", "start": 9, "end": 2}], "malformed entity: entity 'PER' spans 9..2"),
        ([{"token": "x", "class_or_confidence": 3.5}], "malformed entity: span confidence 3.5"),
        ([42], "malformed entity: an entity is a int"),
    ],
)
def test_empty_or_malformed_entities_are_rejected(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.ENTITIES, output)
    assert (verdict.ok, verdict.detail) == (False, detail)


@pytest.mark.parametrize("output", [None, "Alice", {"entity": "PER"}, 3])
def test_outputs_that_are_not_entity_lists_are_unrecognized(output: object) -> None:
    verdict = judge_output(OutputKind.ENTITIES, output)
    assert (verdict.ok, verdict.kind) == (False, "unrecognized")


# --- EMBEDDING --------------------------------------------------------------------------------------
VECTOR = [math.sin(i) for i in range(32)]


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        (VECTOR, "a 32-dimensional vector"),
        ([1, 2, 3], "a 3-dimensional vector"),
        ([VECTOR[:8], VECTOR[8:16]], "2 vector(s) of 8 dimensions"),
        ([[VECTOR[:4], VECTOR[4:8], VECTOR[8:12]]], "an array of shape 1×3×4"),
        ({"embedding": VECTOR}, "a 32-dimensional vector"),
        ({"embeddings": [VECTOR, VECTOR]}, "2 vector(s) of 32 dimensions"),
        ({"headers": ["0", "1"], "data": [[0.1, 0.2]]}, "1 vector(s) of 2 dimensions"),
        (json.dumps(VECTOR), "a 32-dimensional vector"),
        ({"embedding": json.dumps(VECTOR)}, "a 32-dimensional vector"),
        ([0.73], "a 1-dimensional vector"),
    ],
)
def test_numeric_vectors_are_accepted_with_their_shape(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.EMBEDDING, output, input_text="The cat sat on the mat.")
    assert (verdict.ok, verdict.kind, verdict.detail) == (True, "embedding", detail)


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        ([], "expected a numeric vector, got an empty list"),
        ([[]], "expected a numeric vector, got an empty list"),
        ([0.0] * 32, "all 32 values are zero"),
        ([0.5] * 8, "all 8 values are equal (0.5)"),
        ([0.1, float("nan")], "the embedding contains NaN or infinite values"),
        ([0.1, float("inf")], "the embedding contains NaN or infinite values"),
        ([0.1, 10**400], "the embedding contains NaN or infinite values"),
        ([[0.1, 0.2], [0.3]], "expected a numeric vector, got vectors of different lengths"),
        ([0.1, "0.2"], "expected a numeric vector, got a list mixing numbers and other values"),
        ([True, False], "expected a numeric vector, got a list mixing numbers and other values"),
        ({"embedding": None}, "expected a numeric vector, got a None where numbers were expected"),
    ],
)
def test_empty_zero_or_non_finite_vectors_are_rejected(output: object, detail: str) -> None:
    verdict = judge_output(OutputKind.EMBEDDING, output)
    assert (verdict.ok, verdict.detail) == (False, detail)


# --- IMAGE / AUDIO ----------------------------------------------------------------------------------
FILE_DATA = {
    "path": "/tmp/gradio/abc/image.png",
    "url": "http://127.0.0.1:7860/file=abc/image.png",
    "meta": {"_type": "gradio.FileData"},
}
PNG = _pil("PNG")


def _picture() -> bytes:
    """A 16×16 PNG that is not one flat colour: the image judge decodes and accepts it."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (16, 16), bytes((i * 37) % 256 for i in range(16 * 16 * 3))).save(buffer, "PNG")
    return buffer.getvalue()


PICTURE = _picture()


@pytest.mark.parametrize(
    "output",
    [
        "/tmp/gradio/abc/image.png",
        FILE_DATA,
        {"url": "https://x/y.png"},
        [FILE_DATA],
        [{"image": FILE_DATA, "caption": None}],
        ("/tmp/a.png", "seed 3"),
    ],
)
def test_an_image_file_is_accepted_when_its_bytes_are_an_image(output: object) -> None:
    """The file is found in whichever form the output names it, and decoded (issue 11: not only sniffed)."""
    ref = file_ref(first_of_tuple(output))
    assert ref is not None
    verdict = judge_output(OutputKind.IMAGE, output, input_text="a photo of a cat", files={ref: PICTURE})
    assert (verdict.ok, verdict.kind) == (True, "image")
    assert verdict.detail.startswith("a 16×16 image/png, 3 channel(s)")


@pytest.mark.parametrize(("name", "head", "media"), [m for m in MEDIA if m[2]], ids=[m[0] for m in MEDIA if m[2]])
def test_a_file_output_passes_only_for_its_own_media_family(name: str, head: bytes, media: str) -> None:
    """IMAGE wants image/*, AUDIO wants audio/* (so audio/webm is AUDIO's, video/webm and video/mp4 neither's);
    a file of its own family is then decoded, which these headers and 4-px flat images do not survive."""
    for kind, family in ((OutputKind.IMAGE, "image"), (OutputKind.AUDIO, "audio")):
        verdict = judge_output(kind, "/tmp/out.bin", files={"/tmp/out.bin": head})
        if media.startswith(family + "/"):
            assert not verdict.detail.endswith(f"not {family}")
            assert verdict.ok is (media == "audio/wav")  # only the WAV is a real (short, audible) file
        else:
            assert (verdict.ok, verdict.detail) == (False, f"the file is {media}, not {family}")


@pytest.mark.parametrize(
    ("output", "head", "detail"),
    [
        ("/tmp/out.png", None, "no file bytes to sniff"),
        ("/tmp/out.png", b"", "no file bytes to sniff"),
        ("/tmp/out.png", b"<html>oops</html>", "the file's bytes are no known media type (start 3c68746d6c3e6f6f)"),
        (None, PNG, "expected a file (path or URL), got None"),
        ("", PNG, "expected a file (path or URL), got str"),
        ({"meta": {}}, PNG, "expected a file (path or URL), got dict{meta}"),
        ([], PNG, "expected a file (path or URL), got list len=0"),
    ],
)
def test_a_file_output_without_sniffable_bytes_is_rejected(output: object, head: bytes | None, detail: str) -> None:
    verdict = judge_output(OutputKind.IMAGE, output, file_head=head)
    assert (verdict.ok, verdict.detail) == (False, detail)


# --- constant outputs -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "output", "probe", "head"),
    [
        (OutputKind.TEXT, "The end of the story.", "The end of the story.", None),
        (OutputKind.TEXT, {"generated_text": "same"}, {"generated_text": "same"}, None),
        (OutputKind.LABELS, GRADIO_LABEL, json.loads(json.dumps(GRADIO_LABEL)), None),
        (OutputKind.LABELS, {"a": 0.6, "b": 0.4}, {"b": 0.4, "a": 0.6}, None),
        (OutputKind.ENTITIES, RAW_ENTITIES, list(RAW_ENTITIES), None),
        (OutputKind.EMBEDDING, VECTOR, list(VECTOR), None),
        (OutputKind.IMAGE, FILE_DATA, dict(FILE_DATA), PICTURE),
    ],
)
def test_the_same_output_for_two_different_inputs_is_a_constant_placeholder(
    kind: OutputKind, output: object, probe: object, head: bytes | None
) -> None:
    files = {FILE_DATA["path"]: head} if head else None
    verdict = judge_output(
        kind, output, input_text="first input", files=files, probe_output=probe, probe_input_text="second input",
        probe_files=files,
    )
    assert (verdict.ok, verdict.detail) == (False, CONSTANT_DETAIL)


def test_a_classifier_whose_top_label_stays_but_whose_scores_move_is_not_constant() -> None:
    probe = {
        "label": "POSITIVE",
        "confidences": [{"label": "POSITIVE", "confidence": 0.51}, {"label": "NEGATIVE", "confidence": 0.49}],
    }
    verdict = judge_output(
        OutputKind.LABELS, GRADIO_LABEL, input_text="I loved it", probe_output=probe, probe_input_text="I hated it"
    )
    assert verdict.ok


@pytest.mark.parametrize(("kind", "output"), [(OutputKind.LABELS, GRADIO_LABEL), (OutputKind.TRANSCRIPT, " you")])
def test_with_image_or_audio_inputs_any_identical_probe_output_is_constant(kind: OutputKind, output: object) -> None:
    """No input text on either call (image classification, speech recognition): the probe is a different input."""
    verdict = judge_output(kind, output, probe_output=output)
    assert (verdict.ok, verdict.detail) == (False, CONSTANT_DETAIL)


def test_the_same_output_for_the_same_input_is_not_called_constant() -> None:
    verdict = judge_output(OutputKind.TEXT, "a cat", input_text="x", probe_output="a cat", probe_input_text="x")
    assert verdict.ok


def test_an_invalid_output_reports_its_own_fault_before_constancy() -> None:
    verdict = judge_output(OutputKind.TEXT, PROMPT, input_text=PROMPT, probe_output=PROMPT, probe_input_text="other")
    assert verdict.detail == "the output equals the input prompt (echo)"


# --- robustness -------------------------------------------------------------------------------------
class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        raise RuntimeError("no")


def _deep(n: int) -> object:
    value: object = [0.5]
    for _ in range(n):
        value = [value]
    return value


def _cycle() -> list[object]:
    loop: list[object] = []
    loop.append(loop)
    return loop


WEIRD = [
    None,
    object(),
    _Hostile(),
    b"\x89PNG",
    float("nan"),
    {1: 2, "a": 3},
    {None: None},
    _deep(5000),
    _cycle(),
    "x" * 2_000_000,
    ["x" * 1000] * 3,
    [{"entity": _Hostile(), "score": 0.5}],
    [{"word": _Hostile(), "entity": "A"}],
    {"label": _Hostile(), "confidences": [{"label": _Hostile(), "confidence": 0.5}]},
    [[[[[[]]]]]],
]


@pytest.mark.parametrize("input_text", ["a prompt", cast(str, _Hostile())], ids=["text", "hostile"])
@pytest.mark.parametrize("kind", list(OutputKind))
@pytest.mark.parametrize("output", WEIRD, ids=[f"weird{i}" for i in range(len(WEIRD))])
def test_judging_never_raises_and_keeps_the_detail_short(kind: OutputKind, output: object, input_text: str) -> None:
    """Whatever a generated app returns, the gate gets a verdict, never an exception (DESIGN §6)."""
    verdict = judge_output(
        kind, output, input_text=input_text, file_head=b"\x00", probe_output=output, probe_input_text="p"
    )
    assert len(verdict.detail) <= DETAIL_LIMIT
    assert verdict.detail


def test_the_kind_may_be_given_as_its_wire_value_and_an_unknown_kind_is_a_verdict() -> None:
    assert judge_output(cast(OutputKind, "text"), "a cat sat", input_text="x").ok
    verdict = judge_output(cast(OutputKind, "video"), "/tmp/a.mp4")
    assert (verdict.ok, verdict.detail) == (False, "no rule for output kind 'video'")


def test_a_huge_output_is_quoted_in_the_detail_only_in_part() -> None:
    verdict = judge_output(OutputKind.TEXT, "placeholder " + "x" * 100_000)
    assert not verdict.ok
    assert len(verdict.detail) <= DETAIL_LIMIT


# --- excerpt and describe_type ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("output", "limit", "expected"),
    [
        ({"label": "a"}, 500, '{"label": "a"}'),
        ("héllo\nworld", 500, '"héllo\\nworld"'),
        ("x" * 50, 10, '"xxxxxxxx…'),
        (b"\x00\x01\x02", 500, "<3 bytes>"),
        ([0.5] * 1000, 12, "[0.5, 0.5, …"),
        ("a\u2028b\x85c", 500, '"a\\u2028b\\u0085c"'),
        (_Hostile(), 500, "<_Hostile>"),
    ],
)
def test_excerpt_is_short_printable_json(output: object, limit: int, expected: str) -> None:
    assert excerpt(output, limit) == expected


@pytest.mark.parametrize("output", [_cycle(), _deep(5000), object(), {1: {2: 3}}, "x" * 1_000_000])
def test_excerpt_never_raises_and_respects_the_limit(output: object) -> None:
    text = excerpt(output, 80)
    assert 0 < len(text) <= 80
    assert text.isprintable()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("text", "str"),
        (None, "None"),
        (3, "int"),
        (b"abc", "bytes len=3"),
        (GRADIO_LABEL, "dict{label,confidences}"),
        (VECTOR, "list[float] len=32"),
        ([1, 2.5], "list[float] len=2"),
        ([VECTOR, VECTOR], "list[list[float]] len=2"),
        (RAW_ENTITIES, "list[dict] len=3"),
        ([], "list len=0"),
        (("a", "b"), "tuple[str] len=2"),
        (["a", 1], "list[mixed] len=2"),
        ({str(i): i for i in range(10)}, "dict{0,1,2,3,4,5,6,7,…}"),
    ],
)
def test_describe_type_names_type_and_shape(output: object, expected: str) -> None:
    assert describe_type(output) == expected


def test_every_output_kind_has_a_row_in_the_table_of_rules() -> None:
    """A new `OutputKind` adds a row to `OUTPUT_RULES`; `judge_output` looks the kind up there."""
    assert set(OUTPUT_RULES) == set(OutputKind)
