"""Gated and private models (`HubRules.restricted_models`), answered as the Hub does (hf-apis.md §5.4).

- gated: `model_info` is public and says `gated: "auto"`; a file needs the token of a user the model's
  owner granted (`HubRules.model_grants`) or of its namespace: 401 without a token, 403 with another one,
  both with `X-Error-Code: GatedRepo`.
- private: visible only with a token of its namespace; anyone else gets 401 + `X-Error-Code: RepoNotFound`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from tests.hub_emulator.answers import HubError
from tests.hub_emulator.state import HubState


def check_access(hub: HubState, request: Request, model_id: str, *, file: bool) -> None:
    """Raise the Hub's refusal when the caller may not see the model (or, with `file`, download from it).

    Raises:
        HubError: 401/403 GatedRepo, 401 RepoNotFound.
    """
    kind = hub.faults.rules.restricted_models.get(model_id)
    if kind is None:
        return
    user = hub.user_of(request)
    owner = model_id.partition("/")[0]
    if user is not None and user.name == owner:
        return
    if kind == "private":
        raise HubError(401, "Repository not found", "RepoNotFound")
    if file and (user is None or (user.name, model_id) not in hub.faults.rules.model_grants):
        raise HubError(401 if user is None else 403,
                       f"Access to model {model_id} is restricted. You must have access to it and be authenticated "
                       "to access it. Please log in.", "GatedRepo")


def info_fields(hub: HubState, model_id: str) -> dict[str, Any]:
    """The `gated` / `private` fields of the model's `model_info`."""
    kind = hub.faults.rules.restricted_models.get(model_id)
    return {"gated": "auto" if kind == "gated" else False, "private": kind == "private"}
