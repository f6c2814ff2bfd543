"""The runtime recommender (upstream Phase 6 / Phase 8 policy, DESIGN §2 and §6): which Space hardware a
model needs, ZeroGPU first, a paid fixed GPU only when the caller allows it.

Pure: `recommend_runtime(analysis)` returns the `RuntimeRecommendation` written to
`runtime_recommendation.json`.

The rule, in order:

1. **Does it need a GPU?** Yes when any of these holds:
   - the task generates images or video (`GPU_TASKS`), unless the model is tiny (≤ `TINY_MODEL_MAX_GB`,
     e.g. a test pipeline);
   - the estimated memory exceeds `CPU_UPGRADE_MAX_MEMORY_GB` (no CPU flavor has the RAM);
   - the task generates step by step (`GENERATIVE_TASKS`, or a task the factory does not know) and
     the model has more than `CPU_MAX_PARAMS_GENERATIVE` parameters or needs more than
     `CPU_MAX_MEMORY_GB_GENERATIVE`: a demo request would take minutes on 2 vCPUs.
   Single-pass tasks (classification, embeddings, fill-mask, …) stay on CPU up to the RAM limits.
2. **CPU:** `cpu-basic` (2 vCPU, 16 GB, free) up to `CPU_BASIC_MAX_MEMORY_GB`; above that `cpu-upgrade`
   (32 GB, $0.03/h) is the fallback, used only with `allow_paid_fallback` (nothing paid is planned unasked).
3. **GPU:** ZeroGPU (`zero-a10g`, 48 GB slice) when eligible: a task the factory knows (its apps are
   Gradio), a PyTorch library, memory within the slice, no custom code, and a creator who may use it.
   The fixed-GPU fallback is the cheapest flavor whose GPU memory fits, always recorded; it is planned
   (`use_fallback`) only when ZeroGPU is not eligible and `allow_paid_fallback` is set. Otherwise the Space
   starts on `cpu-basic` and inference waits for hardware (the gate may report `manual_hardware_required`).
4. A valid `requested` flavor wins as primary; an unknown one is noted in `reasons` and ignored.
"""

from __future__ import annotations

from space_factory.domain.hardware import (
    DEFAULT_FLAVOR,
    HARDWARE,
    ZEROGPU_FLAVOR,
    ZEROGPU_VRAM_GB,
    HardwareFlavor,
    HardwareSpec,
    cheapest_gpu_fitting,
    flavor_spec,
)
from space_factory.domain.schemas import BackendName, ModelCardAnalysis, RuntimeRecommendation
from space_factory.domain.tasks import task_spec

__all__ = [
    "CPU_BASIC_MAX_MEMORY_GB",
    "CPU_MAX_MEMORY_GB_GENERATIVE",
    "CPU_MAX_PARAMS_GENERATIVE",
    "CPU_UPGRADE_MAX_MEMORY_GB",
    "GENERATIVE_TASKS",
    "GPU_TASKS",
    "TINY_MODEL_MAX_GB",
    "recommend_runtime",
]

CPU_MAX_PARAMS_GENERATIVE = 1_000_000_000
CPU_MAX_MEMORY_GB_GENERATIVE = 3.0
CPU_BASIC_MAX_MEMORY_GB = 12.0  # of cpu-basic's 16 GB RAM; the rest is for the OS, Python and Gradio
CPU_UPGRADE_MAX_MEMORY_GB = 28.0  # of cpu-upgrade's 32 GB RAM
TINY_MODEL_MAX_GB = 1.0
GPU_TASKS = frozenset({
    "text-to-image", "image-to-image", "text-to-video", "image-to-video", "video-to-video",
    "text-to-3d", "image-to-3d", "unconditional-image-generation",
})
GENERATIVE_TASKS = frozenset({
    "text-generation", "text2text-generation", "summarization", "translation", "image-to-text",
    "image-text-to-text", "automatic-speech-recognition", "text-to-speech", "text-to-audio",
    "visual-question-answering", "any-to-any",
})
TORCH_LIBRARIES = frozenset({"transformers", "diffusers", "sentence-transformers"})


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n:,}"


def _price(spec: HardwareSpec) -> str:
    if spec.hourly_usd is None:
        return "price not published"
    return "free" if spec.hourly_usd == 0 else f"${spec.hourly_usd:.2f}/h"


def _gpu_label(spec: HardwareSpec) -> str:
    return f"{spec.flavor.value} ({spec.vram_gb} GB GPU memory, {_price(spec)})"


