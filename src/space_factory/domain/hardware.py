"""The Space hardware catalog: every flavor huggingface_hub knows, with its accelerator, memory and price.

Prices are Hugging Face's public Spaces prices per hour (https://huggingface.co/pricing#spaces) as of
this writing; a flavor whose price or machine size is not published is `None` there, never a guess.
`zero-a10g` is the legacy id of ZeroGPU: a shared GPU slice (RTX PRO 6000 Blackwell, 48 GB) that is free
for a PRO / Team / Enterprise creator and runs Gradio + PyTorch apps only (peers.md §6).

A test keeps `HardwareFlavor` equal to `huggingface_hub.SpaceHardware`, so a new Hub flavor shows up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_FLAVOR",
    "GPU_FALLBACK_ORDER",
    "HARDWARE",
    "ZEROGPU_FLAVOR",
    "ZEROGPU_VRAM_GB",
    "HardwareFlavor",
    "HardwareSpec",
    "cheapest_gpu_fitting",
    "flavor_spec",
    "is_paid",
]


class HardwareFlavor(StrEnum):
    """A Space hardware flavor; the values are the Hub's wire names (`huggingface_hub.SpaceHardware`)."""

    CPU_BASIC = "cpu-basic"
    CPU_UPGRADE = "cpu-upgrade"
    ZERO_A10G = "zero-a10g"
    T4_SMALL = "t4-small"
    T4_MEDIUM = "t4-medium"
    L4X1 = "l4x1"
    L4X4 = "l4x4"
    L40SX1 = "l40sx1"
    L40SX4 = "l40sx4"
    L40SX8 = "l40sx8"
    A10G_SMALL = "a10g-small"
    A10G_LARGE = "a10g-large"
    A10G_LARGEX2 = "a10g-largex2"
    A10G_LARGEX4 = "a10g-largex4"
    A100_LARGE = "a100-large"
    A100X4 = "a100x4"
    A100X8 = "a100x8"
    RTX_PRO_6000 = "rtx-pro-6000"
    RTX_PRO_6000X2 = "rtx-pro-6000x2"
    RTX_PRO_6000X4 = "rtx-pro-6000x4"
    RTX_PRO_6000X8 = "rtx-pro-6000x8"


@dataclass(frozen=True)
class HardwareSpec:
    """One flavor's machine.

    Attributes:
        flavor: the wire name.
        pretty_name: what the Hub's settings page calls it.
        accelerator: the GPU model (e.g. "Nvidia T4"), or None for a CPU-only flavor.
        gpu_count: number of GPUs (0 for CPU flavors).
        vram_gb: GPU memory in GB, all GPUs together (0 for CPU flavors).
        cpu: vCPUs, or None when not published.
        ram_gb: RAM in GB, or None when not published.
        hourly_usd: public price per hour in USD (0.0 for free flavors), or None when not published.
        paid: whether using the flavor is billed to the Space owner.
        zerogpu: whether this is ZeroGPU (shared, Gradio-only, free for PRO creators).
    """

    flavor: HardwareFlavor
    pretty_name: str
    accelerator: str | None
    gpu_count: int
    vram_gb: int
    cpu: int | None
    ram_gb: int | None
    hourly_usd: float | None
    paid: bool
    zerogpu: bool = False

    @property
    def is_gpu(self) -> bool:
        """True for any flavor with a GPU, ZeroGPU included."""
        return self.gpu_count > 0


def _gpu(
    flavor: HardwareFlavor,
    pretty_name: str,
    accelerator: str,
    gpu_count: int,
    vram_gb: int,
    cpu: int | None,
    ram_gb: int | None,
    hourly_usd: float | None,
) -> HardwareSpec:
    return HardwareSpec(
        flavor, pretty_name, accelerator, gpu_count, vram_gb, cpu, ram_gb, hourly_usd, paid=True
    )


_F = HardwareFlavor

