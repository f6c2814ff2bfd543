"""Model-card analysis (upstream Phase 5; DESIGN §4 model_card_analysis.json; DESIGN §9: card values are
untrusted)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from space_factory.domain.analysis import (
    MAX_SAMPLE_CHARS,
    MAX_SAMPLES,
    MAX_TAGS,
    analyze_card,
    dtype_bytes,
    select_weight_files,
)
from space_factory.domain.schemas import FileEntry, ModelCardAnalysis, ModelFacts


def facts(
    card: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    files: dict[str, int | None] | None = None,
    st: dict[str, int] | None = None,
    **kw: Any,
) -> ModelFacts:
    return ModelFacts(
        model="owner/model",
        card_data=card or {},
        config=config,
        files=[FileEntry(path=p, size=s) for p, s in (files or {}).items()],
        safetensors_params=st or {},
        **kw,
    )


# --- task ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("architecture", "model_type", "task"),
    [
        ("GPT2LMHeadModel", "gpt2", "text-generation"),
        ("LlamaForCausalLM", "llama", "text-generation"),
        ("T5ForConditionalGeneration", "t5", "text2text-generation"),
        ("MT5ForConditionalGeneration", "mt5", "text2text-generation"),
        ("BartForConditionalGeneration", "bart", "text2text-generation"),
        ("T5WithLMHeadModel", "t5", "text2text-generation"),
        ("PegasusForConditionalGeneration", "pegasus", "text2text-generation"),
        ("MarianMTModel", "marian", "translation"),
        ("WhisperForConditionalGeneration", "whisper", "automatic-speech-recognition"),
        ("Wav2Vec2ForCTC", "wav2vec2", "automatic-speech-recognition"),
        ("SpeechEncoderDecoderForSpeechSeq2Seq", None, "automatic-speech-recognition"),
        ("BertForSequenceClassification", "bert", "text-classification"),
        ("Wav2Vec2ForSequenceClassification", "wav2vec2", "audio-classification"),
        ("BertForTokenClassification", "bert", "token-classification"),
        ("BertForMaskedLM", "bert", "fill-mask"),
        ("ViTForImageClassification", "vit", "image-classification"),
        ("BertModel", "bert", "feature-extraction"),
        ("BertForQuestionAnswering", "bert", "question-answering"),
        # Vision and audio coverage (issue 11): whole-model classes by name, heads by suffix.
        ("YolosForObjectDetection", "yolos", "object-detection"),
        ("DetrForObjectDetection", "detr", "object-detection"),
        ("SegformerForSemanticSegmentation", "segformer", "image-segmentation"),
        ("Mask2FormerForUniversalSegmentation", "mask2former", "image-segmentation"),
        ("DPTForDepthEstimation", "dpt", "depth-estimation"),
        ("DepthAnythingForDepthEstimation", "depth_anything", "depth-estimation"),
        ("CLIPModel", "clip", "zero-shot-image-classification"),
        ("SiglipModel", "siglip", "zero-shot-image-classification"),
        ("ASTForAudioClassification", "audio-spectrogram-transformer", "audio-classification"),
        ("VitsModel", "vits", "text-to-speech"),
        ("SpeechT5ForTextToSpeech", "speecht5", "text-to-speech"),
        ("MusicgenForConditionalGeneration", "musicgen", "text-to-audio"),
        ("BarkModel", "bark", "text-to-audio"),
        ("LlavaForConditionalGeneration", "llava", None),
        ("SomethingUnheardOf", None, None),
    ],
)
def test_task_is_inferred_from_the_architecture_class_when_the_card_has_no_pipeline_tag(
    architecture: str, model_type: str | None, task: str | None
) -> None:
    a = analyze_card(facts(config={"architectures": [architecture], "model_type": model_type}))
    assert a.task == task
    assert a.task_source == ("architecture" if task else "unknown")


def test_pipeline_tag_wins_over_the_architecture() -> None:
    a = analyze_card(
        facts({"pipeline_tag": "summarization"}, {"architectures": ["T5ForConditionalGeneration"]})
    )
    assert (a.task, a.task_source) == ("summarization", "pipeline_tag")


def test_task_override_wins_over_card_and_architecture() -> None:
    a = analyze_card(
        facts({"pipeline_tag": "fill-mask"}, {"architectures": ["BertForMaskedLM"]}),
        task_override=" Text-Classification ",
    )
    assert (a.task, a.task_source, a.has_template) == ("text-classification", "override", True)


def test_a_task_override_that_is_not_a_task_name_is_ignored_with_a_warning() -> None:
    a = analyze_card(facts({"pipeline_tag": "fill-mask"}), task_override="../../etc")
    assert (a.task, a.task_source) == ("fill-mask", "pipeline_tag")
    assert any("is not a task name" in w for w in a.warnings)


def test_an_empty_task_override_is_ignored() -> None:
    a = analyze_card(facts({"pipeline_tag": "fill-mask"}), task_override="  ")
    assert (a.task, a.task_source) == ("fill-mask", "pipeline_tag")


@pytest.mark.parametrize(
    ("card", "files", "library"),
    [
        ({"library_name": "sentence-transformers"}, {}, "sentence-transformers"),
        ({"tags": ["sentence-transformers"]}, {}, None),
        ({}, {"modules.json": 10, "config.json": 10}, "sentence-transformers"),
    ],
)
def test_a_sentence_transformers_model_is_a_sentence_similarity_model(
    card: dict[str, Any], files: dict[str, int], library: str | None
) -> None:
    a = analyze_card(facts(card, None, files))
    assert (a.task, a.task_source, a.library) == ("sentence-similarity", "architecture", library)


def test_an_unknown_task_is_reported_with_a_next_step() -> None:
    a = analyze_card(facts())
    assert (a.task, a.task_source, a.has_template) == (None, "unknown", False)
    assert any("Pass the task explicitly" in w for w in a.warnings)


def test_a_known_task_without_template_and_an_unknown_task_name_are_warned_about() -> None:
    a = analyze_card(facts({"pipeline_tag": "image-to-image"}))
    assert not a.has_template and any("no Gradio template yet" in w for w in a.warnings)
    b = analyze_card(facts({"pipeline_tag": "robot-dancing"}))
    assert b.task == "robot-dancing" and any("not one the factory knows" in w for w in b.warnings)


def test_a_pipeline_tag_that_is_not_a_task_name_is_ignored() -> None:
    a = analyze_card(facts({"pipeline_tag": "import os; os.system('x')"}, {"architectures": ["BertModel"]}))
    assert (a.task, a.task_source) == ("feature-extraction", "architecture")


# --- library ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "config", "files", "library"),
    [
        ({"library_name": "Transformers"}, None, {}, "transformers"),
        ({}, None, {"model_index.json": 1, "unet/diffusion_pytorch_model.safetensors": 8}, "diffusers"),
        ({}, {"architectures": ["GPT2LMHeadModel"]}, {}, "transformers"),
        ({}, {"model_type": "bert"}, {}, "transformers"),
        ({}, None, {"model.gguf": 8}, None),
    ],
)
def test_library_comes_from_the_card_else_from_the_repository_layout(
    card: dict[str, Any], config: dict[str, Any] | None, files: dict[str, int], library: str | None
) -> None:
    assert analyze_card(facts(card, config, files)).library == library


# --- weights, params, dtype, memory ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "selected"),
    [
        ({"model.safetensors": 8, "pytorch_model.bin": 8}, ["model.safetensors"]),
        ({"pytorch_model.bin": 8, "training_args.bin": 1, "optimizer.pt": 2}, ["pytorch_model.bin"]),
        ({"a/x.safetensors": 8, "a/x.fp16.safetensors": 4}, ["a/x.safetensors"]),
        ({"a/x.fp16.safetensors": 4}, ["a/x.fp16.safetensors"]),
        (
            {"model_index.json": 1, "sd.safetensors": 9, "unet/d.safetensors": 5, "vae/d.safetensors": 1},
            ["unet/d.safetensors", "vae/d.safetensors"],
        ),
        (
            {
                "consolidated.safetensors": 9,
                "model-00001-of-00002.safetensors": 5,
                "model-00002-of-00002.safetensors": 4,
            },
            ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"],
        ),
        ({"original/consolidated.00.pth": 9, "model.safetensors": 9}, ["model.safetensors"]),
        ({"m.Q4_K_M.gguf": 4, "m.Q8_0.gguf": 8, "m.Q2_K.gguf": 2}, ["m.Q8_0.gguf"]),
        ({"onnx/model.onnx": 8, "onnx/model_quantized.onnx": 2}, ["onnx/model.onnx"]),
        ({"README.md": 1, "config.json": 1}, []),
    ],
)
def test_select_weight_files_counts_each_copy_of_the_weights_once(
    files: dict[str, int], selected: list[str]
) -> None:
    entries = [FileEntry(path=p, size=s) for p, s in files.items()]
    assert [f.path for f in select_weight_files(entries)] == selected


def test_params_and_dtype_come_from_safetensors_headers_and_config() -> None:
    a = analyze_card(
        facts(
            config={"torch_dtype": "torch.bfloat16"},
            files={"model.safetensors": 2_000, "pytorch_model.bin": 4_000},
            st={"BF16": 900, "F32": 100},
        )
    )
    assert (a.params, a.params_source, a.dtype, a.size_bytes) == (1_000, "safetensors", "bfloat16", 2_000)


@pytest.mark.parametrize(
    ("config", "st", "dtype"),
    [
        ({"dtype": "float16"}, {"F32": 10}, "float16"),  # transformers 5 writes "dtype"
        ({"torch_dtype": "bfloat16"}, {"F32": 10}, "bfloat16"),
        ({"text_config": {"torch_dtype": "float16"}}, {}, "float16"),
        ({"torch_dtype": "auto"}, {"F16": 10, "F32": 2}, "float16"),
        (None, {"BF16": 3, "F32": 10}, "float32"),
        (None, {}, None),
    ],
)
def test_dtype_is_the_config_dtype_else_the_dominant_safetensors_dtype(
    config: dict[str, Any] | None, st: dict[str, int], dtype: str | None
) -> None:
    assert analyze_card(facts(config=config, st=st)).dtype == dtype


def test_params_are_estimated_from_weight_bytes_and_dtype_without_safetensors() -> None:
    a = analyze_card(facts(config={"torch_dtype": "float16"}, files={"pytorch_model.bin": 2_000_000}))
    assert (a.params, a.params_source, a.size_bytes) == (1_000_000, "estimate", 2_000_000)
    b = analyze_card(facts(files={"pytorch_model.bin": 4_000}))  # no dtype: float32 assumed
    assert b.params == 1_000


def test_gguf_weights_give_a_size_and_memory_but_no_parameter_count() -> None:
    a = analyze_card(facts(files={"m.Q4.gguf": 4_000_000_000, "m.Q8.gguf": 8_000_000_000}))
    assert (a.params, a.params_source, a.size_bytes) == (None, "unknown", 8_000_000_000)
    assert a.estimated_memory_gb == pytest.approx(8 * 1.2 + 0.5)


def test_params_are_estimated_from_config_sizes_when_no_weights_are_listed() -> None:
    config = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "vocab_size": 1000,
        "intermediate_size": 256,
        "torch_dtype": "float32",
    }
    a = analyze_card(facts(config=config))
    assert a.params == 1000 * 64 + 2 * (4 * 64 * 64 + 2 * 64 * 256)
    assert a.params_source == "estimate"
    assert any("No weight files found" in w for w in a.warnings)


def test_estimated_memory_is_stored_weight_bytes_times_1_2_plus_half_a_gb() -> None:
    a = analyze_card(facts(files={"model.safetensors": 1_000_000_000}, st={"F32": 250_000_000}))
    assert a.estimated_memory_gb == pytest.approx(1.7)
    b = analyze_card(facts(files={"model.safetensors": 1}, st={"BF16": 7_000_000_000}))
    assert b.estimated_memory_gb == pytest.approx(14 * 1.2 + 0.5)


@pytest.mark.parametrize(
    ("config_dtype", "st", "memory"),
    [
        ("bfloat16", {"F32": 500_000_000}, 1.0 * 1.2 + 0.5),  # float weights load in the config dtype
        (None, {"F32": 500_000_000}, 2.0 * 1.2 + 0.5),
        ("bfloat16", {"I8": 1_000_000_000, "BF16": 500_000_000}, 2.0 * 1.2 + 0.5),  # quantised: as stored
        ("float16", {"F8_E4M3": 1_000_000_000}, 1.0 * 1.2 + 0.5),
    ],
)
def test_estimated_memory_counts_floating_weights_in_the_inference_dtype(
    config_dtype: str | None, st: dict[str, int], memory: float
) -> None:
    config = {"torch_dtype": config_dtype} if config_dtype else None
    assert analyze_card(facts(config=config, st=st)).estimated_memory_gb == pytest.approx(memory)


def test_no_weights_and_no_config_leave_size_params_and_memory_unknown() -> None:
    a = analyze_card(facts(files={"README.md": 10}))
    assert (a.size_bytes, a.params, a.estimated_memory_gb) == (None, None, None)


def test_dtype_bytes_knows_torch_names_and_safetensors_codes() -> None:
    assert [dtype_bytes(d) for d in ("float32", "F16", "BF16", "int8", "F8_E4M3", "mystery")] == [
        4,
        2,
        2,
        1,
        1,
        4.0,
    ]


# --- license, gated, custom code, languages, base model, tags --------------------------------------


@pytest.mark.parametrize(
    ("card", "gated_fact", "gated"),
    [
        ({}, False, False),
        ({"gated": False}, False, False),
        ({"gated": True}, False, True),
        ({"gated": "manual"}, False, True),
        ({"extra_gated_prompt": "Agree to the terms"}, False, True),
        ({}, True, True),
    ],
)
def test_gated_comes_from_the_card_the_gating_fields_or_the_source(
    card: dict[str, Any], gated_fact: bool, gated: bool
) -> None:
    a = analyze_card(facts(card, gated=gated_fact))
    assert a.gated is gated
    assert any("gated" in w for w in a.warnings) is gated


@pytest.mark.parametrize(
    ("config", "files", "custom"),
    [
        ({"auto_map": {"AutoModelForCausalLM": "modeling_x.XForCausalLM"}}, {}, True),
        (None, {"modeling_phi.py": 100}, True),
        (None, {"sub/configuration_foo.py": 100}, True),
        (None, {"app.py": 100, "model.safetensors": 8}, False),
        ({"auto_map": "not a mapping"}, {}, False),
    ],
)
def test_custom_code_is_auto_map_or_shipped_modeling_files(
    config: dict[str, Any] | None, files: dict[str, int], custom: bool
) -> None:
    a = analyze_card(facts(config=config, files=files))
    assert a.custom_code is custom
    assert any("trust_remote_code" in w for w in a.warnings) is custom


def test_auto_map_is_kept_as_clean_strings() -> None:
    config = {"auto_map": {"AutoConfig": "configuration_x.XConfig", "AutoTokenizer": ["tok.T", None], 3: 4}}
    a = analyze_card(facts(config=config))
    assert a.auto_map == {"AutoConfig": "configuration_x.XConfig", "AutoTokenizer": ["tok.T"]}


@pytest.mark.parametrize(
    ("language", "languages"),
    [("en", ["en"]), (["en", "fr", "en"], ["en", "fr"]), ({"en": True}, []), (42, []), (None, [])],
)
def test_languages_accept_a_string_or_a_list_and_ignore_other_shapes(
    language: object, languages: list[str]
) -> None:
    assert analyze_card(facts({"language": language})).languages == languages


def test_card_fields_are_read_into_the_analysis() -> None:
    a = analyze_card(
        facts({"license": "apache-2.0", "base_model": "org/base", "tags": ["a", "b", "a", 7, None]})
    )
    assert (a.license, a.base_model, a.tags) == ("apache-2.0", ["org/base"], ["a", "b", "7"])
    b = analyze_card(facts({"license": ["mit", "other"], "base_model": ["x/y", {"bad": 1}]}))
    assert (b.license, b.base_model) == ("mit", ["x/y"])


# --- sample inputs ---------------------------------------------------------------------------------


def test_widget_text_becomes_a_card_sample() -> None:
    a = analyze_card(
        facts(
            {"pipeline_tag": "text-generation", "widget": [{"text": "the cat sat", "example_title": "Cat"}]}
        )
    )
    assert [(s.text, s.title, s.origin) for s in a.sample_inputs] == [("the cat sat", "Cat", "card")]


@pytest.mark.parametrize("labels", ["a cat, a dog ,, a car", ["a cat", "a dog", "", "a car", "a cat"]])
def test_a_zero_shot_widget_keeps_its_candidate_labels(labels: object) -> None:
    """The Hub's widget writes candidate labels as one comma-separated string; a list works too (issue 11)."""
    widget = [{"src": "https://example.invalid/cat.png", "candidate_labels": labels}]
    a = analyze_card(facts({"pipeline_tag": "zero-shot-image-classification", "widget": widget}))
    assert [s.candidate_labels for s in a.sample_inputs] == [["a cat", "a dog", "a car"]]


