"""Issue 11, text and generation tasks: the judges of chat replies, extractive answers and zero-shot labels (with
the near-misses each must refuse), the probe's multi-call checks, task detection (chat templates, vision-language,
NLI heads, diffusers pipelines), the diffusers memory plan and the sample inputs of the new tasks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from space_factory.domain.analysis import analyze_card
from space_factory.domain.outputs import CONSTANT_DETAIL, judge_output
from space_factory.domain.recommend import recommend_runtime
from space_factory.domain.schemas import FileEntry, ModelCardAnalysis, ModelFacts, RuntimeRecommendation, SampleInput
from space_factory.domain.tasks import CHAT_SPEC, OutputKind, task_spec
from space_factory.worker.checkup import _inputs_differ, _output_files
from space_factory.worker.generate import generate_app
from space_factory.worker.samples import Sample, pick_samples

CONTEXT = "Alice lives in London with her cat. She works as a doctor."
LABELS = ("cinema", "politics", "sport")


# --- chat --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("output", "ok", "detail"), [
    ("Hello! I can help with many things.", True, "a reply of"),
    ({"role": "assistant", "content": "Hi there"}, True, "a reply of 8"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}], True,
     "a reply of 2"),
    ("", False, "empty"),
    ("   ", False, "empty"),
    ("Hello! What can you do?", False, "repeats the user's message"),
    ("  hello!   what can YOU do? ", False, "repeats the user's message"),  # spacing and case aside
    ("TODO", False, "placeholder"),
    ({"role": "assistant", "content": None}, False, "expected a chat reply"),
    (42, False, "expected a chat reply"),
])
def test_chat_judge_table(output: object, ok: bool, detail: str) -> None:
    verdict = judge_output(OutputKind.CHAT, output, input_text="Hello! What can you do?")
    assert (verdict.ok, detail in verdict.detail) == (ok, True), verdict.detail


def test_a_chat_reply_constant_across_two_conversations_is_refused() -> None:
    verdict = judge_output(OutputKind.CHAT, "I am a bot.", input_text="hi", probe_output="I am a bot.",
                           probe_input_text="what is 2+2?")
    assert not verdict.ok and verdict.detail == CONSTANT_DETAIL
    assert judge_output(OutputKind.CHAT, "I am a bot.", input_text="hi", probe_output="Four.",
                        probe_input_text="what is 2+2?").ok


# --- extractive question answering -------------------------------------------------------------------
@pytest.mark.parametrize(("output", "ok", "detail"), [
    ({"answer": "London", "score": 0.9, "start": 15, "end": 21}, True, "a span of the context"),
    ({"answer": "london", "score": 0.4}, True, "a span"),  # an uncased tokenizer's decode
    ([{"answer": "a doctor", "score": 0.3}, {"answer": "cat", "score": 0.1}], True, "'a doctor'"),
    ('{"answer": "her cat", "score": 0.2}', True, "'her cat'"),
    ({"answer": "Paris", "score": 0.9}, False, "not a span of the context"),
    ({"answer": "London", "score": 0.9, "start": 0, "end": 6}, False, "do not point at the answer"),
    ({"answer": "London", "score": 0.9, "start": 15, "end": 999}, False, "do not point at the answer"),
    ({"answer": CONTEXT, "score": 0.9}, False, "the whole context"),
    ({"answer": "", "score": 0.9}, False, "empty"),
    ({"answer": "London"}, False, "no score"),
    ({"answer": "London", "score": 1.5}, False, "not a number in [0, 1]"),
    ({"answer": "London", "score": True}, False, "not a number in [0, 1]"),
    ("London", False, "no score"),
    ({"text": "London"}, False, "no answer string"),
    (None, False, "expected an answer"),
])
def test_answer_judge_table(output: object, ok: bool, detail: str) -> None:
    verdict = judge_output(OutputKind.ANSWER, output, input_text="Where does Alice live?", context=CONTEXT)
    assert (verdict.ok, detail in verdict.detail) == (ok, True), verdict.detail


def test_the_probe_answer_must_be_a_span_of_the_probe_context_and_differ() -> None:
    probe_context = "Paris is the capital of France."
    sample = {"answer": "London", "score": 0.5}
    passed = judge_output(OutputKind.ANSWER, sample, input_text="q1", context=CONTEXT, probe_input_text="q2",
                          probe_output={"answer": "Paris", "score": 0.4}, probe_context=probe_context)
    assert passed.ok, passed.detail
    # A stub answering "London" whatever it is asked: not in the probe's passage.
    stub = judge_output(OutputKind.ANSWER, sample, input_text="q1", context=CONTEXT, probe_input_text="q2",
                        probe_output={"answer": "London", "score": 0.5}, probe_context=probe_context)
    assert not stub.ok and "second call" in stub.detail and "not a span" in stub.detail
    # The same answer to two passages that both hold it is the constant check's to refuse.
    both = judge_output(OutputKind.ANSWER, sample, input_text="q1", context=CONTEXT, probe_input_text="q2",
                        probe_output={"answer": "london", "score": 0.1}, probe_context="London is big.")
    assert not both.ok and both.detail == CONSTANT_DETAIL


# --- zero-shot classification ------------------------------------------------------------------------
def _label(scores: dict[str, float]) -> dict[str, object]:
    best = max(scores, key=lambda k: scores[k])
    return {"label": best, "confidences": [{"label": k, "confidence": v} for k, v in scores.items()]}


@pytest.mark.parametrize(("output", "ok", "detail"), [
    (_label({"cinema": 0.7, "politics": 0.2, "sport": 0.1}), True, "3 candidate labels scored, top 'cinema'"),
    ({"sequence": "x", "labels": ["sport", "cinema", "politics"], "scores": [0.5, 0.3, 0.2]}, True, "top 'sport'"),
    ({"cinema": 0.34, "politics": 0.33, "sport": 0.33}, True, "scored"),
    (_label({"cinema": 0.7, "politics": 0.3}), False, "missing: sport"),
    (_label({"cinema": 0.5, "politics": 0.2, "sport": 0.1, "weather": 0.2}), False, "other than those given: weather"),
    (_label({"POSITIVE": 0.6, "NEGATIVE": 0.4}), False, "other than those given"),
    (_label({"cinema": 0.9, "politics": 0.9, "sport": 0.9}), False, "sum to 2.7"),
    (_label({"cinema": 1.2, "politics": 0.0, "sport": 0.0}), False, "not a number in [0, 1]"),
    ({"label": "cinema"}, False, "not a number"),  # a bare label: zero-shot needs the scores
    ({"labels": ["cinema", "sport"], "scores": [0.5]}, False, "2 labels but 1 scores"),
    ([{"label": "cinema", "score": 0.5}, {"label": "cinema", "score": 0.5}], False, "appears twice"),
    ("cinema", False, "expected labels"),
])
def test_zero_shot_judge_table(output: object, ok: bool, detail: str) -> None:
    verdict = judge_output(OutputKind.ZERO_SHOT, output, input_text="I loved it", candidate_labels=LABELS,
                           single_label=True)
    assert (verdict.ok, detail in verdict.detail) == (ok, True), verdict.detail


def test_zero_shot_scores_need_not_sum_to_one_when_the_task_cannot_tell() -> None:
    sigmoid = _label({"cinema": 0.9, "politics": 0.8, "sport": 0.1})  # SigLIP / multi-label
    assert judge_output(OutputKind.ZERO_SHOT, sigmoid, candidate_labels=LABELS, single_label=None).ok
    assert not judge_output(OutputKind.ZERO_SHOT, sigmoid, candidate_labels=LABELS, single_label=True).ok


def test_zero_shot_scores_that_do_not_move_between_texts_are_constant() -> None:
    scores = _label({"cinema": 0.5, "politics": 0.3, "sport": 0.2})
    verdict = judge_output(OutputKind.ZERO_SHOT, scores, input_text="a", candidate_labels=LABELS, single_label=True,
                           probe_output=scores, probe_input_text="b")
    assert not verdict.ok and verdict.detail == CONSTANT_DETAIL


# --- the probe: files and inputs ---------------------------------------------------------------------
def test_file_outputs_are_compared_by_bytes_not_by_their_temporary_paths(tmp_path: Path) -> None:
    from PIL import Image

    def png(name: str, colour: tuple[int, int, int]) -> bytes:
        image = Image.new("RGB", (32, 32), colour)
        for x in range(32):
            image.putpixel((x, x), (255 - colour[0], 0, x * 8))
        image.save(tmp_path / name)
        return (tmp_path / name).read_bytes()

    one, other = png("a.png", (10, 200, 30)), png("b.png", (200, 10, 90))
    kwargs = {"input_text": "a cat", "probe_input_text": "a dog"}
    same = judge_output(OutputKind.IMAGE, "/d/1/image.png", files={"/d/1/image.png": one},
                        probe_output="/d/2/image.png", probe_files={"/d/2/image.png": one}, **kwargs)
    assert not same.ok and same.detail == CONSTANT_DETAIL
    differ = judge_output(OutputKind.IMAGE, "/d/1/image.png", files={"/d/1/image.png": one},
                          probe_output="/d/2/image.png", probe_files={"/d/2/image.png": other}, **kwargs)
    assert differ.ok, differ.detail


def test_a_vlm_probe_with_the_same_prompt_but_another_image_is_still_compared() -> None:
    kwargs = {"input_text": "Describe this image.", "probe_input_text": "Describe this image."}
    assert judge_output(OutputKind.TEXT, "a cat", probe_output="a cat", **kwargs).ok  # today's text rule
    refused = judge_output(OutputKind.TEXT, "a cat", probe_output="a cat", inputs_differ=True, **kwargs)
    assert not refused.ok and refused.detail == CONSTANT_DETAIL


def test_the_checkup_tells_whether_two_samples_differ(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"one")
    (tmp_path / "b.png").write_bytes(b"two")
    (tmp_path / "c.png").write_bytes(b"one")
    prompt = "Describe this image."
    assert _inputs_differ(Sample(text=prompt, file=tmp_path / "a.png"), Sample(text=prompt, file=tmp_path / "b.png"))
    assert not _inputs_differ(Sample(text=prompt, file=tmp_path / "a.png"),
                              Sample(text=prompt, file=tmp_path / "c.png"))
    assert _inputs_differ(Sample(text="q", context="x"), Sample(text="q", context="y"))
    assert not _inputs_differ(Sample(text="q", candidate_labels=LABELS), Sample(text="q", candidate_labels=LABELS))


def test_the_checkup_reads_only_files_gradio_client_downloaded(tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    (downloads / "h1").mkdir(parents=True)
    (downloads / "h2").mkdir()
    (downloads / "h1" / "image.webp").write_bytes(b"RIFF1")
    (downloads / "h2" / "image.webp").write_bytes(b"RIFF2")
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not yours")
    first, second = str(downloads / "h1" / "image.webp"), str(downloads / "h2" / "image.webp")
    output = {"image": {"path": first}, "annotations": [{"image": {"path": second}, "label": "cat"},
                                                          {"image": {"path": str(outside)}, "label": "x"}]}
    assert _output_files(output, downloads) == {first: b"RIFF1", second: b"RIFF2"}
    assert _output_files((first, "https://example.invalid/x.png", 3), downloads) == {first: b"RIFF1"}
    assert _output_files(str(downloads / ".." / "secret.txt"), downloads) == {}


# --- task detection and the memory plan --------------------------------------------------------------
def _facts(card: dict[str, object] | None = None, config: dict[str, object] | None = None,
           files: dict[str, int] | None = None, **extra: object) -> ModelFacts:
    listed = [FileEntry(path=p, size=s) for p, s in (files or {"model.safetensors": 1000}).items()]
    return ModelFacts(model="o/m", card_data=card or {}, config=config, files=listed, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(("facts", "chat"), [
    (_facts({"pipeline_tag": "text-generation"}, tokenizer_config={"chat_template": "{{ messages }}"}), True),
    (_facts({"pipeline_tag": "text-generation"},
            tokenizer_config={"chat_template": [{"name": "default", "template": "{{ m }}"}]}), True),
    (_facts({"pipeline_tag": "text-generation"}, files={"model.safetensors": 10, "chat_template.jinja": 1}), True),
    (_facts({"pipeline_tag": "text-generation"},
            files={"model.safetensors": 10, "additional_chat_templates/tool_use.jinja": 1}), True),
    (_facts({"pipeline_tag": "image-text-to-text"}, processor_config={"chat_template": "{{ messages }}"}), True),
    (_facts({"pipeline_tag": "text-generation"}, tokenizer_config={"chat_template": "  "}), False),
    (_facts({"pipeline_tag": "text-generation"}, tokenizer_config={"chat_template": 3}), False),
    (_facts({"pipeline_tag": "text-generation"}, tokenizer_config={}), False),
])
def test_a_chat_template_is_found_wherever_it_sits(facts: ModelFacts, chat: bool) -> None:
    analysis = analyze_card(facts)
    assert analysis.chat_template is chat
    spec = task_spec(analysis.task, chat_template=analysis.chat_template)
    assert spec is not None
    if analysis.task == "text-generation":
        assert (spec is CHAT_SPEC) is chat


@pytest.mark.parametrize(("config", "task"), [
    ({"architectures": ["LlavaForConditionalGeneration"], "vision_config": {}, "text_config": {}},
     "image-text-to-text"),
    ({"architectures": ["Qwen2VLForConditionalGeneration"], "vision_config": {}}, "image-text-to-text"),
    ({"architectures": ["BlipForConditionalGeneration"], "vision_config": {}}, "image-to-text"),
    ({"architectures": ["VisionEncoderDecoderModel"]}, "image-to-text"),
    ({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "entailment", "1": "neutral",
                                                                         "2": "contradiction"}},
     "zero-shot-classification"),
    ({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "NEG", "1": "POS"}},
     "text-classification"),
    ({"architectures": ["DistilBertForQuestionAnswering"]}, "question-answering"),
    ({"architectures": ["WhisperForConditionalGeneration"]}, "automatic-speech-recognition"),
])
def test_architectures_of_the_new_tasks_are_recognised(config: dict[str, object], task: str) -> None:
    assert (analyze_card(_facts(config=config)).task, analyze_card(_facts(config=config)).task_source) == (
        task, "architecture")


SD_INDEX = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
            "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
            "scheduler": ["diffusers", "DDIMScheduler"], "safety_checker": [None, None]}
SD_FILES = {"model_index.json": 500, "unet/diffusion_pytorch_model.safetensors": 3_400_000_000,
            "unet/diffusion_pytorch_model.fp16.safetensors": 1_700_000_000,
            "vae/diffusion_pytorch_model.safetensors": 330_000_000,
            "text_encoder/model.safetensors": 490_000_000, "safety_checker/model.safetensors": 1_200_000_000,
            "vae_ft_mse/diffusion_pytorch_model.safetensors": 330_000_000, "v1-5-pruned.safetensors": 7_000_000_000}


def test_a_diffusers_pipeline_counts_the_components_its_model_index_loads() -> None:
    analysis = analyze_card(_facts(files=SD_FILES, model_index=SD_INDEX))
    assert (analysis.task, analysis.library) == ("text-to-image", "diffusers")
    assert set(analysis.pipeline_components) == {"unet", "vae", "text_encoder", "tokenizer", "scheduler"}
    # UNet + VAE + text encoder; not the root checkpoint, the unused safety checker, an extra VAE or a variant.
    assert analysis.size_bytes == 3_400_000_000 + 330_000_000 + 490_000_000
    assert analysis.estimated_memory_gb == round(analysis.size_bytes * 1.2 / 1e9 + 0.5, 2)
    plan = recommend_runtime(analysis, backend="hf")
    assert plan.needs_gpu and plan.primary == "zero-a10g"
    assert any("diffusers components" in reason and "unet" in reason for reason in plan.reasons)


@pytest.mark.parametrize(("index", "task"), [
    ({"_class_name": "FluxPipeline", "transformer": ["diffusers", "FluxTransformer2DModel"],
      "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"]},
     "text-to-image"),
    ({"_class_name": "StableDiffusionImg2ImgPipeline", "unet": ["diffusers", "UNet2DConditionModel"]},
     "image-to-image"),
    ({"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]}, None),
])
def test_diffusers_tasks_come_from_model_index(index: dict[str, object], task: str | None) -> None:
    assert analyze_card(_facts(files={"model_index.json": 1}, model_index=index)).task == task


# --- sample inputs -----------------------------------------------------------------------------------
def test_qa_samples_take_the_card_widget_and_probe_another_passage(tmp_path: Path) -> None:
    spec = task_spec("question-answering")
    assert spec is not None
    card = [SampleInput(text="where did alice meet bob?", context="alice met bob in london")]
    sample, probe = pick_samples(spec, card, tmp_path)
    assert (sample.text, sample.context, sample.origin) == ("where did alice meet bob?", "alice met bob in london",
                                                            "card")
    assert probe.context and probe.context != sample.context and probe.text != sample.text
    default, _ = pick_samples(spec, [], tmp_path)
    assert (default.text, default.context) == (spec.default_text, spec.default_context)


def test_zero_shot_and_vlm_samples_carry_their_labels_and_prompt(tmp_path: Path) -> None:
    zero_shot, vlm = task_spec("zero-shot-classification"), task_spec("image-text-to-text")
    assert zero_shot is not None and vlm is not None
    sample, probe = pick_samples(zero_shot, [SampleInput(text="great film", candidate_labels=["film", "food"])],
                                 tmp_path)
    assert sample.candidate_labels == probe.candidate_labels == ("film", "food") and sample.text != probe.text
    sample, probe = pick_samples(vlm, [SampleInput(text="what is it?", src="https://x.invalid/a.png")], tmp_path)
    assert sample.text == probe.text == "what is it?"
    assert sample.file and probe.file and sample.file.read_bytes() != probe.file.read_bytes()


def test_a_chat_model_gets_the_chat_interface_and_a_plain_one_does_not(tmp_path: Path) -> None:
    plan = RuntimeRecommendation(primary="cpu-basic")
    chat = generate_app(ModelCardAnalysis(model="o/chat", task="text-generation", chat_template=True), plan,
                        tmp_path / "chat")
    plain = generate_app(ModelCardAnalysis(model="o/lm", task="text-generation"), plan, tmp_path / "plain")
    assert (chat.template, plain.template) == ("chat", "text_generation")
    tree = ast.parse((chat.directory / "app.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "gr.ChatInterface"]
    assert len(calls) == 1
    keywords = {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    assert keywords["flagging_mode"] == "'never'"
    # The page's chat endpoint stays off the API (its MCP tool breaks on gr.State in Gradio 6.31): /predict is gr.api.
    assert (keywords["api_name"], keywords["api_visibility"]) == ("'chat'", "'undocumented'")
    apis = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "gr.api"]
    assert [ast.unparse(c) for c in apis] == ["gr.api(predict, api_name='predict')"]
    assert "apply_chat_template" in (chat.directory / "app.py").read_text()


def test_a_chat_model_without_a_widget_gets_the_chat_default_message() -> None:
    chat = analyze_card(_facts({"pipeline_tag": "text-generation"}, tokenizer_config={"chat_template": "{{ m }}"}))
    plain = analyze_card(_facts({"pipeline_tag": "text-generation"}))
    assert [s.text for s in chat.sample_inputs] == [CHAT_SPEC.default_text]
    assert [s.text for s in plain.sample_inputs] == ["Once upon a time"]


@pytest.mark.parametrize("chat", [True, False])
def test_hostile_card_values_stay_literals_in_the_chat_and_multi_input_apps(tmp_path: Path, chat: bool) -> None:
    """DESIGN §9 for the templates the task-parametrised test does not reach (chat) and the new literals."""
    from tests.worker.test_templates import HOSTILE

    plan = RuntimeRecommendation(primary="zero-a10g", needs_gpu=True)
    samples = [SampleInput(text=HOSTILE, candidate_labels=[HOSTILE, "b"], context=HOSTILE)]
    task = "text-generation" if chat else "question-answering"
    app = generate_app(ModelCardAnalysis(model=HOSTILE, task=task, chat_template=chat, sample_inputs=samples),
                       plan, tmp_path / "app", space_title=HOSTILE)
    tree = ast.parse((app.directory / "app.py").read_text())
    values = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant | ast.List)}
    assert values["MODEL_ID"] == values["TITLE"] == HOSTILE
    if not chat:
        assert values["CONTEXT"] == HOSTILE and values["EXAMPLES"] == [[HOSTILE, HOSTILE]]
    names = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not any("system" in name or "__import__" in name for name in names)
