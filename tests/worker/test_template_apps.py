"""Generated apps, served for real: tiny random-weight models in a temporary HF cache, `python app.py`
as a subprocess on 127.0.0.1, `GET /health`, then the real gradio_client calling `/predict`.

Where the rules come from: DESIGN §6 (an output valid for the task) and §10.5 (offline end to end).
Everything HF-related runs in subprocesses whose environment sets HF_HOME and HF_HUB_OFFLINE before any
HF import (reference/tiny-models.md, pitfall P1); a sitecustomize network guard in those subprocesses
refuses and logs every non-loopback connection, and the tests assert it never fired.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from space_factory.domain.schemas import ModelCardAnalysis, RuntimeRecommendation, SampleInput
from space_factory.worker.generate import API_NAME, generate_app
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.1
BUILD_TIMEOUT_SECONDS = 600
GUARD_MARK = "[guard] BLOCKED"
CPU_PLAN = RuntimeRecommendation(primary="cpu-basic")
FAKE_SPACES_MARK = "[fake-spaces] GPU wraps"
ZEROGPU_PLAN = RuntimeRecommendation(primary="zero-a10g", needs_gpu=True, zerogpu_eligible=True)
# Refuses and logs every non-loopback DNS lookup and connect (reference/tiny-models.md §7.3).
GUARD_SOURCE = '''
import socket, sys
_LOCAL = ("127.", "localhost", "::1", "0.0.0.0")
def _is_local(host):
    return host is None or str(host).startswith(_LOCAL)
_gai, _conn = socket.getaddrinfo, socket.socket.connect
def getaddrinfo(host, *a, **k):
    if not _is_local(host):
        sys.stderr.write(f"[guard] BLOCKED DNS lookup {host}\\n")
        raise socket.gaierror(f"[guard] blocked {host}")
    return _gai(host, *a, **k)
def connect(self, addr):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(addr[0]):
        sys.stderr.write(f"[guard] BLOCKED connect {addr}\\n")
        raise OSError(f"[guard] blocked {addr}")
    return _conn(self, addr)
socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
'''
# A stand-in for the ZeroGPU `spaces` package: spaces.GPU as a pass-through that reports what it wraps.
FAKE_SPACES_SOURCE = '''
import sys
def GPU(fn=None, **options):
    if fn is None:
        return lambda f: GPU(f, **options)
    sys.stderr.write(f"[fake-spaces] GPU wraps {fn.__name__}\\n")
    return fn
'''


@dataclass(frozen=True)
class Case:
    """One task served by one tiny model, with the input to send and the check of the output."""

    task: str
    model: str
    inputs: Callable[[Path], list[Any]]
    check: Callable[[Any, list[Any]], None]
    sample: str | None = None
    extra: Callable[[Any, Path], None] | None = None  # more calls on the same running app (client, tmp)
    zerogpu: bool = False  # generate for a ZeroGPU plan instead of cpu-basic
    fake_spaces: bool = False  # put a stand-in `spaces` package on the app's path, as on a ZeroGPU Space


@dataclass(frozen=True)
class TinyCache:
    hf_home: Path
    repos: dict[str, str]
    env: dict[str, str]
    fake_spaces: Path


# --- inputs -----------------------------------------------------------------------------------------


def _text(value: str) -> Callable[[Path], list[Any]]:
    return lambda _tmp: [value]


def _png(tmp: Path) -> list[Any]:
    from gradio_client import handle_file
    from PIL import Image

    pixels = bytes((x * 7 + y * 3) % 256 for y in range(48) for x in range(64 * 3))
    path = tmp / "sample.png"
    Image.frombytes("RGB", (64, 48), pixels).save(path)
    return [handle_file(str(path))]


def write_wav(path: Path, *, seconds: float = 1.0, rate: int = 16000, channels: int = 1) -> Path:
    """A 16-bit PCM tone, written with the stdlib `wave` module."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        sample = int(0.3 * 32767 * math.sin(2 * math.pi * 440 * i / rate))
        frames += sample.to_bytes(2, "little", signed=True) * channels
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def _wav(tmp: Path) -> list[Any]:
    from gradio_client import handle_file

    return [handle_file(str(write_wav(tmp / "sample.wav")))]


# --- output checks ----------------------------------------------------------------------------------


def _is_generated_text(output: Any, inputs: list[Any]) -> None:
    assert isinstance(output, str) and output.strip(), f"empty generation: {output!r}"
    assert output.strip() != str(inputs[0]).strip(), "the output echoes the prompt"


def _is_label_dict(output: Any, _inputs: list[Any]) -> None:
    # gr.Label, as gradio_client returns it: {"label": best, "confidences": [{"label", "confidence"}, ...]}
    assert isinstance(output, dict) and set(output) == {"label", "confidences"}, output
    confidences = output["confidences"]
    assert confidences and all(0.0 <= c["confidence"] <= 1.0 for c in confidences)
    assert output["label"] == max(confidences, key=lambda c: c["confidence"])["label"]


def _is_entity_list(output: Any, _inputs: list[Any]) -> None:
    assert isinstance(output, list) and output, f"no entities: {output!r}"
    for entity in output:
        assert set(entity) == {"entity_group", "score", "word", "start", "end"}
        assert isinstance(entity["score"], float) and 0.0 <= entity["score"] <= 1.0
        assert isinstance(entity["start"], int) and isinstance(entity["end"], int)


def _is_embedding(output: Any, _inputs: list[Any]) -> None:
    assert isinstance(output, list) and output and all(isinstance(x, float) for x in output)
    assert math.isclose(math.sqrt(sum(x * x for x in output)), 1.0, rel_tol=1e-4)  # L2-normalised