def test_a_question_answering_widget_keeps_its_context() -> None:
    widget = [{"text": "Where does Alice live?", "context": "Alice lives in London."}]
    a = analyze_card(facts({"pipeline_tag": "question-answering", "widget": widget}))
    assert [(s.text, s.context) for s in a.sample_inputs] == [("Where does Alice live?", "Alice lives in London.")]


def test_sentence_similarity_widget_keeps_source_sentence_and_sentences() -> None:
    widget = [{"source_sentence": "the cat sat", "sentences": ["the dog ate", "a cat sat down"]}]
    a = analyze_card(facts({"pipeline_tag": "sentence-similarity", "widget": widget}))
    (sample,) = a.sample_inputs
    assert (sample.source_sentence, sample.sentences, sample.origin) == (
        "the cat sat",
        ["the dog ate", "a cat sat down"],
        "card",
    )


def test_image_widget_keeps_only_http_urls_as_src() -> None:
    widget = [
        {"src": "file:///etc/passwd"},
        {"src": "https://example.invalid/cat.png", "example_title": "cat"},
    ]
    a = analyze_card(facts({"pipeline_tag": "image-classification", "widget": widget}))
    assert [(s.src, s.title) for s in a.sample_inputs] == [("https://example.invalid/cat.png", "cat")]


