"""MCP content read back as gradio_client's output, so the API's judges read it (docs/architecture.md, "Every Space
is an MCP server"). The blocks are the shapes Gradio 6.31's `postprocess_output_data` writes (seen on a live app)."""

from __future__ import annotations

import base64

import pytest

from space_factory.domain.mcp_content import MAX_PARSED_CHARS, mcp_output
from space_factory.domain.outputs import judge_output
from space_factory.domain.tasks import OutputKind
from tests.support.media_samples import png_bytes, wav_bytes

BASE = "http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/abc/"




def _text(text: str) -> dict[str, object]:
    return {"type": "text", "text": text}


def test_a_label_comes_back_as_a_python_repr_and_is_judged_like_the_api_output() -> None:
    """gr.Label's value is `str(dict)`: single quotes, not JSON."""
    label = {"label": "POS", "confidences": [{"label": "POS", "confidence": 0.9}, {"label": "NEG", "confidence": 0.1}]}
    out = mcp_output([_text(str(label))], ["Label"])
    assert out.value == label and out.urls == [] and out.note is None
    assert judge_output(OutputKind.LABELS, out.value).ok


def test_text_components_keep_their_text_even_when_it_looks_like_data() -> None:
    """A generated text '[1, 2]' stays a string; a JSON component's '[1, 2]' is a list."""
    assert mcp_output([_text("[1, 2]")], ["Textbox"]).value == "[1, 2]"
    assert mcp_output([_text("[1, 2]")], ["JSON"]).value == [1, 2]
    assert mcp_output([_text("hello")], ["Json"]).value == "hello"  # a chat reply through gr.ChatInterface


def test_an_image_block_and_its_url_line_become_one_file_the_judge_decodes() -> None:
    """An image is an `image` block then `Image URL: …`; the URL names the inline bytes, nothing is fetched."""
    png = png_bytes()
    blocks = [{"type": "image", "data": base64.b64encode(png).decode(), "mimeType": "image/png"},
              _text(f"Image URL: {BASE}image.png")]
    out = mcp_output(blocks, ["Image"])
    assert out.value == f"{BASE}image.png" and out.files == {f"{BASE}image.png": png} and out.urls == []
    assert judge_output(OutputKind.IMAGE, out.value, files=out.files).ok


def test_an_audio_file_is_a_url_the_caller_fetches_then_the_judge_decodes() -> None:
    """Gradio writes a non-image file as its URL only; the bytes come from the app's origin (the checkup)."""
    out = mcp_output([_text(f"{BASE}audio.wav")], ["Audio"])
    assert out.value == f"{BASE}audio.wav" and out.urls == [f"{BASE}audio.wav"]
    assert not judge_output(OutputKind.AUDIO, out.value, files=out.files).ok  # nothing fetched: no bytes
    assert judge_output(OutputKind.AUDIO, out.value, files={out.urls[0]: wav_bytes()}).ok


def test_several_outputs_come_back_as_a_tuple_and_file_data_inside_a_value_becomes_its_url() -> None:
    """Object detection returns (detections JSON, AnnotatedImage): one value per returned component."""
    detections = [{"label": "cat", "score": 0.9, "box": {"xmin": 1, "ymin": 1, "xmax": 8, "ymax": 8}}]
    annotated = {"image": {"path": "/tmp/gradio/abc/image.png", "url": f"{BASE}image.png", "orig_name": "image.png",
                           "meta": {"_type": "gradio.FileData"}},
                 "annotations": [{"image": {"path": "/tmp/m.png", "url": f"{BASE}m.png", "orig_name": "m.png"},
                                  "label": "cat"}]}
    out = mcp_output([_text(str(detections)), _text(str(annotated))], ["JSON", "AnnotatedImage"])
    assert out.value == (detections, {"image": f"{BASE}image.png", "annotations": [{"image": f"{BASE}m.png",
                                                                                     "label": "cat"}]})
    assert out.urls == [f"{BASE}image.png", f"{BASE}m.png"]
    assert judge_output(OutputKind.DETECTIONS, out.value, image_size=(16, 16)).ok


@pytest.mark.parametrize("shape", [tuple, list])
def test_a_multi_output_result_in_one_block_is_split_into_its_outputs(shape: type) -> None:
    """Gradio's queued path gets one value for all outputs and writes one block: the repr of the outputs' tuple."""
    detections = [{"label": "cat", "score": 0.9, "box": {"xmin": 1, "ymin": 1, "xmax": 8, "ymax": 8}}]
    annotated = {"image": {"path": "/tmp/i.png", "url": f"{BASE}i.png", "orig_name": "i.png",
                           "meta": {"_type": "gradio.FileData"}}, "annotations": []}
    out = mcp_output([_text(str(shape([detections, annotated])))], ["JSON", "AnnotatedImage"])
    assert out.value == (detections, {"image": f"{BASE}i.png", "annotations": []}) and out.note is None
    assert out.urls == [f"{BASE}i.png"]
    assert judge_output(OutputKind.DETECTIONS, out.value, image_size=(16, 16)).ok


def test_the_other_mcp_block_kinds_are_read_too() -> None:
    """MCP's audio blocks, resource links and embedded blobs (Gradio 6.31 writes none, other servers may)."""
    wav = wav_bytes()
    out = mcp_output([{"type": "audio", "data": base64.b64encode(wav).decode(), "mimeType": "audio/wav"}], ["Audio"])
    assert out.value == "mcp:0" and out.files == {"mcp:0": wav}
    link = mcp_output([{"type": "resource_link", "uri": f"{BASE}a.wav", "name": "a"}], ["Audio"])
    assert link.value == f"{BASE}a.wav" and link.urls == [f"{BASE}a.wav"]
    blob = {"type": "resource", "resource": {"uri": "file:///a.wav", "blob": base64.b64encode(wav).decode()}}
    assert mcp_output([blob], ["Audio"]).files == {"file:///a.wav": wav}


def test_blocks_that_do_not_match_the_components_are_read_by_their_look_and_say_so() -> None:
    """A hand-written app may return more or fewer blocks than view_api's components."""
    out = mcp_output([_text("{'a': 1}"), _text("plain")], ["JSON"])
    assert out.value == ({"a": 1}, "plain") and out.note == "2 output value(s) for 1 returned component(s)"
    assert mcp_output([], ["Textbox"]).value is None


@pytest.mark.parametrize("text", [
    "{" * 100_000, "[" + "1," * (MAX_PARSED_CHARS // 2) + "1]", "{'a': __import__('os').system('x')}",
    "{'a': nan}", "(lambda: 1)()",
])
def test_hostile_or_huge_text_stays_text_and_never_raises_or_runs(text: str) -> None:
    """The text is the app's (untrusted): it is parsed only as a literal, bounded, and kept as text otherwise."""
    assert mcp_output([_text(text)], ["JSON"]).value == text


def test_invalid_base64_and_odd_blocks_leave_no_bytes() -> None:
    """A block that does not decode gives no file: the judge then says it had no bytes."""
    out = mcp_output([{"type": "image", "data": "not base64!!"}, _text("Image URL: x")], ["Image"])
    assert out.value == "x" and out.files == {}
    assert not judge_output(OutputKind.IMAGE, out.value, files=out.files).ok
