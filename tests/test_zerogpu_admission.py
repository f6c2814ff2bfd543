"""A build that needs a ZeroGPU slot the owner no longer has is refused at launch, before any run or job
exists (issue 13 §7). The backend's parts are stand-ins here: a hosting plan with a fixed count, a model
source with fixed facts, a job runner that records launches; the Hub-backed path is in the e2e tests.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from space_factory.backends.base import JobStatus
from space_factory.domain import layout
from space_factory.domain.errors import NoZeroGpuSlot
from space_factory.domain.plans import AccountPlan, ZeroGpuSlots
from space_factory.domain.schemas import BuildOptions, ModelFacts
from space_factory.domain.stages import JobStage
from space_factory.service import Factory
from tests.tools.helpers import make_factory

FREE = AccountPlan("user", is_pro=False, email_verified=True)
LLM_7B = ModelFacts(model="org/llm-7b", card_data={"pipeline_tag": "text-generation", "library_name": "transformers"},
                    safetensors_params={"BF16": 7_000_000_000})
SMALL = ModelFacts(model="org/tiny-cls", card_data={"pipeline_tag": "text-classification",
                                                    "library_name": "transformers"},
                   safetensors_params={"F32": 4_000_000})


@dataclasses.dataclass
class Slots:
    holders: tuple[str, ...]
    counted: int = 0

    def zerogpu_slots(self) -> ZeroGpuSlots:
        self.counted += 1
        return ZeroGpuSlots.count("tester", FREE, self.holders)


@dataclasses.dataclass
class Models:
    facts: dict[str, ModelFacts]
    read: list[str] = dataclasses.field(default_factory=list)

    def model_facts(self, model: str) -> ModelFacts:
        self.read.append(model)
        return self.facts[model]


@dataclasses.dataclass
class Jobs:
    launched: list[str] = dataclasses.field(default_factory=list)

    def launch(self, run_id: str) -> JobStatus:
        self.launched.append(run_id)
        return JobStatus(id=f"job-{len(self.launched)}", stage=JobStage.RUNNING)

    def status(self, job_id: str) -> JobStatus:
        return JobStatus(id=job_id, stage=JobStage.RUNNING)

    def cancel(self, job_id: str) -> JobStatus:
        return JobStatus(id=job_id, stage=JobStage.CANCELED)


def factory_with(tmp_path: Path, holders: tuple[str, ...]) -> tuple[Factory, Slots, Models, Jobs]:
    base = make_factory(tmp_path, backend_name="hf")
    slots, models, jobs = Slots(holders), Models({"org/llm-7b": LLM_7B, "org/tiny-cls": SMALL}), Jobs()
    backend = dataclasses.replace(base.backend, hosting=slots, models=models, jobs=jobs, zerogpu_allowed=True)
    return Factory(base.settings, backend), slots, models, jobs


def test_a_free_account_with_both_slots_taken_is_refused_before_any_run_or_job(tmp_path: Path) -> None:
    factory, slots, _, jobs = factory_with(tmp_path, ("tester/a", "tester/b"))
    started = time.monotonic()
    with pytest.raises(NoZeroGpuSlot) as caught:
        factory.launch("org/llm-7b")
    refused_in = time.monotonic() - started
    assert "tester/a, tester/b" in str(caught.value) and "Nothing was started" in str(caught.value)
    assert jobs.launched == [] and factory.backend.bucket.list(layout.RUNS_PREFIX) == [] and slots.counted == 1
    print(f"\n[zerogpu] refused in {refused_in * 1000:.1f} ms (stand-in backend: 1 count, 1 model read)")


def test_the_same_account_is_admitted_while_a_slot_is_left(tmp_path: Path) -> None:
    factory, _, models, jobs = factory_with(tmp_path, ("tester/a",))
    state = factory.launch("org/llm-7b")
    assert jobs.launched == [state.run_id] and models.read == []  # a slot left: the model is not even read


@pytest.mark.parametrize(("model", "options"), [
    ("org/tiny-cls", BuildOptions()),  # a CPU model needs no slot
    ("org/llm-7b", BuildOptions(allow_paid_fallback=True)),  # a paid GPU is planned instead
    ("org/llm-7b", BuildOptions(hardware="cpu-basic")),  # the caller chose the hardware
])
def test_a_build_that_would_not_run_on_zerogpu_is_never_refused_for_a_slot(tmp_path: Path, model: str,
                                                                          options: BuildOptions) -> None:
    factory, _, _, jobs = factory_with(tmp_path, ("tester/a", "tester/b"))
    state = factory.launch(model, options=options)
    assert jobs.launched == [state.run_id]


def test_asking_for_zerogpu_with_no_slot_is_refused_without_reading_the_model(tmp_path: Path) -> None:
    factory, _, models, jobs = factory_with(tmp_path, ("tester/a", "tester/b"))
    with pytest.raises(NoZeroGpuSlot):
        factory.launch("org/tiny-cls", options=BuildOptions(hardware="zero-a10g"))
    assert models.read == [] and jobs.launched == []


def test_a_relaunch_with_a_claimed_key_answers_its_run_and_is_not_refused_for_its_own_slot(tmp_path: Path) -> None:
    factory, slots, _, jobs = factory_with(tmp_path, ("tester/a",))
    first = factory.launch("org/llm-7b", options=BuildOptions(idempotency_key="k1"))
    slots.holders = ("tester/a", "tester/llm-7b-demo")  # the first run's Space now holds the last slot
    again = factory.launch("org/llm-7b", options=BuildOptions(idempotency_key="k1"))
    assert again.run_id == first.run_id and jobs.launched == [first.run_id]