def test_an_image_task_without_a_usable_example_gets_no_text_default() -> None:
    a = analyze_card(facts({"pipeline_tag": "image-classification", "widget": [{"text": "hello"}]}))
    assert a.sample_inputs == []
    assert any("None of the card's 1 widget examples fits" in w for w in a.warnings)


def test_chat_widget_uses_the_last_user_message() -> None:
    widget = [
        {"messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "Hi there"}]}
    ]
    a = analyze_card(facts({"pipeline_tag": "text-generation", "widget": widget}))
    assert [s.text for s in a.sample_inputs] == ["Hi there"]


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("text-generation", "Once upon a time"),
        ("text-classification", "I loved this movie!"),
        ("automatic-speech-recognition", None),
        ("robot-dancing", None),
    ],
)
def test_a_card_without_examples_gets_the_task_default_sample(task: str, expected: str | None) -> None:
    a = analyze_card(facts({"pipeline_tag": task}))
    if expected is None:
        assert a.sample_inputs == []
    else:
        assert [(s.text, s.origin) for s in a.sample_inputs] == [(expected, "default")]


@pytest.mark.parametrize(
    ("model_type", "widget", "expected"),
    [
        ("bert", [{"text": "no mask here"}], "The capital of France is [MASK]."),
        ("roberta", [], "The capital of France is <mask>."),
        ("roberta", [{"text": "Paris is the <mask> of France."}], "Paris is the <mask> of France."),
        ("bert", [{"text": "the cat sat on the [MASK]"}], "the cat sat on the [MASK]"),
    ],
)
def test_a_fill_mask_sample_always_contains_a_mask_token(
    model_type: str, widget: list[dict[str, str]], expected: str
) -> None:
    a = analyze_card(facts({"pipeline_tag": "fill-mask", "widget": widget}, {"model_type": model_type}))
    assert [s.text for s in a.sample_inputs] == [expected]


