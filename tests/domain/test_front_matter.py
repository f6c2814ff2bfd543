"""The Space README front matter holds only values the Hub's validate-yaml accepts (issue 13 §4).

The lists and their sources are in `domain/front_matter.py`; these tests pin the rules and check every
generated README (each template, each kind of hardware plan, odd card licenses) against them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from space_factory.domain.front_matter import (
    HUB_LICENSES,
    LICENSE_NAME_PATTERN,
    SHORT_DESCRIPTION_MAX,
    SPACE_COLORS,
    SUGGESTED_HARDWARE,
    LicenseFields,
    card_license,
    suggested_hardware,
)
from space_factory.domain.hardware import HardwareFlavor
from space_factory.domain.schemas import ModelCardAnalysis, RuntimeRecommendation
from space_factory.domain.tasks import TEMPLATE_TASKS
from space_factory.worker.generate import generate_app
from tests.hub_emulator.cards import card_errors

CARD_LICENSES = [None, "mit", "Apache-2.0", " llama3.1 ", "other", "Llama 3 Community License",
                 "cc-by-nc-4.0 AND mit", "见 LICENSE 文件", "???", "x" * 300, "gpl-3.0-or-later"]


def front_matter_problems(front: dict[str, object]) -> list[str]:
    """What the Hub's documented rules refuse in a front matter, for the fields the factory writes."""
    problems: list[str] = []
    if front.get("sdk") != "gradio":
        problems.append("sdk")
    for key in ("colorFrom", "colorTo"):
        if front.get(key) not in SPACE_COLORS:
            problems.append(key)
    if len(str(front.get("short_description", ""))) > SHORT_DESCRIPTION_MAX:
        problems.append("short_description")
    license_id = front.get("license")
    if license_id is not None and license_id not in HUB_LICENSES:
        problems.append("license")
    name = front.get("license_name")
    if (name is None) != (license_id != "other") or (name is not None and not LICENSE_NAME_PATTERN.match(str(name))):
        problems.append("license_name")
    hardware = front.get("suggested_hardware")
    if hardware is not None and hardware not in {f.value for f in SUGGESTED_HARDWARE}:
        problems.append("suggested_hardware")
    return problems


def test_hub_license_identifiers_keep_their_spelling_and_the_rest_become_other_with_a_name() -> None:
    assert card_license("Apache-2.0") == LicenseFields("apache-2.0")
    assert card_license(" llama3.1 ") == LicenseFields("llama3.1")
    assert card_license("Llama 3 Community License") == LicenseFields("other", "llama-3-community-license")
    assert card_license("gpl-3.0-or-later") == LicenseFields("other", "gpl-3.0-or-later")
    assert card_license(None) is None and card_license("见 LICENSE 文件") == LicenseFields("other", "license")
    assert card_license("???") is None
    assert {"apache-2.0", "mit", "llama3.3", "gemma", "eupl-1.2", "other", "unknown"} <= HUB_LICENSES


def test_the_emulators_validate_yaml_refuses_what_the_hub_refuses() -> None:
    assert card_errors("---\nsdk: gradio\nlicense: Apache License 2.0\n---\n")[0].startswith('"license" must be')
    assert card_errors("---\nlicense: other\nlicense_name: My License\n---\n")[0].startswith('"license_name"')
    assert card_errors("---\nsuggested_hardware: zero-a10g\ncolorFrom: teal\n---\n") == [
        '"colorFrom" must be one of [blue, gray, green, indigo, pink, purple, red, yellow]',
        '"suggested_hardware" must be one of [a100-large, a100x4, a100x8, a10g-large, a10g-largex2, a10g-largex4, '
        'a10g-small, cpu-basic, cpu-upgrade, l40sx1, l40sx4, l40sx8, l4x1, l4x4, t4-medium, t4-small]']
    assert card_errors("no front matter") == [] and card_errors("---\nlicense: mit\n---\n") == []


def test_only_flavors_the_hub_lists_are_suggested() -> None:
    """spaces-config-reference.md lists no ZeroGPU and no RTX PRO 6000 flavor; cpu-basic says nothing."""
    assert suggested_hardware("t4-small") is HardwareFlavor.T4_SMALL
    assert [suggested_hardware(f) for f in ("zero-a10g", "rtx-pro-6000", "cpu-basic", "h100")] == [None] * 4
    assert HardwareFlavor.ZERO_A10G not in SUGGESTED_HARDWARE


@pytest.mark.parametrize("task", sorted(TEMPLATE_TASKS))
@pytest.mark.parametrize("flavor", ["cpu-basic", "zero-a10g", "t4-small", "rtx-pro-6000x8", "a100x8"])
def test_every_generated_readme_passes_the_hubs_rules(tmp_path: Path, task: str, flavor: str) -> None:
    for i, license_text in enumerate(CARD_LICENSES):
        analysis = ModelCardAnalysis(model="factory-test/tiny-model", task=task, license=license_text)
        plan = RuntimeRecommendation(primary=flavor, needs_gpu=flavor != "cpu-basic")
        app = generate_app(analysis, plan, tmp_path / str(i))
        readme = (app.directory / "README.md").read_text(encoding="utf-8")
        front = yaml.safe_load(readme[4:].partition("\n---\n")[0])
        assert front_matter_problems(front) == [], (license_text, flavor, front)
        assert card_errors(readme) == [], (license_text, flavor)  # the strict emulator's validate-yaml, too
