"""Weight files and memory: which files hold the weights, how many parameters, and what they take in memory.

Memory rule (used by the hardware recommender): `estimated_memory_gb = weight_bytes × 1.2 / 1e9 + 0.5`,
where `weight_bytes` is what the weights take in the inference dtype. With safetensors headers: each
floating-point tensor at the config's dtype (transformers loads with `dtype="auto"`), other tensors
(int8/fp8/packed quantised weights) as stored. Without them: the weight files' bytes. Without weight
files: a parameter estimate from config.json sizes × the dtype's bytes (float32 when unknown). The 20 %
covers activations, KV cache and buffers for one short request; the 0.5 GB covers the runtime itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from space_factory.domain.analysis.card_values import clean_text, first_int
from space_factory.domain.schemas import FileEntry, JsonDict

__all__ = [
    "MEMORY_BASE_GB",
    "MEMORY_OVERHEAD_FACTOR",
    "ParamsSource",
    "WeightsSize",
    "diffusers_components",
    "dtype_bytes",
    "select_weight_files",
    "weights_size",
]

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
_FLOAT_DTYPES = frozenset({"float64", "float32", "float16", "bfloat16"})

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

ParamsSource = Literal["safetensors", "estimate", "unknown"]


def dtype_bytes(dtype: str | None, default: float = 4.0) -> float:
    """Bytes per element of a torch dtype name or a safetensors code; `default` when unknown.

    Example:
        >>> dtype_bytes("bfloat16"), dtype_bytes("F32"), dtype_bytes(None)
        (2, 4, 4.0)
    """
    if not dtype:
        return default
    return _DTYPE_BYTES.get(_SAFETENSORS_DTYPES.get(dtype, dtype), default)


def diffusers_components(model_index: JsonDict | None) -> list[str] | None:
    """The component folders a diffusers pipeline loads: model_index.json's entries naming a library and a class
    (`"unet": ["diffusers", "UNet2DConditionModel"]`); None when there is no model_index.json.

    Tokenizers, schedulers and feature extractors are components too, but hold no weights; a `[null, null]`
    entry (a removed safety checker) is not loaded.

    Example:
        >>> diffusers_components({"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"],
        ...                       "unet": ["diffusers", "UNet2DConditionModel"], "safety_checker": [None, None]})
        ['vae', 'unet']
    """
    if not isinstance(model_index, dict):
        return None
    names: list[str] = []
    for key, value in list(model_index.items())[:50]:
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        if all(isinstance(part, str) and part for part in value) and "/" not in key and key not in ("", ".", ".."):
            names.append(key[:100])
    return names


def select_weight_files(files: Sequence[FileEntry], *, components: Sequence[str] | None = None) -> list[FileEntry]:
    """The files holding the weights a runtime would load, without duplicate copies.

    Rules: only the most preferred format present counts (safetensors, then .bin/.pt/.pth/.ckpt, then
    .onnx, then .gguf); training leftovers (`training_args.bin`, optimizer states) are not weights; a
    diffusers variant (`x.fp16.safetensors`) is dropped when `x.safetensors` exists; in a diffusers repo
    (`model_index.json`) single-file checkpoints at the root are dropped when component folders hold
    weights, and with `components` (`diffusers_components`) only those folders count; `consolidated*`
    files are dropped beside other weights of the same folder; and of .onnx or
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
        if components is not None:
            loaded = {f"{name}/" for name in components}
            candidates = [f for f in candidates if any(f.path.startswith(folder) for folder in loaded)]
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


def _config_params(config: JsonDict) -> int | None:
    """Rough transformer parameter count from config sizes: V·h + L·(4h² + 2h·I)."""
    text_config = config.get("text_config")
    if "hidden_size" not in config and isinstance(text_config, dict):
        config = text_config
    hidden = first_int(config, ("hidden_size", "n_embd", "d_model"), 1_000_000)
    layers = first_int(config, ("num_hidden_layers", "n_layer", "num_layers"), 10_000)
    vocab = first_int(config, ("vocab_size",), 100_000_000)
    if hidden is None or layers is None or vocab is None:
        return None
    layers += first_int(config, ("num_decoder_layers",), 10_000) or 0
    inter = first_int(config, ("intermediate_size", "n_inner", "d_ff"), 10_000_000) or 4 * hidden
    return vocab * hidden + layers * (4 * hidden * hidden + 2 * hidden * inter)


def _config_dtype(config: JsonDict) -> str | None:
    for source in (config, config.get("text_config")):
        if isinstance(source, dict):
            for key in ("dtype", "torch_dtype"):
                name = clean_text(source.get(key), 40)
                if name:
                    name = name.lower().removeprefix("torch.")
                    if name in _DTYPE_BYTES:
                        return name
    return None


@dataclass(frozen=True)
class WeightsSize:
    """What the weights weigh, by the module's memory rule.

    Attributes:
        dtype: the inference dtype (config.json's, else the dominant safetensors dtype), or None.
        params: the parameter count, or None when nothing tells it.
        params_source: where `params` comes from.
        size_bytes: the weight files' bytes, or None when no size is known.
        estimated_memory_gb: the memory estimate, or None without any weight information.
    """

    dtype: str | None
    params: int | None
    params_source: ParamsSource
    size_bytes: int | None
    estimated_memory_gb: float | None


def weights_size(weights: list[FileEntry], safetensors_params: dict[str, int], config: JsonDict) -> WeightsSize:
    """Size, parameter count and memory estimate of `weights` (from `select_weight_files`), by the memory rule.

    Example:
        >>> weights_size([FileEntry(path="model.safetensors", size=400)], {"F32": 100}, {})
        WeightsSize(dtype='float32', params=100, params_source='safetensors', size_bytes=400, estimated_memory_gb=0.5)
    """
    sizes = [f.size for f in weights if f.size is not None and f.size >= 0]
    size_bytes = sum(sizes) if sizes else None
    st_counts = {k: v for k, v in safetensors_params.items() if v > 0}
    dtype = _config_dtype(config)
    if dtype is None and st_counts:
        dominant = max(st_counts, key=lambda k: st_counts[k])
        dtype = _SAFETENSORS_DTYPES.get(dominant, clean_text(dominant, 16))
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
    return WeightsSize(dtype, params, params_source, size_bytes, memory)
