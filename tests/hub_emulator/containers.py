"""A Space's container on the emulated Hub: how its app is started, and the runtime the Hub reports for it.

Started online (`HubRules.online_spaces`), the app has its own empty HF cache under `root/space-containers/`
and `HF_ENDPOINT` pointing at the emulator, so it downloads its model as a Space on the Hub does; the Space's
`HF_TOKEN` secret is its only credential. The local supervisor passes the app only an allow-list of variables
(never a token), so the secret is put where huggingface_hub also looks: the container's `$HF_HOME/token`.
That folder is the emulated Hub's side (a container's environment), never a file the factory writes.

`runtime` is what `GET /api/spaces/{id}/runtime` answers: the local Space host's stage, held at BUILDING for
`build_delay_seconds` after each commit, and `hardware.current` null until RUNNING.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from space_factory.backends.local.spaces import LocalSpaceHost
from space_factory.domain.stages import SpaceStage
from tests.hub_emulator.state import HubState

SECRET_TOKEN = "HF_TOKEN"


def container_dir(hub: HubState, space_id: str) -> Path:
    return hub.root / "space-containers" / space_id


def start_space(hub: HubState, space_id: str, repo: Path) -> None:
    """Build and start the Space's app from its repo, as a commit does."""
    meta = hub.spaces[space_id]
    meta["committed_at"] = time.monotonic()
    if not hub.faults.rules.online_spaces:
        hub.space_host.upload(space_id, repo, run_id="hub-emulator")
        return
    home = container_dir(hub, space_id) / "hf-home"
    shutil.rmtree(home.parent, ignore_errors=True)
    home.mkdir(parents=True)
    token = (meta.get("secrets") or {}).get(SECRET_TOKEN)
    if token:
        (home / "token").write_text(token)
    env = {k: v for k, v in hub.space_host.env.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update({"HF_HOME": str(home), "HF_ENDPOINT": hub.url})
    LocalSpaceHost(hub.space_host.spaces_dir, hub.space_host.venvs_dir, env).upload(space_id, repo,
                                                                                   run_id="hub-emulator")


def runtime(hub: HubState, space_id: str) -> tuple[SpaceStage, str | None, str | None]:
    """The stage, message and app URL the Hub shows for the Space now (see the module docstring)."""
    meta = hub.spaces[space_id]
    if meta.get("placeholder"):
        return SpaceStage(meta["stage"]), None, None
    rt = hub.space_host.runtime(space_id)
    committed = meta.get("committed_at")
    if committed is not None and time.monotonic() - committed < hub.faults.rules.build_delay_seconds:
        return SpaceStage.BUILDING, None, None
    return rt.stage, rt.message, rt.url


def hardware(hub: HubState, space_id: str, stage: SpaceStage) -> dict[str, Any]:
    meta = hub.spaces[space_id]
    building = stage != SpaceStage.RUNNING and hub.faults.rules.null_hardware_while_building
    return {"current": None if building else meta["hardware"], "requested": meta["requested"]}
