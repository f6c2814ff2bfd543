"""Space and Job stages: the Hub's wire values, and the named sets the backends, pipeline and gate share."""

from __future__ import annotations

import json

import huggingface_hub
import pydantic
import pytest

from space_factory.domain.stages import (
    ACTIVE_SPACE_STAGES,
    SETTLED_SPACE_STAGES,
    SPACE_BUILD_ERROR_STAGES,
    SPACE_RUNTIME_ERROR_STAGES,
    TERMINAL_JOB_STAGES,
    JobStage,
    SpaceStage,
)


def test_space_stage_covers_every_stage_huggingface_hub_knows() -> None:
    assert {s.value for s in huggingface_hub.SpaceStage} <= {s.value for s in SpaceStage}


def test_job_stage_covers_every_stage_huggingface_hub_knows() -> None:
    assert {s.value for s in huggingface_hub.JobStage} <= {s.value for s in JobStage}


def test_terminal_job_stages_match_huggingface_hub() -> None:
    from huggingface_hub._jobs_api import TERMINAL_JOB_STAGES as HUB_TERMINAL

    assert {s.value for s in HUB_TERMINAL} == set(TERMINAL_JOB_STAGES)


def test_every_hub_space_stage_is_either_settled_or_active_and_only_running_is_both() -> None:
    assert not SPACE_BUILD_ERROR_STAGES & SPACE_RUNTIME_ERROR_STAGES
    every_stage, settled, active = set(SpaceStage) - {SpaceStage.NOT_FOUND}, SETTLED_SPACE_STAGES, ACTIVE_SPACE_STAGES
    assert settled | active == every_stage
    assert settled & active == {SpaceStage.RUNNING}


def test_stages_serialise_as_their_bare_wire_value() -> None:
    """Records written before the enums existed must read, and records written now must look, the same."""

    class Model(pydantic.BaseModel):
        space: SpaceStage
        job: JobStage

    model = Model.model_validate({"space": "RUNNING", "job": "CANCELED"})
    assert model.model_dump_json() == '{"space":"RUNNING","job":"CANCELED"}'
    assert json.dumps({"stage": SpaceStage.BUILD_ERROR}) == '{"stage": "BUILD_ERROR"}'
    assert f"{JobStage.ERROR}" == "ERROR"


def test_a_stage_the_hub_adds_later_parses_but_belongs_to_no_set() -> None:
    """The Hub may report a stage huggingface_hub does not name yet; it must not crash a run."""
    stage = SpaceStage("SLEEPING")
    assert stage == "SLEEPING" and isinstance(stage, SpaceStage)
    assert stage not in SETTLED_SPACE_STAGES | ACTIVE_SPACE_STAGES
    assert JobStage("QUEUED") not in TERMINAL_JOB_STAGES
    assert pydantic.TypeAdapter(SpaceStage).validate_python("SLEEPING") == "SLEEPING"


@pytest.mark.parametrize("raw", ["", "running", "RUNNING; rm -rf /", "A" * 65, 3])
def test_a_value_that_does_not_look_like_a_stage_is_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        SpaceStage(raw)