HARDWARE: dict[HardwareFlavor, HardwareSpec] = {
    spec.flavor: spec
    for spec in (
        HardwareSpec(_F.CPU_BASIC, "CPU basic", None, 0, 0, 2, 16, 0.0, paid=False),
        HardwareSpec(_F.CPU_UPGRADE, "CPU upgrade", None, 0, 0, 8, 32, 0.03, paid=True),
        # ZeroGPU: the creator's PRO plan pays for it, so no hourly bill (peers.md §6).
        HardwareSpec(
            _F.ZERO_A10G, "ZeroGPU (Nvidia RTX PRO 6000 slice, PRO creators)",
            "Nvidia RTX PRO 6000 (ZeroGPU)", 1, 48, None, None, 0.0, paid=False, zerogpu=True,
        ),
        _gpu(_F.T4_SMALL, "Nvidia T4 small", "Nvidia T4", 1, 16, 4, 15, 0.40),
        _gpu(_F.T4_MEDIUM, "Nvidia T4 medium", "Nvidia T4", 1, 16, 8, 30, 0.60),
        _gpu(_F.L4X1, "1x Nvidia L4", "Nvidia L4", 1, 24, 8, 30, 0.80),
        _gpu(_F.L4X4, "4x Nvidia L4", "Nvidia L4", 4, 96, 48, 186, 3.80),
        _gpu(_F.L40SX1, "1x Nvidia L40S", "Nvidia L40S", 1, 48, 8, 62, 1.80),
        _gpu(_F.L40SX4, "4x Nvidia L40S", "Nvidia L40S", 4, 192, 48, 382, 8.30),
        _gpu(_F.L40SX8, "8x Nvidia L40S", "Nvidia L40S", 8, 384, 192, 1534, 23.50),
        _gpu(_F.A10G_SMALL, "Nvidia A10G small", "Nvidia A10G", 1, 24, 4, 15, 1.00),
        _gpu(_F.A10G_LARGE, "Nvidia A10G large", "Nvidia A10G", 1, 24, 12, 46, 1.50),
        _gpu(_F.A10G_LARGEX2, "2x Nvidia A10G large", "Nvidia A10G", 2, 48, 24, 92, 3.00),
        _gpu(_F.A10G_LARGEX4, "4x Nvidia A10G large", "Nvidia A10G", 4, 96, 48, 184, 5.00),
        _gpu(_F.A100_LARGE, "Nvidia A100 large", "Nvidia A100", 1, 80, 12, 142, 2.50),
        # Multi-A100 and RTX PRO 6000 Space flavors: GPU memory is the card's (80 / 96 GB each); their
        # Spaces price and machine size were not published when this table was written.
        _gpu(_F.A100X4, "4x Nvidia A100", "Nvidia A100", 4, 320, None, None, None),
        _gpu(_F.A100X8, "8x Nvidia A100", "Nvidia A100", 8, 640, None, None, None),
        _gpu(_F.RTX_PRO_6000, "1x Nvidia RTX PRO 6000", "Nvidia RTX PRO 6000", 1, 96, None, None, None),
        _gpu(_F.RTX_PRO_6000X2, "2x Nvidia RTX PRO 6000", "Nvidia RTX PRO 6000", 2, 192, None, None, None),
        _gpu(_F.RTX_PRO_6000X4, "4x Nvidia RTX PRO 6000", "Nvidia RTX PRO 6000", 4, 384, None, None, None),
        _gpu(_F.RTX_PRO_6000X8, "8x Nvidia RTX PRO 6000", "Nvidia RTX PRO 6000", 8, 768, None, None, None),
    )
}

DEFAULT_FLAVOR = HardwareFlavor.CPU_BASIC
ZEROGPU_FLAVOR = HardwareFlavor.ZERO_A10G
ZEROGPU_VRAM_GB = HARDWARE[ZEROGPU_FLAVOR].vram_gb

# Fixed (paid, dedicated) GPU flavors, cheapest first; an unpublished price sorts last, smaller GPU memory
# first. The first one whose `vram_gb` fits a model is its cheapest fallback.
GPU_FALLBACK_ORDER: tuple[HardwareFlavor, ...] = tuple(
    spec.flavor
    for spec in sorted(
        (s for s in HARDWARE.values() if s.is_gpu and not s.zerogpu),
        key=lambda s: (s.hourly_usd is None, s.hourly_usd or 0.0, s.vram_gb, s.gpu_count),
    )
)


def flavor_spec(name: str) -> HardwareSpec | None:
    """The catalog entry for a flavor name, or None for a name the Hub does not know.

    Args:
        name: a flavor wire name; surrounding spaces and case are ignored.

    Example:
        >>> flavor_spec("t4-small").vram_gb
        16
        >>> flavor_spec("h100") is None
        True
    """
    if not isinstance(name, str):
        return None
    try:
        return HARDWARE[HardwareFlavor(name.strip().lower())]
    except ValueError:
        return None


def is_paid(name: str) -> bool:
    """Whether using flavor `name` is billed to the Space owner.

    An unknown name answers True: a flavor the catalog has not heard of yet (a new Hub GPU) must go
    through the same cost confirmation as any paid one, never slip through as free.

    Example:
        >>> is_paid("cpu-basic"), is_paid("zero-a10g"), is_paid("t4-small"), is_paid("h100")
        (False, False, True, True)
    """
    spec = flavor_spec(name)
    return True if spec is None else spec.paid


def cheapest_gpu_fitting(memory_gb: float | None) -> HardwareSpec | None:
    """The first flavor of `GPU_FALLBACK_ORDER` whose GPU memory holds `memory_gb`.

    Args:
        memory_gb: estimated inference memory in GB; None (unknown) gives the cheapest GPU.

    Returns:
        The spec, or None when no Space flavor has that much GPU memory.

    Example:
        >>> cheapest_gpu_fitting(10.0).flavor.value
        't4-small'
        >>> cheapest_gpu_fitting(30.0).flavor.value
        'l40sx1'
    """
    for flavor in GPU_FALLBACK_ORDER:
        spec = HARDWARE[flavor]
        if memory_gb is None or spec.vram_gb >= memory_gb:
            return spec
    return None
