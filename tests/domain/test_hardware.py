"""The hardware catalog (DESIGN §2, §6; hf-apis.md §1.5; Hugging Face's public Spaces pricing)."""

from __future__ import annotations

import huggingface_hub
import pytest

from space_factory.domain.hardware import (
    GPU_FALLBACK_ORDER,
    HARDWARE,
    ZEROGPU_FLAVOR,
    ZEROGPU_VRAM_GB,
    HardwareFlavor,
    cheapest_gpu_fitting,
    flavor_spec,
    is_paid,
)


def test_hardware_flavor_enum_equals_every_space_flavor_huggingface_hub_knows() -> None:
    """A new Hub flavor must show up here first (hf-apis.md §1.5: 21 SpaceHardware values)."""
    assert {f.value for f in HardwareFlavor} == {h.value for h in huggingface_hub.SpaceHardware}


def test_every_flavor_has_exactly_one_catalog_entry_keyed_by_itself() -> None:
    assert set(HARDWARE) == set(HardwareFlavor)
    assert all(spec.flavor is flavor for flavor, spec in HARDWARE.items())


@pytest.mark.parametrize(
    ("flavor", "hourly_usd", "vram_gb", "cpu", "ram_gb"),
    [
        ("cpu-basic", 0.0, 0, 2, 16),
        ("cpu-upgrade", 0.03, 0, 8, 32),
        ("t4-small", 0.40, 16, 4, 15),
        ("t4-medium", 0.60, 16, 8, 30),
        ("l4x1", 0.80, 24, 8, 30),
        ("l4x4", 3.80, 96, 48, 186),
        ("l40sx1", 1.80, 48, 8, 62),
        ("l40sx4", 8.30, 192, 48, 382),
        ("l40sx8", 23.50, 384, 192, 1534),
        ("a10g-small", 1.00, 24, 4, 15),
        ("a10g-large", 1.50, 24, 12, 46),
        ("a10g-largex2", 3.00, 48, 24, 92),
        ("a10g-largex4", 5.00, 96, 48, 184),
        ("a100-large", 2.50, 80, 12, 142),
        ("a100x4", None, 320, None, None),
        ("rtx-pro-6000x8", None, 768, None, None),
    ],
)
def test_catalog_holds_the_public_price_and_machine_size(
    flavor: str, hourly_usd: float | None, vram_gb: int, cpu: int | None, ram_gb: int | None
) -> None:
    """Hugging Face's public Spaces pricing; unpublished values are None, not guesses."""
    spec = HARDWARE[HardwareFlavor(flavor)]
    assert (spec.hourly_usd, spec.vram_gb, spec.cpu, spec.ram_gb) == (hourly_usd, vram_gb, cpu, ram_gb)


def test_zerogpu_is_a_free_48_gb_gpu_slice() -> None:
    """peers.md §6: ZeroGPU runs on RTX PRO 6000 slices of 48 GB, free for PRO creators."""
    spec = HARDWARE[ZEROGPU_FLAVOR]
    assert ZEROGPU_FLAVOR == "zero-a10g"
    assert (spec.zerogpu, spec.paid, spec.vram_gb, spec.hourly_usd, spec.is_gpu) == (
        True,
        False,
        48,
        0.0,
        True,
    )
    assert ZEROGPU_VRAM_GB == 48


def test_only_cpu_basic_and_zerogpu_are_free() -> None:
    free = {flavor.value for flavor, spec in HARDWARE.items() if not spec.paid}
    assert free == {"cpu-basic", "zero-a10g"}


def test_cpu_flavors_have_no_gpu_and_gpu_flavors_name_their_accelerator() -> None:
    for spec in HARDWARE.values():
        if spec.flavor.value.startswith("cpu-"):
            assert (spec.accelerator, spec.gpu_count, spec.vram_gb, spec.is_gpu) == (None, 0, 0, False)
        else:
            assert spec.accelerator and spec.accelerator.startswith("Nvidia ")
            assert spec.gpu_count >= 1 and spec.vram_gb % spec.gpu_count == 0


def test_gpu_fallback_order_lists_every_fixed_gpu_cheapest_first_and_unpriced_last() -> None:
    specs = [HARDWARE[f] for f in GPU_FALLBACK_ORDER]
    assert {s.flavor for s in specs} == {s.flavor for s in HARDWARE.values() if s.is_gpu and not s.zerogpu}
    priced = [s.hourly_usd for s in specs if s.hourly_usd is not None]
    assert priced == sorted(priced)
    first_unpriced = next(i for i, s in enumerate(specs) if s.hourly_usd is None)
    assert all(s.hourly_usd is None for s in specs[first_unpriced:])
    assert GPU_FALLBACK_ORDER[0] == "t4-small"


@pytest.mark.parametrize(
    ("memory_gb", "expected"),
    [
        (None, "t4-small"),
        (0.5, "t4-small"),
        (16.0, "t4-small"),
        (16.01, "l4x1"),
        (24.0, "l4x1"),
        (30.0, "l40sx1"),
        (60.0, "a100-large"),
        (90.0, "l4x4"),
        (150.0, "l40sx4"),
        (300.0, "l40sx8"),
        (500.0, "a100x8"),
        (700.0, "rtx-pro-6000x8"),
        (1000.0, None),
    ],
)
def test_cheapest_gpu_fitting_picks_the_first_fallback_whose_gpu_memory_holds_the_model(
    memory_gb: float | None, expected: str | None
) -> None:
    spec = cheapest_gpu_fitting(memory_gb)
    assert (spec.flavor.value if spec else None) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("t4-small", "t4-small"),
        (" T4-Small ", "t4-small"),
        ("ZERO-A10G", "zero-a10g"),
        ("h100", None),
        ("", None),
    ],
)
def test_flavor_spec_ignores_case_and_spaces_and_answers_none_for_an_unknown_name(
    name: str, expected: str | None
) -> None:
    spec = flavor_spec(name)
    assert (spec.flavor.value if spec else None) == expected


def test_flavor_spec_answers_none_for_a_value_that_is_not_text() -> None:
    assert flavor_spec(None) is None  # type: ignore[arg-type]
    assert flavor_spec(16) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "paid"),
    [("cpu-basic", False), ("zero-a10g", False), ("cpu-upgrade", True), ("a100-large", True), ("h100", True)],
)
def test_is_paid_treats_an_unknown_flavor_as_paid_so_it_never_skips_cost_confirmation(
    name: str, paid: bool
) -> None:
    assert is_paid(name) is paid


def test_hardware_flavor_values_are_the_wire_strings() -> None:
    """STYLE R3: closed sets are str enums whose values are the wire values."""
    assert HardwareFlavor.L40SX1 == "l40sx1"
    assert f"{HardwareFlavor.A10G_LARGE}" == "a10g-large"
