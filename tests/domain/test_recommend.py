"""The runtime recommender (upstream Phase 6 / 8 hardware policy; DESIGN §2, §6; peers.md §6 ZeroGPU)."""

from __future__ import annotations

from typing import Any

import pytest

from space_factory.domain.recommend import (
    CPU_MAX_MEMORY_GB_GENERATIVE,
    CPU_MAX_PARAMS_GENERATIVE,
    recommend_runtime,
)
from space_factory.domain.schemas import ModelCardAnalysis, RuntimeRecommendation


def analysis(**kw: Any) -> ModelCardAnalysis:
    base: dict[str, Any] = {
        "model": "owner/model",
        "task": "text-generation",
        "library": "transformers",
        "params": 124_000_000,
        "params_source": "safetensors",
        "estimated_memory_gb": 1.1,
    }
    return ModelCardAnalysis(**(base | kw))


LLM_7B = {"params": 7_000_000_000, "estimated_memory_gb": 17.3}


def text(rec: RuntimeRecommendation) -> str:
    return " ".join(rec.reasons)


def test_a_small_model_runs_on_free_cpu_basic() -> None:
    rec = recommend_runtime(analysis(), backend="hf")
    assert (rec.primary, rec.fallback, rec.use_fallback, rec.needs_gpu) == ("cpu-basic", None, False, False)
    assert rec.hourly_cost_usd == 0.0
    assert "1.10 GB" in text(rec) and "124.0M parameters" in text(rec)


def test_a_large_llm_gets_zerogpu_first_and_a_recorded_but_unused_fixed_gpu_fallback() -> None:
    rec = recommend_runtime(analysis(**LLM_7B), allow_paid_fallback=True, backend="hf")
    assert (rec.primary, rec.fallback, rec.use_fallback) == ("zero-a10g", "l4x1", False)
    assert rec.needs_gpu and rec.zerogpu_eligible
    assert rec.hourly_cost_usd == 0.0
    assert "The model's 7.00B parameters exceed the 1.00B CPU limit" in text(rec)


def test_zerogpu_with_an_unknown_owner_plan_is_eligible_and_says_pro_is_needed() -> None:
    rec = recommend_runtime(analysis(**LLM_7B), zerogpu_allowed=None)
    assert rec.zerogpu_eligible
    assert any("PRO" in r for r in rec.zerogpu_reasons)


def test_without_zerogpu_or_paid_fallback_the_space_stays_on_cpu_basic_and_says_hardware_is_needed() -> None:
    rec = recommend_runtime(
        analysis(**LLM_7B), zerogpu_allowed=False, allow_paid_fallback=False, backend="hf"
    )
    assert (rec.primary, rec.fallback, rec.use_fallback, rec.zerogpu_eligible) == (
        "cpu-basic",
        "l4x1",
        False,
        False,
    )
    assert rec.hourly_cost_usd == 0.0
    assert "inference will need hardware" in text(rec)
    assert "l4x1 (24 GB GPU memory, $0.80/h)" in text(rec)
    assert any("PRO, Team or Enterprise" in r for r in rec.zerogpu_reasons)


def test_without_zerogpu_an_allowed_paid_fallback_is_planned_and_priced() -> None:
    rec = recommend_runtime(analysis(**LLM_7B), zerogpu_allowed=False, allow_paid_fallback=True, backend="hf")
    assert (rec.primary, rec.fallback, rec.use_fallback) == ("cpu-basic", "l4x1", True)
    assert rec.hourly_cost_usd == 0.80
    assert rec.allow_paid_fallback


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"custom_code": True}, "trust_remote_code"),
        ({"library": "gguf"}, "not PyTorch-based"),
        ({"library": None}, "not PyTorch-based"),
        ({"task": "robot-dancing"}, "Gradio apps only"),
        ({"task": None}, "Gradio apps only"),
        ({"estimated_memory_gb": 70.0}, "does not fit the 48 GB ZeroGPU slice"),
    ],
)
def test_zerogpu_is_not_eligible_when_a_condition_fails_and_the_reason_says_which(
    change: dict[str, Any], reason: str
) -> None:
    rec = recommend_runtime(analysis(**(LLM_7B | change)))
    assert rec.needs_gpu and not rec.zerogpu_eligible
    assert any(reason in r for r in rec.zerogpu_reasons)
    assert rec.primary == "cpu-basic"


def test_a_model_too_big_for_zerogpu_falls_back_to_the_cheapest_gpu_that_holds_it() -> None:
    rec = recommend_runtime(
        analysis(params=35_000_000_000, estimated_memory_gb=70.0), allow_paid_fallback=True
    )
    assert (rec.fallback, rec.use_fallback, rec.hourly_cost_usd) == ("a100-large", True, 2.50)


def test_a_model_no_space_flavor_holds_has_no_fallback_and_says_so() -> None:
    rec = recommend_runtime(analysis(params=10**12, estimated_memory_gb=2000.0), allow_paid_fallback=True)
    assert (rec.primary, rec.fallback, rec.use_fallback) == ("cpu-basic", None, False)
    assert "No fixed GPU flavor holds" in text(rec)