def test_sentence_similarity_default_has_a_source_and_a_second_sentence() -> None:
    (sample,) = analyze_card(facts({"pipeline_tag": "sentence-similarity"})).sample_inputs
    assert sample.origin == "default" and sample.source_sentence and sample.sentences


# --- hostile and malformed cards -------------------------------------------------------------------


def test_ten_thousand_tags_are_capped_with_a_warning() -> None:
    a = analyze_card(facts({"tags": [f"tag-{i}" for i in range(10_000)]}))
    assert len(a.tags) == MAX_TAGS
    assert any("10000 tags" in w for w in a.warnings)


def test_widget_examples_and_sample_text_are_capped() -> None:
    widget = [{"text": "x" * 5_000}] * (MAX_SAMPLES + 10)
    a = analyze_card(facts({"pipeline_tag": "text-generation", "widget": widget}))
    assert len(a.sample_inputs) == MAX_SAMPLES
    assert all(len(s.text or "") == MAX_SAMPLE_CHARS for s in a.sample_inputs)
    assert any(f"only the first {MAX_SAMPLES}" in w for w in a.warnings)


def test_a_widget_that_is_a_string_is_ignored_with_a_warning() -> None:
    a = analyze_card(facts({"pipeline_tag": "text-generation", "widget": "just a string"}))
    assert [s.origin for s in a.sample_inputs] == ["default"]
    assert any("widget is a str" in w for w in a.warnings)


