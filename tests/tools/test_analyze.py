"""analyze_model through the in-memory client, in both eras: the analysis and hardware plan, no build (DESIGN §7)."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client

from space_factory.service import Factory
from tests.conftest import HF_HOME
from tests.support.tiny_models import install_into_cache
from tests.tools.helpers import call, call_error

pytestmark = pytest.mark.anyio

CARD = """---
pipeline_tag: text-classification
library_name: transformers
license: apache-2.0
widget:
- text: this movie was great
---

# card-only model

A card and a config, no weights: enough for the analysis.
"""


@pytest.fixture(scope="module")
def card_only_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A model laid into the session's HF cache with a card and config.json only (no weights, nothing downloaded)."""
    src = tmp_path_factory.mktemp("card-only")
    (src / "README.md").write_text(CARD)
    (src / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"],
                                                 "model_type": "bert", "hidden_size": 32}))
    install_into_cache(src, "factory-test/card-only", HF_HOME)
    return "factory-test/card-only"


async def test_analyze_model_returns_the_analysis_and_the_hardware_plan_without_a_run(
        client: Client, factory: Factory, card_only_model: str) -> None:
    out = await call(client, "analyze_model", {"model": f"https://huggingface.co/{card_only_model}"})
    analysis, plan = out["analysis"], out["recommendation"]
    assert analysis["model"] == card_only_model and analysis["task"] == "text-classification"
    assert analysis["has_template"] is True and analysis["license"] == "apache-2.0"
    assert plan["primary"] and isinstance(plan["reasons"], list)
    assert await anyio.to_thread.run_sync(factory.list_runs) == []  # analysis starts nothing


async def test_analyze_model_takes_a_task_override(client: Client, card_only_model: str) -> None:
    out = await call(client, "analyze_model", {"model": card_only_model, "task": "fill-mask"})
    assert out["analysis"]["task"] == "fill-mask" and out["analysis"]["task_source"] == "override"


async def test_analyze_model_of_a_model_not_in_the_source_is_a_tool_error(client: Client) -> None:
    text = await call_error(client, "analyze_model", {"model": "factory-test/not-in-the-cache"})
    assert "model not found" in text and "factory-test/not-in-the-cache" in text


async def test_analyze_model_with_an_invalid_id_names_the_rule(client: Client) -> None:
    text = await call_error(client, "analyze_model", {"model": "https://huggingface.co/datasets/a/b"})
    assert "invalid model id" in text and "names a dataset" in text


def test_task_names_of_the_tools_are_the_task_catalog() -> None:
    """The tools' task enum is the domain's task catalog, so a new template shows up in the schema."""
    from typing import get_args

    from space_factory.domain.tasks import TASKS
    from space_factory.tools.params import TaskName

    assert set(get_args(TaskName)) == set(TASKS)