@pytest.mark.parametrize(
    ("task", "params", "memory", "needs_gpu"),
    [
        ("text-generation", CPU_MAX_PARAMS_GENERATIVE, 2.9, False),
        ("text-generation", CPU_MAX_PARAMS_GENERATIVE + 1, 2.9, True),
        ("text-generation", None, CPU_MAX_MEMORY_GB_GENERATIVE, False),
        ("text-generation", None, CPU_MAX_MEMORY_GB_GENERATIVE + 0.01, True),
        ("automatic-speech-recognition", 1_500_000_000, 3.5, True),
        (None, None, 5.0, True),  # unknown task: judged like a generative one
        ("fill-mask", 3_000_000_000, 20.0, False),  # single pass: CPU while the RAM holds it
        ("text-classification", None, 28.0, False),
        ("text-classification", None, 28.5, True),  # more than cpu-upgrade's RAM
        ("text-to-image", None, 4.0, True),
        ("text-to-image", None, None, True),
        ("text-to-image", None, 0.6, False),  # a tiny test pipeline runs on CPU
        ("text-generation", None, None, False),  # nothing known: start on CPU
    ],
)
def test_needs_gpu_follows_the_documented_thresholds(
    task: str | None, params: int | None, memory: float | None, needs_gpu: bool
) -> None:
    rec = recommend_runtime(analysis(task=task, params=params, estimated_memory_gb=memory))
    assert rec.needs_gpu is needs_gpu


@pytest.mark.parametrize(("allow", "use_fallback", "cost"), [(False, False, 0.0), (True, True, 0.03)])
def test_a_cpu_model_too_big_for_cpu_basic_ram_uses_cpu_upgrade_only_when_paid_is_allowed(
    allow: bool, use_fallback: bool, cost: float
) -> None:
    rec = recommend_runtime(
        analysis(task="fill-mask", params=3_000_000_000, estimated_memory_gb=20.0), allow_paid_fallback=allow
    )
    assert (rec.primary, rec.fallback, rec.use_fallback, rec.hourly_cost_usd) == (
        "cpu-basic",
        "cpu-upgrade",
        use_fallback,
        cost,
    )
    assert "20.0 GB is tight in cpu-basic's 16 GB RAM" in text(rec)


def test_a_small_zerogpu_eligible_model_still_runs_on_cpu_and_says_zerogpu_is_not_needed() -> None:
    rec = recommend_runtime(analysis())
    assert rec.primary == "cpu-basic" and rec.zerogpu_eligible
    assert any("not needed" in r for r in rec.zerogpu_reasons)


@pytest.mark.parametrize(("requested", "primary"), [("t4-small", "t4-small"), (" A100-Large ", "a100-large")])
def test_a_valid_requested_flavor_wins_as_primary(requested: str, primary: str) -> None:
    rec = recommend_runtime(
        analysis(**LLM_7B), requested=requested, allow_paid_fallback=True, zerogpu_allowed=False
    )
    assert (rec.primary, rec.use_fallback) == (primary, False)
    assert "as the caller asked" in text(rec)


def test_a_requested_gpu_smaller_than_the_estimate_is_warned_about() -> None:
    rec = recommend_runtime(analysis(**LLM_7B), requested="t4-small")
    assert rec.primary == "t4-small" and rec.hourly_cost_usd == 0.40
    assert "16 GB of GPU memory, less than the about 17.3 GB estimated" in text(rec)


def test_an_unknown_requested_flavor_is_ignored_with_a_reason_and_does_not_raise() -> None:
    rec = recommend_runtime(analysis(**LLM_7B), requested="h100-turbo")
    assert rec.primary == "zero-a10g"
    assert "'h100-turbo' is not a Space flavor; it was ignored" in text(rec)
    assert "t4-small" in text(rec)  # the known flavors are listed


def test_requesting_zerogpu_for_an_unsuitable_model_is_honoured_but_flagged() -> None:
    rec = recommend_runtime(analysis(**LLM_7B, custom_code=True), requested="zero-a10g")
    assert rec.primary == "zero-a10g"
    assert "ZeroGPU was requested although" in text(rec)


@pytest.mark.parametrize(("backend", "mentioned"), [("local", True), ("hf", False)])
def test_the_local_backend_records_the_hub_plan_but_says_the_space_runs_here(
    backend: str, mentioned: bool
) -> None:
    rec = recommend_runtime(analysis(**LLM_7B), backend=backend)
    assert rec.primary == "zero-a10g"
    assert ("On the local backend" in text(rec)) is mentioned


def test_unknown_memory_is_said_plainly() -> None:
    rec = recommend_runtime(analysis(params=None, estimated_memory_gb=None))
    assert rec.primary == "cpu-basic" and rec.estimated_memory_gb is None
    assert "could not be estimated" in text(rec)


def test_reasons_are_full_sentences_and_the_recommendation_is_a_valid_run_record_file() -> None:
    for kw in ({}, LLM_7B, {"estimated_memory_gb": 70.0, "params": 35_000_000_000}):
        rec = recommend_runtime(analysis(**kw), allow_paid_fallback=True, zerogpu_allowed=False)
        assert all(r[0].isupper() and r.endswith(".") for r in rec.reasons + rec.zerogpu_reasons)
        assert RuntimeRecommendation.model_validate_json(rec.model_dump_json()) == rec