def test_a_widget_that_is_a_single_mapping_is_read_as_one_example() -> None:
    a = analyze_card(facts({"pipeline_tag": "text-generation", "widget": {"text": "hello"}}))
    assert [s.text for s in a.sample_inputs] == ["hello"]


def test_control_characters_are_stripped_and_labels_are_single_line() -> None:
    a = analyze_card(
        facts(
            {
                "pipeline_tag": "text-generation",
                "license": "mit\n\x00evil",
                "widget": [{"text": "line1\nline2\x00\x1b[31m", "example_title": "a\nb"}],
            }
        )
    )
    assert a.license == "mit evil"
    assert [(s.text, s.title) for s in a.sample_inputs] == [("line1\nline2[31m", "a b")]


def test_quotes_and_code_in_card_values_stay_plain_data() -> None:
    text = "\"'); import os; os.system('rm -rf /') #"
    a = analyze_card(facts({"pipeline_tag": "text-generation", "widget": [{"text": text}]}))
    assert a.sample_inputs[0].text == text


@pytest.mark.parametrize(
    "card",
    [
        {"pipeline_tag": ["text-generation"], "library_name": {"x": 1}, "license": 3.5, "tags": "single-tag"},
        {"widget": [None, 1, "x", [], {"text": None}, {"sentences": "not a list"}, {"messages": "hi"}]},
        {"widget": [{"messages": [None, {"role": "user"}, {"role": "user", "content": {"a": 1}}]}]},
        {"gated": ["weird"], "extra_gated_fields": {"Name": "text"}, "base_model": 12},
        {"language": [{"en": 1}, ["fr"], None], "tags": [[1], {"a": 2}, True, float("nan"), 10**30]},
        {"pipeline_tag": "fill-mask", "widget": [{"text": float("inf")}]},
    ],
)
def test_malformed_card_values_are_coerced_or_ignored_without_raising(card: dict[str, Any]) -> None:
    a = analyze_card(facts(card, {"architectures": "GPT2LMHeadModel", "model_type": ["x"], "auto_map": [1]}))
    ModelCardAnalysis.model_validate_json(a.model_dump_json())  # and the result is a valid run-record file


