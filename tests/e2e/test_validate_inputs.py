"""`space-factory validate` fills every input of endpoints it did not generate (issue 11): a hand-written Gradio app
whose endpoints take two required inputs — an image and candidate labels as one comma-separated string (in either
order), a text and its candidate labels, a question and its context — is called with each input mapped by
component type and parameter name, and gated on what it answers. Before, the endpoint chooser refused any
endpoint with more than one required input, so such apps could only be `health_only`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.cli_helpers import cli
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

# Small honest apps: each answer is computed from every input (no model, but no constant either).
HAND_WRITTEN_APP = '''
import math
import os

import gradio as gr
import numpy as np


def _softmax(values):
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def _split(labels):
    return [label.strip() for label in labels.split(",") if label.strip()]


def picture_labels(labels: str, picture: np.ndarray) -> dict:
    """Scores each label by how its letters meet the picture's colours (labels first, then the image)."""
    means = picture.reshape(-1, picture.shape[-1]).mean(axis=0)
    names = _split(labels)
    raw = [float(means[i % len(means)]) / 64 + len(name) / 7 for i, name in enumerate(names)]
    return dict(zip(names, _softmax(raw)))


def text_labels(text: str, candidate_labels: str) -> dict:
    names = _split(candidate_labels)
    raw = [sum(text.lower().count(c) for c in set(name.lower())) / 5 for name in names]
    return dict(zip(names, _softmax(raw)))


def answer(question: str, context: str) -> dict:
    """The sentence word sharing most letters with the question: always a span of the context."""
    words = [w.strip(".,") for w in context.split() if w.strip(".,")]
    best = max(words, key=lambda w: (len(set(w.lower()) & set(question.lower())), len(w)))
    start = context.index(best)
    return {"answer": best, "score": 0.5, "start": start, "end": start + len(best)}


def stub_labels(picture: np.ndarray, labels: str) -> dict:
    """Ignores the labels it is given: the gate must refuse it."""
    return {"cat": 0.7, "dog": 0.3}


with gr.Blocks() as demo:
    image = gr.Image()
    labels = gr.Textbox(label="Labels (comma-separated)")
    text = gr.Textbox(label="Text")
    question = gr.Textbox(label="Question")
    context = gr.Textbox(label="Context")
    label_out = gr.Label()
    json_out = gr.JSON()
    mode = os.environ["APP_MODE"]
    if mode == "honest":
        gr.Button("image").click(picture_labels, [labels, image], label_out, api_name="classify_image")
        gr.Button("text").click(text_labels, [text, labels], label_out, api_name="classify_text")
        gr.Button("qa").click(answer, [question, context], json_out, api_name="answer")
    else:
        gr.Button("stub").click(stub_labels, [image, labels], label_out, api_name="classify_image")

demo.launch(server_name="127.0.0.1", server_port=int(os.environ["PORT"]))
'''


def _serve(folder: os.PathLike[str], mode: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=folder,
                            env={**os.environ, "PORT": str(port), "APP_MODE": mode},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            return httpx.get(url + "config", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    try:
        wait_until(up, 120, f"the hand-written app ({mode})")
        assert proc.poll() is None, "the hand-written app exited"
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def honest_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("hand_written")
    (folder / "app.py").write_text(HAND_WRITTEN_APP)
    yield from _serve(folder, "honest")


@pytest.fixture(scope="module")
def stub_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("hand_written_stub")
    (folder / "app.py").write_text(HAND_WRITTEN_APP)
    yield from _serve(folder, "stub")


@pytest.mark.parametrize(("task", "endpoint", "slots"), [
    # The labels come first and the image second: inputs are mapped by component and name, not position.
    ("zero-shot-image-classification", "/classify_image", {"labels": "candidate_labels", "picture": "image"}),
    ("zero-shot-classification", "/classify_text", {"text": "text", "candidate_labels": "candidate_labels"}),
    ("question-answering", "/answer", {"question": "text", "context": "context"}),
])
def test_validate_fills_both_required_inputs_of_a_hand_written_endpoint(honest_app: str, task: str, endpoint: str,
                                                                        slots: dict[str, str]) -> None:
    code, gate, _ = cli("validate", honest_app, "--task", task)
    assert gate["status"] == "full_inference_passed", gate
    assert code == 0
    checks = {c["name"]: c for c in gate["checks"]}
    assert checks["api_schema"]["detail"].endswith(f"chose {endpoint}")
    assert checks["output_valid"]["status"] == "passed"
    assert gate["how_to_call"]["api_name"] == endpoint
    for name in slots:  # the snippet passes every input by its parameter name
        assert f"{name}=" in gate["how_to_call"]["python"]


def test_an_endpoint_that_ignores_the_given_labels_is_health_only(stub_app: str) -> None:
    """Filled correctly, the stub answers labels other than those given: never passed."""
    code, gate, _ = cli("validate", stub_app, "--task", "zero-shot-image-classification")
    assert code == 3
    assert gate["status"] == "health_only"
    output = {c["name"]: c for c in gate["checks"]}["output_valid"]
    assert output["status"] == "failed" and "labels other than those given" in output["detail"]
