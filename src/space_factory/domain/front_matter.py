"""The Hub's rules for the README front matter of a Space, for the fields the factory writes. Pure.

`upload_folder` sends a root `README.md` to `POST /api/validate-yaml` before anything is uploaded, and a
400 there refuses the whole upload (hf-apis.md §3.2). So the generated front matter holds only values the
Hub's lists allow. The lists, and where they come from:

- `HUB_LICENSES`: the license identifiers of hub-docs `docs/hub/repositories-licenses.md` (the region between
  its `region licenses` markers), read at hub-docs commit 242f4a1 (2026-08-22). The Hub derives its own list
  from that file ("the 'source of truth' we derive our lists of licenses from", huggingface/hub-docs#1755),
  and refuses an identifier outside it (hub-docs#281, #1755). Its last line says what to do instead:
  `license: other` with a name in `license_name`.
- `SUGGESTED_HARDWARE`: the "current valid hardware flavors" of hub-docs `docs/hub/spaces-config-reference.md`
  (same commit). `zero-a10g` and the `rtx-pro-6000*` flavors are not in it, so the factory never suggests
  them: the field is advice to whoever duplicates the Space, and assigns nothing.
- `SPACE_COLORS`: the thumbnail colours the same page lists for `colorFrom` / `colorTo`.
- `SHORT_DESCRIPTION_MAX`: the Hub refuses a longer `short_description` (seen on the Hub; not documented).

Assumed, not documented: `license_name` must be a lowercase slug (letters, digits, '.', '-'), as the
Hub's own examples are (`llama3`, `deepfloyd-if-license`); `license_slug` makes one from any card text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from space_factory.domain.hardware import HardwareFlavor

__all__ = [
    "HUB_LICENSES",
    "LICENSE_NAME_MAX",
    "LICENSE_NAME_PATTERN",
    "OTHER_LICENSE",
    "SHORT_DESCRIPTION_MAX",
    "SPACE_COLORS",
    "SUGGESTED_HARDWARE",
    "LicenseFields",
    "card_license",
    "license_slug",
    "suggested_hardware",
]

SHORT_DESCRIPTION_MAX = 60
OTHER_LICENSE = "other"
LICENSE_NAME_MAX = 64
LICENSE_NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")

HUB_LICENSES: frozenset[str] = frozenset({
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1",
    "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr", "mpl-2.0",
    "odc-by", "odbl", "openmdw-1.0", "openmdw-1.1", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa",
    "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license", "fair-noncommercial-research-license", "llama2",
    "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "grok2-community", "gemma", "unknown", "other",
})

_F = HardwareFlavor
SUGGESTED_HARDWARE: frozenset[HardwareFlavor] = frozenset({
    _F.CPU_BASIC, _F.CPU_UPGRADE, _F.T4_SMALL, _F.T4_MEDIUM, _F.L4X1, _F.L4X4, _F.L40SX1, _F.L40SX4, _F.L40SX8,
    _F.A10G_SMALL, _F.A10G_LARGE, _F.A10G_LARGEX2, _F.A10G_LARGEX4, _F.A100_LARGE, _F.A100X4, _F.A100X8,
})
SPACE_COLORS = frozenset({"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"})

_NOT_SLUG = re.compile(r"[^a-z0-9.]+")


class LicenseFields(NamedTuple):
    """The front-matter license of a Space: a Hub identifier, and `license_name` when it is `other`."""

    license: str
    license_name: str | None = None


def license_slug(text: str) -> str | None:
    """A `license_name` made from free text: lower-cased, runs of anything else turned into '-'; None if empty.

    Example:
        >>> license_slug("Llama 3.1 Community License!"), license_slug("  ---  ")
        ('llama-3.1-community-license', None)
    """
    slug = _NOT_SLUG.sub("-", text.lower())[:LICENSE_NAME_MAX].strip("-.")
    return slug if slug and LICENSE_NAME_PATTERN.match(slug) else None


def card_license(raw: str | None) -> LicenseFields | None:
    """The license fields to write for a model card's `license` value (free text on many cards).

    An identifier from `HUB_LICENSES` (in any case) is kept; anything else becomes `other` with the text as
    `license_name`; no license (or only punctuation) gives None, and no license field is written.

    Example:
        >>> card_license("Apache-2.0")
        LicenseFields(license='apache-2.0', license_name=None)
        >>> card_license("My Research License v2")
        LicenseFields(license='other', license_name='my-research-license-v2')
        >>> card_license(None), card_license("???")
        (None, None)
    """
    if raw is None:
        return None
    identifier = raw.strip().lower()
    if identifier in HUB_LICENSES and identifier != OTHER_LICENSE:
        return LicenseFields(identifier)
    name = license_slug(raw)
    if name is None:
        return None
    return LicenseFields(OTHER_LICENSE, name)


def suggested_hardware(flavor: str) -> HardwareFlavor | None:
    """`flavor` when the Hub accepts it as `suggested_hardware` and it says something (not the default cpu-basic).

    Example:
        >>> suggested_hardware("t4-small"), suggested_hardware("zero-a10g"), suggested_hardware("cpu-basic")
        (<HardwareFlavor.T4_SMALL: 't4-small'>, None, None)
    """
    try:
        wanted = HardwareFlavor(flavor)
    except ValueError:
        return None
    return wanted if wanted in SUGGESTED_HARDWARE and wanted is not HardwareFlavor.CPU_BASIC else None