def _gpu_need(analysis: ModelCardAnalysis) -> list[str]:
    """Why the model needs a GPU (empty when CPU will do)."""
    memory, params, task = analysis.estimated_memory_gb, analysis.params, analysis.task
    why: list[str] = []
    if task in GPU_TASKS and (memory is None or memory > TINY_MODEL_MAX_GB):
        why.append(f"Task {task!r} generates images or video, which takes minutes per request on a CPU.")
    if memory is not None and memory > CPU_UPGRADE_MAX_MEMORY_GB:
        why.append(f"About {memory:.1f} GB is more than any CPU flavor holds "
                   f"(cpu-upgrade has 32 GB RAM, {CPU_UPGRADE_MAX_MEMORY_GB:.0f} GB usable).")
    if task_spec(task) is None or task in GENERATIVE_TASKS:
        kind = "a task the factory does not know" if task_spec(task) is None else f"task {task!r}"
        if params is not None and params > CPU_MAX_PARAMS_GENERATIVE:
            limit = _params(CPU_MAX_PARAMS_GENERATIVE)
            why.append(f"The model's {_params(params)} parameters exceed the {limit} CPU limit for {kind}, "
                       "which generates step by step: too slow on 2 vCPUs.")
        elif memory is not None and memory > CPU_MAX_MEMORY_GB_GENERATIVE:
            why.append(f"About {memory:.1f} GB exceeds the {CPU_MAX_MEMORY_GB_GENERATIVE:.0f} GB CPU limit "
                       f"for {kind}, which generates step by step: too slow on 2 vCPUs.")
    return why


def _zerogpu(analysis: ModelCardAnalysis, zerogpu_allowed: bool | None) -> tuple[bool, list[str]]:
    """ZeroGPU eligibility and the reasons, one sentence per condition that failed (or a summary)."""
    memory = analysis.estimated_memory_gb
    failed: list[str] = []
    if task_spec(analysis.task) is None:
        failed.append(f"Task {analysis.task!r} is not one the factory builds a Gradio app for, "
                      "and ZeroGPU runs Gradio apps only.")
    if analysis.library not in TORCH_LIBRARIES:
        failed.append(f"Library {analysis.library!r} is not PyTorch-based (transformers, diffusers, "
                      "sentence-transformers); ZeroGPU runs PyTorch only.")
    if memory is not None and memory > ZEROGPU_VRAM_GB:
        failed.append(f"About {memory:.1f} GB does not fit the {ZEROGPU_VRAM_GB} GB ZeroGPU slice.")
    if analysis.custom_code:
        failed.append("The model needs its own code (trust_remote_code), which the factory does not run "
                      "on ZeroGPU's shared GPUs.")
    if zerogpu_allowed is False:
        failed.append("The Space's owner cannot host another ZeroGPU Space: its plan allows none or its slots are "
                      "taken (a free account in good standing hosts 2; PRO, Team or Enterprise accounts more).")
    if failed:
        return False, failed
    fit = f"about {memory:.1f} GB fits" if memory is not None else "the memory need is unknown but may fit"
    reasons = [f"ZeroGPU is possible: a Gradio app for task {analysis.task!r} on {analysis.library}, "
               f"and {fit} the {ZEROGPU_VRAM_GB} GB slice."]
    if zerogpu_allowed is None:
        reasons.append("Whether the owner has a ZeroGPU slot is not known (a free account in good standing hosts 2 "
                       "ZeroGPU Spaces, a PRO account 10).")
    return True, reasons


