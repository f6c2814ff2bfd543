"""Model-card analysis (upstream Phase 5): what the card, config.json and the file list say about a model.

Pure: `analyze_card(facts)` reads a `ModelFacts` and returns the `ModelCardAnalysis` written to
`model_card_analysis.json` (DESIGN §4). Every value in `facts` comes from a model repository and is
untrusted: strings are capped and stripped of control characters, wrong types are ignored, and a hostile
or malformed card never raises.

Memory rule (used by the hardware recommender): `estimated_memory_gb = weight_bytes × 1.2 / 1e9 + 0.5`,
where `weight_bytes` is what the weights take in the inference dtype. With safetensors headers: each
floating-point tensor at the config's dtype (transformers loads with `dtype="auto"`), other tensors
(int8/fp8/packed quantised weights) as stored. Without them: the weight files' bytes. Without weight
files: a parameter estimate from config.json sizes × the dtype's bytes (float32 when unknown). The 20 %
covers activations, KV cache and buffers for one short request; the 0.5 GB covers the runtime itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from space_factory.domain.schemas import FileEntry, JsonDict, ModelCardAnalysis, ModelFacts, SampleInput
from space_factory.domain.tasks import TEMPLATE_TASKS, InputKind, task_spec

__all__ = [
    "MEMORY_BASE_GB",
    "MEMORY_OVERHEAD_FACTOR",
    "analyze_card",
    "dtype_bytes",
    "select_weight_files",
]

MAX_SAMPLE_CHARS = 2_000
MAX_SAMPLES = 50
MAX_SENTENCES = 20
MAX_TAGS = 100
MAX_LABEL_CHARS = 200  # tags, languages, license, base models, titles, architecture names
MAX_LANGUAGES = 100
MAX_BASE_MODELS = 20
MAX_FILES = 5_000
MEMORY_OVERHEAD_FACTOR = 1.2
MEMORY_BASE_GB = 0.5
BYTES_PER_GB = 1e9

_DTYPE_BYTES: dict[str, float] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
    "int8": 1, "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1, "bool": 1,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e8m0fnu": 1, "float4_e2m1fn_x2": 1,
}
# safetensors dtype codes → torch names.
_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
    "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16",
    "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "E8M0": "float8_e8m0fnu", "F8_E8M0": "float8_e8m0fnu", "F4": "float4_e2m1fn_x2",
}

# Weight formats, most preferred first: only the first format present is counted, so a repo holding
# the same weights as safetensors and as pickles is not counted twice.
_WEIGHT_FORMATS: tuple[tuple[str, ...], ...] = (
    (".safetensors",), (".bin", ".pt", ".pth", ".ckpt"), (".onnx",), (".gguf",),
)
_ALTERNATIVE_FORMATS = (".onnx", ".gguf")  # files there are alternative exports/quantisations: one is loaded
_NOT_WEIGHTS = re.compile(
    r"(^|/)(training_args\.bin|optimizer\.(pt|bin)|scheduler\.pt|scaler\.pt|rng_state[^/]*\.pth)$"
)
# diffusers variants: x.fp16.safetensors beside x.safetensors
_VARIANT = re.compile(r"\.(fp16|bf16|fp32|non_ema|ema)(?=\.[^./]+$)")
_CUSTOM_CODE = re.compile(
    r"(^|/)(modeling|configuration|tokenization|processing|image_processing|feature_extraction)_[^/]*\.py$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TASK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

# Architecture class suffix → task, checked in order (the first architecture listed decides).
_ARCH_SUFFIX_TASKS: tuple[tuple[str, str], ...] = (
    ("ForCausalLM", "text-generation"),
    ("ForSeq2SeqLM", "text2text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForMaskedLM", "fill-mask"),
    ("ForImageClassification", "image-classification"),
    ("ForAudioClassification", "audio-classification"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "image-segmentation"),
    ("MTModel", "translation"),  # MarianMTModel
    ("LMHeadModel", "text-generation"),  # GPT2LMHeadModel (T5WithLMHeadModel is caught as seq2seq first)
)
_SEQ2SEQ_PREFIXES = (
    "t5", "mt5", "umt5", "longt5", "bart", "mbart", "pegasus", "marian", "m2m100", "nllb", "led",
    "prophetnet", "fsmt", "blenderbot", "plbart", "bigbirdpegasus", "switchtransformers", "mvp",
)
_ASR_PREFIXES = ("whisper", "speech2text", "moonshine")
_AUDIO_PREFIXES = ("wav2vec2", "hubert", "wavlm", "data2vecaudio", "sew", "unispeech")
# Tokenizers of these model types write the mask as "<mask>"; BERT-style ones as "[MASK]".
_ANGLE_MASK_TYPES = frozenset({
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "bart", "mbart", "mpnet",
    "data2vec-text", "luke", "ibert", "roberta-prelayernorm", "xmod", "mvp",
})
_MASK_TOKENS = ("[MASK]", "<mask>")
_FLOAT_DTYPES = frozenset({"float64", "float32", "float16", "bfloat16"})


def dtype_bytes(dtype: str | None, default: float = 4.0) -> float:
    """Bytes per element of a torch dtype name or a safetensors code; `default` when unknown.

    Example:
        >>> dtype_bytes("bfloat16"), dtype_bytes("F32"), dtype_bytes(None)
        (2, 4, 4.0)
    """
    if not dtype:
        return default
    return _DTYPE_BYTES.get(_SAFETENSORS_DTYPES.get(dtype, dtype), default)


def select_weight_files(files: Sequence[FileEntry]) -> list[FileEntry]:
    """The files holding the weights a runtime would load, without duplicate copies.

    Rules: only the most preferred format present counts (safetensors, then .bin/.pt/.pth/.ckpt, then
    .onnx, then .gguf); training leftovers (`training_args.bin`, optimizer states) are not weights; a
    diffusers variant (`x.fp16.safetensors`) is dropped when `x.safetensors` exists; in a diffusers repo
    (`model_index.json`) single-file checkpoints at the root are dropped when component folders hold
    weights; `consolidated*` files are dropped beside other weights of the same folder; and of .onnx or
    .gguf files only the largest counts (they are alternative exports or quantisations).

    Example:
        >>> [f.path for f in select_weight_files([FileEntry(path="model.safetensors", size=8),
        ...                                       FileEntry(path="pytorch_model.bin", size=8)])]
        ['model.safetensors']
    """
    candidates = [
        f for f in files
        if f.path.lower().endswith(tuple(ext for group in _WEIGHT_FORMATS for ext in group))
        and not _NOT_WEIGHTS.search(f.path.lower())
    ]
    if any(f.path == "model_index.json" for f in files) and any("/" in f.path for f in candidates):
        candidates = [f for f in candidates if "/" in f.path]
    for group in _WEIGHT_FORMATS:
        chosen = [f for f in candidates if f.path.lower().endswith(group)]
        if chosen:
            break
    else:
        return []
    paths = {f.path for f in chosen}
    chosen = [f for f in chosen if (base := _VARIANT.sub("", f.path)) == f.path or base not in paths]

    def folder(path: str) -> str:
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def is_consolidated(path: str) -> bool:
        return path.rsplit("/", 1)[-1].startswith("consolidated")

    plain_folders = {folder(f.path) for f in chosen if not is_consolidated(f.path)}
    chosen = [f for f in chosen if not (is_consolidated(f.path) and folder(f.path) in plain_folders)]
    if chosen[0].path.lower().endswith(_ALTERNATIVE_FORMATS):
        chosen = [max(chosen, key=lambda f: f.size or 0)]
    return chosen


def _text(value: object, limit: int = MAX_LABEL_CHARS, *, multiline: bool = False) -> str | None:
    """A cleaned, capped string from an untrusted card value; None for anything that is not text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and abs(value) < 1e15:
        value = str(value)
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub("", value[: limit * 4])
    if not multiline:
        text = " ".join(text.split())
    return text.strip()[:limit] or None


