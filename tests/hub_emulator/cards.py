"""`POST /api/validate-yaml` as the Hub answers it for a Space's README, for the fields the factory writes.

The rules come from hub-docs (`spaces-config-reference.md`, `repositories-licenses.md`; the lists are the ones
`space_factory.domain.front_matter` copied from there, with their commit) and the messages follow the shape the
Hub sends (`"widget" must be an array`, ostris/ai-toolkit#260): a 400 with one `errors[].message` per field.
Where the Hub's rule is not written down (the `license_name` shape, `short_description` ≤ 60), the emulator
holds the factory to its stated assumption.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from space_factory.domain.front_matter import (
    HUB_LICENSES,
    LICENSE_NAME_PATTERN,
    SHORT_DESCRIPTION_MAX,
    SPACE_COLORS,
    SUGGESTED_HARDWARE,
)

# The Hub server's own front-matter regex (huggingface_hub repocard.py keeps it in sync).
_YAML_BLOCK = re.compile(r"^---[\n\r]+([\S\s]*?)[\n\r]+---([\n\r]|$)")
SPACE_SDKS = ("gradio", "docker", "static")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def card_errors(content: str, repo_type: str = "space") -> list[str]:
    """The Hub's error messages for a README's front matter; empty when it passes."""
    match = _YAML_BLOCK.match(content)
    if match is None:
        return []  # no metadata: the Hub warns, it does not refuse
    try:
        data: Any = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return [f"Invalid YAML: {type(exc).__name__}"]
    if data is None:
        return []
    if not isinstance(data, dict):
        return ['"value" must be of type object']
    errors: list[str] = []
    license_value = data.get("license")
    for value in license_value if isinstance(license_value, list) else [license_value]:
        if value is not None and value not in HUB_LICENSES:
            errors.append(f'"license" must be one of [{", ".join(sorted(HUB_LICENSES))}]')
            break
    name = data.get("license_name")
    if name is not None and not (isinstance(name, str) and LICENSE_NAME_PATTERN.match(name)):
        errors.append(f'"license_name" with value {str(name)[:80]!r} fails to match the required pattern: '
                      f"{LICENSE_NAME_PATTERN.pattern}")
    if repo_type == "space":
        errors.extend(_space_errors(data))
    return errors


def _space_errors(data: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if "sdk" in data and data["sdk"] not in SPACE_SDKS:
        errors.append(f'"sdk" must be one of [{", ".join(SPACE_SDKS)}]')
    for key in ("colorFrom", "colorTo"):
        if key in data and data[key] not in SPACE_COLORS:
            errors.append(f'"{key}" must be one of [{", ".join(sorted(SPACE_COLORS))}]')
    hardware = data.get("suggested_hardware")
    if hardware is not None and hardware not in {f.value for f in SUGGESTED_HARDWARE}:
        errors.append(f'"suggested_hardware" must be one of [{", ".join(sorted(f.value for f in SUGGESTED_HARDWARE))}]')
    description = data.get("short_description")
    if description is not None and (not isinstance(description, str) or len(description) > SHORT_DESCRIPTION_MAX):
        errors.append(f'"short_description" length must be less than or equal to {SHORT_DESCRIPTION_MAX} '
                      "characters long")
    emoji = data.get("emoji")
    if emoji is not None and (not isinstance(emoji, str) or _ASCII_WORD.search(emoji)):
        errors.append('"emoji" must be an emoji')
    if "pinned" in data and not isinstance(data["pinned"], bool):
        errors.append('"pinned" must be a boolean')
    models = data.get("models")
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        errors.append('"models" must be an array of strings')
    return errors
