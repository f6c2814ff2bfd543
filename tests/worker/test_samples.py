"""Sample inputs for the predict call and the probe: card text, or a PNG / WAV made with the stdlib
(docs/architecture.md, worker/samples.py; DESIGN §6: a probe with another input catches constants)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from PIL import Image

from space_factory.domain.media import sniff_media
from space_factory.domain.schemas import SampleInput
from space_factory.domain.tasks import TASKS, InputKind
from space_factory.worker.samples import Sample, pick_samples, write_png, write_wav

TEXT_TASKS = sorted(task for task, spec in TASKS.items() if spec.input_kind is InputKind.TEXT)


def test_write_png_makes_a_valid_rgb_png_of_the_asked_size(tmp_path: Path) -> None:
    """A synthetic image, decodable by a real image library (PIL)."""
    path = write_png(tmp_path / "a.png", 64, 48, seed=3)
    with Image.open(path) as image:
        image.load()
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (64, 48))
        assert any(low != high for low, high in image.getextrema())  # a pattern, not a flat colour


def test_write_png_differs_by_seed_and_is_deterministic(tmp_path: Path) -> None:
    """The probe image differs from the main one; the same seed gives the same bytes."""
    one = write_png(tmp_path / "1.png", seed=1).read_bytes()
    assert one == write_png(tmp_path / "1b.png", seed=1).read_bytes()
    assert one != write_png(tmp_path / "2.png", seed=2).read_bytes()


def test_write_wav_makes_a_valid_mono_16_bit_wav(tmp_path: Path) -> None:
    """A synthetic sound, readable by the stdlib wave module, of the asked length."""
    path = write_wav(tmp_path / "a.wav", seconds=0.5, rate=8000, freq=300.0)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 4000)
        frames = w.readframes(w.getnframes())
    assert len(set(frames)) > 2  # a tone, not silence


def test_synthetic_media_is_recognised_by_the_gates_own_sniffer(tmp_path: Path) -> None:
    """The gate sniffs bytes (DESIGN §6); the factory's own samples must pass that sniff."""
    assert sniff_media(write_png(tmp_path / "a.png").read_bytes()[:64]) is not None
    assert sniff_media(write_wav(tmp_path / "a.wav").read_bytes()[:64]) is not None


def test_image_tasks_get_two_different_pngs(tmp_path: Path) -> None:
    """Image tasks: a PNG sample and a different PNG probe (DESIGN §6: constants are caught)."""
    main, probe = pick_samples(TASKS["image-classification"], [SampleInput(src="https://x/cat.png")], tmp_path)
    assert main.text is None and main.file is not None and probe.file is not None
    assert main.file.read_bytes() != probe.file.read_bytes()
    for sample in (main, probe):
        with Image.open(sample.file) as image:  # type: ignore[arg-type]
            assert image.format == "PNG"
    assert main.file.parent == tmp_path  # widget URLs are never fetched


def test_audio_tasks_get_two_different_wavs(tmp_path: Path) -> None:
    """Audio tasks: a WAV sample and a different WAV probe."""
    main, probe = pick_samples(TASKS["automatic-speech-recognition"], [], tmp_path / "new")
    assert main.file is not None and probe.file is not None
    assert main.file.read_bytes() != probe.file.read_bytes()
    with wave.open(str(probe.file), "rb") as w:
        assert w.getnframes() > 0


@pytest.mark.parametrize("task", TEXT_TASKS)
def test_text_tasks_use_the_default_text_and_a_different_probe(task: str, tmp_path: Path) -> None:
    """No card sample: the task's default text; the probe always differs from the main input."""
    main, probe = pick_samples(TASKS[task], [], tmp_path)
    assert main.text == (TASKS[task].default_text or "Hello") and main.origin == "default"
    assert probe.text and probe.text != main.text


def test_the_cards_first_example_is_the_main_sample_and_its_second_the_probe(tmp_path: Path) -> None:
    """Card widget text is the sample when present (DESIGN §4 model_card_analysis sample inputs)."""
    card = [SampleInput(src="https://x/y.png"), SampleInput(text="The card says hi"),
            SampleInput(source_sentence="A second sentence")]
    main, probe = pick_samples(TASKS["text-generation"], card, tmp_path)
    assert (main.text, main.origin) == ("The card says hi", "card")
    assert probe.text == "A second sentence"


def test_a_card_repeating_its_example_still_gets_a_different_probe(tmp_path: Path) -> None:
    """Identical examples would hide a constant output: the probe falls back to the task's probe text."""
    spec = TASKS["text-classification"]
    main, probe = pick_samples(spec, [SampleInput(text="same"), SampleInput(text="same")], tmp_path)
    assert main.text == "same" and probe.text == spec.probe_text
    spec_probe = spec.probe_text or ""
    main, probe = pick_samples(spec, [SampleInput(text=spec_probe)], tmp_path)
    assert main.text == spec_probe and probe.text and probe.text != main.text


def test_describe_names_text_by_value_and_files_by_name() -> None:
    """The predict call's input summary (tests/test_result.json) shows text, or a file name, never a path."""
    assert Sample(text="x" * 300).describe() == repr("x" * 200)
    assert Sample(file=Path("/tmp/secret/dir/sample.png")).describe() == "file sample.png"


def test_a_zero_shot_image_sample_carries_the_cards_labels_and_its_image_size(tmp_path: Path) -> None:
    """Issue 11: the labels go to a text box as one "a, b" string; the size lets the judges hold boxes and masks
    to the image that was sent."""
    from space_factory.domain.tasks import InputSlot

    card = [SampleInput(src="https://example.invalid/cat.png", candidate_labels=["a cat", "a bird"])]
    sample, probe = pick_samples(TASKS["zero-shot-image-classification"], card, tmp_path)
    assert sample.value(InputSlot.CANDIDATE_LABELS) == probe.value(InputSlot.CANDIDATE_LABELS) == "a cat, a bird"
    assert sample.value(InputSlot.IMAGE) == sample.file and sample.file is not None
    with Image.open(sample.file) as first, Image.open(probe.file or "") as second:
        assert (sample.image_size, probe.image_size) == (first.size, second.size) == ((64, 48), (40, 40))
    assert "with labels 'a cat, a bird'" in sample.describe()
    default, _ = pick_samples(TASKS["zero-shot-image-classification"], [], tmp_path / "default")
    assert default.candidate_labels == TASKS["zero-shot-image-classification"].default_labels
    detection, _ = pick_samples(TASKS["object-detection"], [], tmp_path / "detection")
    assert detection.candidate_labels is None and detection.image_size == (64, 48)