def recommend_runtime(
    analysis: ModelCardAnalysis,
    *,
    requested: str | None = None,
    allow_paid_fallback: bool = False,
    zerogpu_allowed: bool | None = None,
    backend: BackendName = "local",
) -> RuntimeRecommendation:
    """Recommend the Space hardware for an analysed model.

    Args:
        analysis: the model card analysis.
        requested: a flavor the caller asked for; wins when valid, is ignored (with a reason) when not.
        allow_paid_fallback: whether a paid flavor (fixed GPU, cpu-upgrade) may be planned.
        zerogpu_allowed: whether the Space's owner may use ZeroGPU (PRO); None when unknown.
        backend: "local" or "hf"; on "local" the plan is what the Hub would get, the Space runs here.

    Returns:
        The recommendation; never raises for an odd analysis or an unknown flavor.

    Example:
        >>> from space_factory.domain.schemas import ModelCardAnalysis
        >>> big = ModelCardAnalysis(model="o/llm", task="text-generation", library="transformers",
        ...                         params=7_000_000_000, estimated_memory_gb=17.3)
        >>> r = recommend_runtime(big, backend="hf")
        >>> r.primary, r.fallback, r.use_fallback, r.needs_gpu
        ('zero-a10g', 'l4x1', False, True)
    """
    memory = analysis.estimated_memory_gb
    reasons: list[str] = []
    if memory is not None:
        params = analysis.params
        size = f" for {_params(params)} parameters ({analysis.params_source})" if params else ""
        reasons.append(f"Estimated inference memory is about {memory:.2f} GB{size}.")
        if analysis.pipeline_components:
            reasons.append("The estimate counts the weights of the diffusers components model_index.json names: "
                           f"{', '.join(analysis.pipeline_components[:12])}.")
    else:
        reasons.append("The memory need could not be estimated (no weight sizes or config sizes found).")

    gpu_why = _gpu_need(analysis)
    needs_gpu = bool(gpu_why)
    eligible, zerogpu_reasons = _zerogpu(analysis, zerogpu_allowed)
    reasons.extend(gpu_why)

    primary: HardwareFlavor = DEFAULT_FLAVOR
    fallback: HardwareSpec | None = None
    if needs_gpu:
        fallback = cheapest_gpu_fitting(memory)
        if fallback is None:
            reasons.append(f"No fixed GPU flavor holds about {memory} GB; the model needs a multi-node setup "
                           "the Spaces do not offer.")
        if eligible:
            primary = ZEROGPU_FLAVOR
            reasons.append("ZeroGPU (zero-a10g, 48 GB slice, free within the owner's ZeroGPU slots) is the primary "
                           "hardware.")
            if fallback is not None:
                reasons.append(f"If ZeroGPU cannot be had, the fixed-GPU fallback is {_gpu_label(fallback)}, "
                               "requested only when paid fallback is allowed.")
        elif allow_paid_fallback and fallback is not None:
            reasons.append("ZeroGPU is not possible; with paid fallback allowed the Space starts on "
                           f"cpu-basic and requests {_gpu_label(fallback)}.")
        else:
            hint = (f" Request {_gpu_label(fallback)} or relaunch with allow_paid_fallback=True."
                    if fallback is not None else "")
            reasons.append("ZeroGPU is not possible and paid fallback is not allowed: the Space starts on "
                           "cpu-basic and inference will need hardware the user must grant." + hint)
    elif memory is not None and memory > CPU_BASIC_MAX_MEMORY_GB:
        fallback = HARDWARE[HardwareFlavor.CPU_UPGRADE]
        verb = "requests" if allow_paid_fallback else "would need (pass allow_paid_fallback=True)"
        reasons.append(f"A CPU will do, but about {memory:.1f} GB is tight in cpu-basic's 16 GB RAM: the "
                       f"Space starts on cpu-basic and {verb} cpu-upgrade (32 GB RAM, {_price(fallback)}).")
    else:
        reasons.append("A CPU will do: the Space runs on cpu-basic (2 vCPU, 16 GB RAM, free).")
        if eligible:
            zerogpu_reasons.append("ZeroGPU is not needed for this model.")
    use_fallback = fallback is not None and allow_paid_fallback and not (needs_gpu and eligible)

    if requested is not None:
        wanted = flavor_spec(requested)
        if wanted is None:
            reasons.append(f"Requested hardware {requested[:60]!r} is not a Space flavor; it was ignored. "
                           f"Known flavors: {', '.join(f.value for f in HardwareFlavor)}.")
        else:
            primary, use_fallback = wanted.flavor, False
            reasons.append(f"Requested hardware {wanted.flavor.value} ({_price(wanted)}) is the primary, "
                           "as the caller asked.")
            if wanted.is_gpu and memory is not None and wanted.vram_gb < memory:
                reasons.append(f"{wanted.flavor.value} has {wanted.vram_gb} GB of GPU memory, less than the "
                               f"about {memory:.1f} GB estimated: loading may fail.")
            if wanted.zerogpu and not eligible:
                reasons.append("ZeroGPU was requested although the checks above find it unsuitable.")

    if backend == "local":
        reasons.append("On the local backend the Space runs on this machine's CPU (or its own GPU); the "
                       "flavors above are what the hf backend would use on the Hub.")
    chosen = fallback if use_fallback and fallback is not None else HARDWARE[primary]
    return RuntimeRecommendation(
        primary=primary.value,
        fallback=fallback.flavor.value if fallback is not None else None,
        use_fallback=use_fallback,
        estimated_memory_gb=memory,
        needs_gpu=needs_gpu,
        zerogpu_eligible=eligible,
        zerogpu_reasons=zerogpu_reasons,
        allow_paid_fallback=allow_paid_fallback,
        hourly_cost_usd=chosen.hourly_usd,
        reasons=reasons,
    )