def _is_transcript(output: Any, _inputs: list[Any]) -> None:
    assert isinstance(output, str)


def _fill_mask_spellings(client: Any, _tmp: Path) -> None:
    """The template maps "<mask>" to the model's mask token, and explains a text without a mask."""
    from gradio_client.exceptions import AppError

    _is_label_dict(client.predict("the cat sat on the <mask>", api_name=API_NAME), [])
    with pytest.raises(AppError) as info:
        client.predict("the cat sat on the mat", api_name=API_NAME)
    assert "[MASK]" in str(info.value)


def _stereo_at_another_rate(client: Any, tmp: Path) -> None:
    """Audio is read with soundfile and resampled with numpy: a 22.05 kHz stereo WAV needs no ffmpeg."""
    from gradio_client import handle_file

    wav = write_wav(tmp / "stereo.wav", seconds=0.7, rate=22050, channels=2)
    _is_transcript(client.predict(handle_file(str(wav)), api_name=API_NAME), [])


CASES = [
    Case("text-generation", "tiny-gpt2", _text("the cat sat"), _is_generated_text, "the cat sat"),
    Case("text2text-generation", "tiny-t5", _text("summarize: the cat sat"), _is_generated_text),
    # A ZeroGPU plan must still run on a CPU machine without the `spaces` package...
    Case("text-classification", "tiny-bert-cls", _text("this movie was great"), _is_label_dict, zerogpu=True),
    # ...and, with `spaces` present, wrap predict and serve through demo.launch with /health added.
    Case("token-classification", "tiny-bert-ner", _text("alice met bob in london"), _is_entity_list,
         zerogpu=True, fake_spaces=True),
    Case("fill-mask", "tiny-bert-mlm", _text("the cat sat on the [MASK]"), _is_label_dict,
         extra=_fill_mask_spellings),
    Case("sentence-similarity", "tiny-st", _text("the cat sat"), _is_embedding, "the cat sat"),
    Case("image-classification", "tiny-vit", _png, _is_label_dict),
    Case("automatic-speech-recognition", "tiny-wav2vec2", _wav, _is_transcript, extra=_stereo_at_another_rate),
]


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> TinyCache:
    """The 8 tiny models in a fresh HF cache of their own, built in a subprocess behind the network guard."""
    root = tmp_path_factory.mktemp("tiny_cache")
    hf_home, guard, fake_spaces = root / "hf_home", root / "guard", root / "fake_spaces"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD_SOURCE)
    fake_spaces.mkdir()
    (fake_spaces / "spaces.py").write_text(FAKE_SPACES_SOURCE)
    env = {
        **os.environ,
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": str(guard),
    }
    build = subprocess.run(
        [sys.executable, "-c", "import json, sys; from tests.support.tiny_models import build_all; "
         "print(json.dumps(build_all(sys.argv[1])))", str(hf_home)],
        cwd=REPO_ROOT,
        env={**env, "PYTHONPATH": os.pathsep.join([str(guard), str(REPO_ROOT)])},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    assert build.returncode == 0, f"building the tiny models failed:\n{build.stderr[-4000:]}"
    assert GUARD_MARK not in build.stderr
    repos = json.loads(build.stdout.strip().splitlines()[-1])
    return TinyCache(hf_home=hf_home, repos=repos, env=env, fake_spaces=fake_spaces)


@contextmanager
def serve(app_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """Run `python app.py` on a free loopback port until GET /health answers 200; yield the base URL.

    The process is always terminated. If it exits or never becomes healthy, the test fails with its log.
    """
    port = free_port()
    log_path = app_dir / "app.log"
    env = {**env, "PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app exited with {proc.returncode} before /health:\n{_tail(log_path)}")
            try:
                if httpx.get(url + "health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"/health did not answer 200 within {BOOT_TIMEOUT_SECONDS} s:\n{_tail(log_path)}")
            time.sleep(POLL_SECONDS)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert GUARD_MARK not in log_path.read_text(errors="replace"), _tail(log_path)


def _tail(path: Path, limit: int = 6000) -> str:
    return path.read_text(errors="replace")[-limit:]


# --- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.task for c in CASES])
def test_generated_app_boots_and_serves_real_inference(
    case: Case, tiny_cache: TinyCache, tmp_path: Path
) -> None:
    """DESIGN §6: /health answers, and /predict returns an output of the task's shape."""
    from gradio_client import Client

    repo = tiny_cache.repos[case.model]
    samples = [SampleInput(text=case.sample)] if case.sample else []
    analysis = ModelCardAnalysis(model=repo, task=case.task, license="apache-2.0", sample_inputs=samples)
    app = generate_app(analysis, ZEROGPU_PLAN if case.zerogpu else CPU_PLAN, tmp_path / "app")
    env = dict(tiny_cache.env)
    if case.fake_spaces:
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tiny_cache.fake_spaces)])

    with serve(app.directory, env) as url:
        health = httpx.get(url + "health", timeout=5).json()
        assert health == {"status": "ok", "model": repo, "task": case.task, "model_loaded": True}

        client = Client(url, verbose=False)
        assert API_NAME in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        inputs = case.inputs(tmp_path)
        output = client.predict(*inputs, api_name=API_NAME)
        print(f"\n{case.task}: {output!r}"[:600])
        case.check(output, inputs)
        if case.extra is not None:
            case.extra(client, tmp_path)
    wrapped = FAKE_SPACES_MARK + " predict" in (app.directory / "app.log").read_text(errors="replace")
    assert wrapped == case.fake_spaces