def _text_list(value: object, max_items: int, limit: int = MAX_LABEL_CHARS) -> tuple[list[str], int]:
    """Unique cleaned strings from a str or a list (anything else gives nothing), and the raw item count."""
    items: Sequence[object] = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    out: list[str] = []
    for item in items[: max_items * 10]:
        text = _text(item, limit)
        if text is not None and text not in out:
            out.append(text)
            if len(out) == max_items:
                break
    return out, len(items)


def _positive_int(value: object, maximum: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= maximum:
        return value
    return None


def _first_int(config: JsonDict, keys: Iterable[str], maximum: int) -> int | None:
    for key in keys:
        found = _positive_int(config.get(key), maximum)
        if found is not None:
            return found
    return None


def _config_params(config: JsonDict) -> int | None:
    """Rough transformer parameter count from config sizes: V·h + L·(4h² + 2h·I)."""
    text_config = config.get("text_config")
    if "hidden_size" not in config and isinstance(text_config, dict):
        config = text_config
    hidden = _first_int(config, ("hidden_size", "n_embd", "d_model"), 1_000_000)
    layers = _first_int(config, ("num_hidden_layers", "n_layer", "num_layers"), 10_000)
    vocab = _first_int(config, ("vocab_size",), 100_000_000)
    if hidden is None or layers is None or vocab is None:
        return None
    layers += _first_int(config, ("num_decoder_layers",), 10_000) or 0
    inter = _first_int(config, ("intermediate_size", "n_inner", "d_ff"), 10_000_000) or 4 * hidden
    return vocab * hidden + layers * (4 * hidden * hidden + 2 * hidden * inter)


def _config_dtype(config: JsonDict) -> str | None:
    for source in (config, config.get("text_config")):
        if isinstance(source, dict):
            for key in ("dtype", "torch_dtype"):
                name = _text(source.get(key), 40)
                if name:
                    name = name.lower().removeprefix("torch.")
                    if name in _DTYPE_BYTES:
                        return name
    return None


def _arch_task(arch: str, model_type: str | None) -> str | None:
    lower = arch.lower()
    if lower.startswith(_SEQ2SEQ_PREFIXES) and ("ConditionalGeneration" in arch or "LMHead" in arch):
        return "text2text-generation"
    if arch.endswith("ForConditionalGeneration"):
        if lower.startswith(_ASR_PREFIXES):
            return "automatic-speech-recognition"
        seq2seq = model_type is not None and model_type.replace("-", "").replace("_", "").startswith(
            _SEQ2SEQ_PREFIXES
        )
        return "text2text-generation" if seq2seq else None
    if arch.endswith("ForSequenceClassification") and lower.startswith(_AUDIO_PREFIXES):
        return "audio-classification"
    for suffix, task in _ARCH_SUFFIX_TASKS:
        if arch.endswith(suffix):
            return task
    if arch.endswith("Model") and "For" not in arch:
        return "feature-extraction"
    return None


def _detect_task(
    card: JsonDict, architectures: list[str], model_type: str | None, is_sentence_transformer: bool
) -> tuple[str | None, Literal["pipeline_tag", "architecture", "unknown"]]:
    tag = _text(card.get("pipeline_tag"), 64)
    if tag and _TASK_NAME.fullmatch(tag.lower()):
        return tag.lower(), "pipeline_tag"
    if is_sentence_transformer:
        return "sentence-similarity", "architecture"
    for arch in architectures:
        task = _arch_task(arch, model_type)
        if task:
            return task, "architecture"
    return None, "unknown"


def _sample(entry: JsonDict) -> SampleInput | None:
    text = _text(entry.get("text"), MAX_SAMPLE_CHARS, multiline=True)
    messages = entry.get("messages")
    if text is None and isinstance(messages, list):  # chat widgets: the last user message is the prompt
        for message in reversed(messages[:MAX_SAMPLES]):
            if isinstance(message, dict) and message.get("role") == "user":
                text = _text(message.get("content"), MAX_SAMPLE_CHARS, multiline=True)
                break
    sentences, _ = _text_list(entry.get("sentences"), MAX_SENTENCES, MAX_SAMPLE_CHARS)
    src = _text(entry.get("src"), MAX_SAMPLE_CHARS)
    if src is not None and not src.lower().startswith(("https://", "http://")):
        src = None  # only URLs, never a local path or a data: blob
    sample = SampleInput(
        text=text,
        source_sentence=_text(entry.get("source_sentence"), MAX_SAMPLE_CHARS, multiline=True),
        sentences=sentences or None,
        src=src,
        title=_text(entry.get("example_title")),
        origin="card",
    )
    return sample if (sample.text or sample.source_sentence or sample.sentences or sample.src) else None


def _usable(sample: SampleInput, task: str | None) -> bool:
    spec = task_spec(task)
    if spec is None:
        return True
    if spec.input_kind in (InputKind.IMAGE, InputKind.AUDIO):
        return sample.src is not None
    if task in ("feature-extraction", "sentence-similarity"):
        return bool(sample.text or sample.source_sentence)
    if task == "fill-mask":
        return sample.text is not None and any(mask in sample.text for mask in _MASK_TOKENS)
    return sample.text is not None


def _default_sample(task: str | None, model_type: str | None) -> SampleInput | None:
    spec = task_spec(task)
    if spec is None or spec.default_text is None:
        return None
    text = spec.default_text
    if task == "fill-mask":
        mask = "<mask>" if model_type in _ANGLE_MASK_TYPES else "[MASK]"
        text = text.replace("[MASK]", mask) if "[MASK]" in text else f"{text} {mask}"
    if task == "sentence-similarity":
        other = spec.probe_text or text
        return SampleInput(text=text, source_sentence=text, sentences=[other], origin="default")
    return SampleInput(text=text, origin="default")


def _samples(
    widget: object, task: str | None, model_type: str | None, warnings: list[str]
) -> list[SampleInput]:
    if isinstance(widget, dict):
        widget = [widget]
    entries: list[object] = []
    if isinstance(widget, list):
        if len(widget) > MAX_SAMPLES:
            warnings.append(
                f"The card's widget lists {len(widget)} examples; only the first {MAX_SAMPLES} were read."
            )
        entries = list(widget[:MAX_SAMPLES])
    elif widget is not None:
        kind = type(widget).__name__
        warnings.append(f"The card's widget is a {kind}, not a list of examples; it was ignored.")
    found = [s for e in entries if isinstance(e, dict) and (s := _sample(e)) is not None]
    usable = [s for s in found if _usable(s, task)]
    if found and not usable:
        warnings.append(
            f"None of the card's {len(found)} widget examples fits task {task!r}; using a default sample."
        )
    if not usable and (default := _default_sample(task, model_type)) is not None:
        usable = [default]
    return usable


def _is_gated(facts: ModelFacts, card: JsonDict) -> bool:
    gated = card.get("gated")
    flag = gated is True or (isinstance(gated, str) and gated.strip().lower() not in ("", "false", "no"))
    return facts.gated or flag or any(isinstance(k, str) and k.startswith("extra_gated_") for k in card)


def _auto_map(config: JsonDict) -> JsonDict:
    raw = config.get("auto_map")
    out: JsonDict = {}
    if isinstance(raw, dict):
        for key, value in list(raw.items())[:20]:
            name = _text(key)
            targets = [_text(value)] if isinstance(value, str) else _text_list(value, 5)[0]
            if name and any(targets):
                out[name] = targets[0] if isinstance(value, str) else targets
    return out


ParamsSource = Literal["safetensors", "estimate", "unknown"]


def _size_and_memory(
    weights: list[FileEntry], safetensors_params: dict[str, int], config: JsonDict
) -> tuple[str | None, int | None, ParamsSource, int | None, float | None]:
    """dtype, params, params_source, size_bytes and estimated_memory_gb, by the module's memory rule."""
    sizes = [f.size for f in weights if f.size is not None and f.size >= 0]
    size_bytes = sum(sizes) if sizes else None
    st_counts = {k: v for k, v in safetensors_params.items() if v > 0}
    dtype = _config_dtype(config)
    if dtype is None and st_counts:
        dominant = max(st_counts, key=lambda k: st_counts[k])
        dtype = _SAFETENSORS_DTYPES.get(dominant, _text(dominant, 16))
    params: int | None = None
    params_source: ParamsSource = "unknown"
    weight_bytes: float | None = None
    if st_counts:
        params, params_source = sum(st_counts.values()), "safetensors"
        load_dtype = dtype if dtype in _FLOAT_DTYPES else None

        def loaded_bytes(code: str) -> float:
            is_float = _SAFETENSORS_DTYPES.get(code) in _FLOAT_DTYPES
            return dtype_bytes(load_dtype if load_dtype and is_float else code)

        weight_bytes = sum(n * loaded_bytes(code) for code, n in st_counts.items())
    elif size_bytes:
        weight_bytes = size_bytes
        if not weights[0].path.lower().endswith(".gguf"):  # GGUF is quantised: bytes say nothing of params
            params, params_source = int(size_bytes / dtype_bytes(dtype)), "estimate"
    elif (estimate := _config_params(config)) is not None:
        params, params_source = estimate, "estimate"
        weight_bytes = estimate * dtype_bytes(dtype)
    memory = None
    if weight_bytes:
        memory = round(weight_bytes * MEMORY_OVERHEAD_FACTOR / BYTES_PER_GB + MEMORY_BASE_GB, 2)
    return dtype, params, params_source, size_bytes, memory


def analyze_card(facts: ModelFacts, *, task_override: str | None = None) -> ModelCardAnalysis:
    """Analyse a model's card, config and files.

    Args:
        facts: what a model source read (all of it untrusted).
        task_override: the caller's task; wins over the card and the architecture (`task_source="override"`).

    Returns:
        The analysis. Problems (unknown task, no weights, custom code, gated, a malformed card) are
        listed in `warnings`; nothing here raises for bad card content.

    Example:
        >>> facts = ModelFacts(model="sshleifer/tiny-gpt2", card_data={"pipeline_tag": "text-generation",
        ...     "widget": [{"text": "the cat sat"}]}, config={"architectures": ["GPT2LMHeadModel"]},
        ...     files=[FileEntry(path="model.safetensors", size=400)], safetensors_params={"F32": 100})
        >>> a = analyze_card(facts)
        >>> a.task, a.library, a.params, a.sample_inputs[0].text
        ('text-generation', 'transformers', 100, 'the cat sat')
    """
    card: JsonDict = facts.card_data if isinstance(facts.card_data, dict) else {}
    config: JsonDict = facts.config if isinstance(facts.config, dict) else {}
    warnings: list[str] = []
    files = list(facts.files[:MAX_FILES])
    if len(facts.files) > MAX_FILES:
        warnings.append(
            f"The repository lists {len(facts.files)} files; only the first {MAX_FILES} were analysed."
        )
    root_files = {f.path for f in files if "/" not in f.path}

    architectures, _ = _text_list(config.get("architectures"), 10)
    model_type = _text(config.get("model_type"), 100)
    tags, tag_count = _text_list(card.get("tags"), MAX_TAGS)
    if tag_count > MAX_TAGS:
        warnings.append(f"The card lists {tag_count} tags; only the first {MAX_TAGS} distinct were kept.")

    library = (_text(card.get("library_name"), 100) or "").lower() or None
    if library is None:
        if "modules.json" in root_files:
            library = "sentence-transformers"
        elif "model_index.json" in root_files:
            library = "diffusers"
        elif architectures or model_type:
            library = "transformers"
    is_st = "sentence-transformers" in (library, *tags) or "modules.json" in root_files

    task, detected_source = _detect_task(card, architectures, model_type, is_st)
    task_source: Literal["pipeline_tag", "architecture", "override", "unknown"] = detected_source
    override = (_text(task_override, 64) or "").lower()
    if override and _TASK_NAME.fullmatch(override):
        task, task_source = override, "override"
    elif override:
        warnings.append(f"Task override {override!r} is not a task name (lowercase letters, digits, '-'); "
                        "it was ignored.")
    if task is None:
        warnings.append(
            "Could not tell the task: the card has no pipeline_tag and config.json names no known "
            "architecture. Pass the task explicitly (launch_build task=...)."
        )
    elif task_spec(task) is None:
        warnings.append(f"Task {task!r} is not one the factory knows; no Gradio template exists for it.")
    elif task not in TEMPLATE_TASKS:
        warnings.append(f"Task {task!r} has no Gradio template yet: a build ends in technical_blocker "
                        "unless an agent wires the inference.")

    weights = select_weight_files(files)
    if not weights:
        warnings.append("No weight files found (*.safetensors, *.bin, *.pt, *.pth, *.ckpt, *.gguf, *.onnx).")
    dtype, params, params_source, size_bytes, memory = _size_and_memory(
        weights, facts.safetensors_params, config
    )

    auto_map = _auto_map(config)
    custom_code = bool(auto_map) or any(_CUSTOM_CODE.search(f.path) for f in files)
    if custom_code:
        warnings.append("The model ships its own code (auto_map or modeling_*.py): loading it needs "
                        "trust_remote_code=True, which the factory's templates do not enable.")
    gated = _is_gated(facts, card)
    if gated:
        warnings.append("The model is gated: the token's account must accept its conditions on the Hub "
                        "before the Space can download it.")

    languages, _ = _text_list(card.get("language"), MAX_LANGUAGES, 50)
    base_model, _ = _text_list(card.get("base_model"), MAX_BASE_MODELS)
    license_name = _text(card.get("license"), 100)
    if license_name is None and isinstance(card.get("license"), list):
        license_name = next(iter(_text_list(card.get("license"), 1)[0]), None)

    return ModelCardAnalysis(
        model=facts.model,
        task=task,
        task_source=task_source,
        library=library,
        architectures=architectures,
        model_type=model_type,
        params=params,
        params_source=params_source,
        dtype=dtype,
        size_bytes=size_bytes,
        estimated_memory_gb=memory,
        license=license_name,
        gated=gated,
        custom_code=custom_code,
        auto_map=auto_map,
        languages=languages,
        sample_inputs=_samples(card.get("widget"), task, model_type, warnings),
        base_model=base_model,
        tags=tags,
        files=files,
        has_template=task in TEMPLATE_TASKS,
        warnings=warnings,
    )