def _junk(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Any] = [
        None,
        True,
        0,
        -1,
        10**18,
        1.5,
        float("nan"),
        "",
        "x" * rng.randint(0, 3000),
        "[MASK]",
        "<mask>",
        "https://a.invalid/x.png",
    ]
    if depth < 3:
        choices += [
            [_junk(rng, depth + 1) for _ in range(rng.randint(0, 4))],
            {
                rng.choice(
                    [
                        "text",
                        "src",
                        "sentences",
                        "source_sentence",
                        "messages",
                        "role",
                        "content",
                        "example_title",
                        "dtype",
                        "x",
                    ]
                ): _junk(rng, depth + 1)
                for _ in range(rng.randint(0, 4))
            },
        ]
    return rng.choice(choices)


def test_random_junk_in_every_card_and_config_field_never_raises() -> None:
    """A hostile or malformed card must never raise (brief; DESIGN §9)."""
    rng = random.Random(1234)
    card_keys = [
        "pipeline_tag",
        "library_name",
        "license",
        "language",
        "widget",
        "base_model",
        "tags",
        "gated",
        "extra_gated_prompt",
    ]
    config_keys = [
        "architectures",
        "model_type",
        "torch_dtype",
        "dtype",
        "auto_map",
        "hidden_size",
        "num_hidden_layers",
        "vocab_size",
        "intermediate_size",
        "text_config",
    ]
    tasks = [None, "fill-mask", "text-generation", "sentence-similarity", "image-classification", "x"]
    for _ in range(200):
        card = {k: _junk(rng) for k in card_keys if rng.random() < 0.7}
        config = {k: _junk(rng) for k in config_keys if rng.random() < 0.7}
        a = analyze_card(
            facts(
                card,
                config,
                {"model.safetensors": rng.choice([None, 0, 10**9])},
                {"F32": rng.randint(0, 10**9)},
            ),
            task_override=rng.choice(tasks),
        )
        ModelCardAnalysis.model_validate_json(a.model_dump_json())


def test_file_list_is_capped_with_a_warning() -> None:
    a = analyze_card(facts(files={f"f{i}.txt": 1 for i in range(6_000)}))
    assert len(a.files) == 5_000
    assert any("6000 files" in w for w in a.warnings)
