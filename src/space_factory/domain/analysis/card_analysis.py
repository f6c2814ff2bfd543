"""`analyze_card`: the card, config.json and file list of a model, assembled into one `ModelCardAnalysis`."""

from __future__ import annotations

import re
from typing import Literal

from space_factory.domain.analysis.card_values import clean_text, clean_text_list
from space_factory.domain.analysis.task_detection import declares_chat_template, detect_task, is_task_name
from space_factory.domain.analysis.weights import diffusers_components, select_weight_files, weights_size
from space_factory.domain.analysis.widget_samples import samples
from space_factory.domain.schemas import FileEntry, JsonDict, ModelCardAnalysis, ModelFacts
from space_factory.domain.tasks import TEMPLATE_TASKS, task_spec

__all__ = ["MAX_FILES", "MAX_TAGS", "analyze_card"]

MAX_TAGS = 100
MAX_LANGUAGES = 100
MAX_BASE_MODELS = 20
MAX_FILES = 5_000

_CUSTOM_CODE = re.compile(
    r"(^|/)(modeling|configuration|tokenization|processing|image_processing|feature_extraction)_[^/]*\.py$"
)


def _is_gated(facts: ModelFacts, card: JsonDict) -> bool:
    gated = card.get("gated")
    flag = gated is True or (isinstance(gated, str) and gated.strip().lower() not in ("", "false", "no"))
    return facts.gated or flag or any(isinstance(k, str) and k.startswith("extra_gated_") for k in card)


def _auto_map(config: JsonDict) -> JsonDict:
    raw = config.get("auto_map")
    out: JsonDict = {}
    if isinstance(raw, dict):
        for key, value in list(raw.items())[:20]:
            name = clean_text(key)
            targets = [clean_text(value)] if isinstance(value, str) else clean_text_list(value, 5)[0]
            if name and any(targets):
                out[name] = targets[0] if isinstance(value, str) else targets
    return out


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
    files: list[FileEntry] = list(facts.files[:MAX_FILES])
    if len(facts.files) > MAX_FILES:
        warnings.append(
            f"The repository lists {len(facts.files)} files; only the first {MAX_FILES} were analysed."
        )
    root_files = {f.path for f in files if "/" not in f.path}

    architectures, _ = clean_text_list(config.get("architectures"), 10)
    model_type = clean_text(config.get("model_type"), 100)
    tags, tag_count = clean_text_list(card.get("tags"), MAX_TAGS)
    if tag_count > MAX_TAGS:
        warnings.append(f"The card lists {tag_count} tags; only the first {MAX_TAGS} distinct were kept.")

    library = (clean_text(card.get("library_name"), 100) or "").lower() or None
    if library is None:
        if "modules.json" in root_files:
            library = "sentence-transformers"
        elif "model_index.json" in root_files:
            library = "diffusers"
        elif architectures or model_type:
            library = "transformers"
    is_st = "sentence-transformers" in (library, *tags) or "modules.json" in root_files

    model_index = facts.model_index if isinstance(facts.model_index, dict) else None
    task, detected_source = detect_task(card, architectures, model_type, is_st, config=config,
                                        model_index=model_index)
    task_source: Literal["pipeline_tag", "architecture", "override", "unknown"] = detected_source
    override = (clean_text(task_override, 64) or "").lower()
    if override and is_task_name(override):
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

    # A diffusers pipeline loads the components its model_index.json names (UNet or transformer, VAE, text
    # encoders, ...): only their folders count, not alternative VAEs or checkpoints left beside them.
    components = diffusers_components(model_index)
    weights = select_weight_files(files, components=components)
    if not weights:
        warnings.append("No weight files found (*.safetensors, *.bin, *.pt, *.pth, *.ckpt, *.gguf, *.onnx).")
    size = weights_size(weights, facts.safetensors_params, config)

    auto_map = _auto_map(config)
    custom_code = bool(auto_map) or any(_CUSTOM_CODE.search(f.path) for f in files)
    if custom_code:
        warnings.append("The model ships its own code (auto_map or modeling_*.py): loading it needs "
                        "trust_remote_code=True, which the factory's templates do not enable.")
    gated = _is_gated(facts, card)
    if gated:
        warnings.append("The model is gated: the token's account must accept its conditions on the Hub "
                        "before the Space can download it.")

    chat_files = root_files | {f.path for f in files if f.path.startswith("additional_chat_templates/")}
    chat_template = declares_chat_template(chat_files, facts.tokenizer_config, facts.processor_config)
    languages, _ = clean_text_list(card.get("language"), MAX_LANGUAGES, 50)
    base_model, _ = clean_text_list(card.get("base_model"), MAX_BASE_MODELS)
    license_name = clean_text(card.get("license"), 100)
    if license_name is None and isinstance(card.get("license"), list):
        license_name = next(iter(clean_text_list(card.get("license"), 1)[0]), None)

    return ModelCardAnalysis(
        model=facts.model,
        task=task,
        task_source=task_source,
        library=library,
        architectures=architectures,
        model_type=model_type,
        params=size.params,
        params_source=size.params_source,
        dtype=size.dtype,
        size_bytes=size.size_bytes,
        estimated_memory_gb=size.estimated_memory_gb,
        license=license_name,
        gated=gated,
        custom_code=custom_code,
        auto_map=auto_map,
        languages=languages,
        sample_inputs=samples(card.get("widget"), task, model_type, warnings, chat_template=chat_template),
        base_model=base_model,
        tags=tags,
        files=files,
        chat_template=chat_template,
        pipeline_components=components or [],
        has_template=task in TEMPLATE_TASKS,
        warnings=warnings,
    )
