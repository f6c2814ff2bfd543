"""The hf backend's Spaces: private Gradio Spaces on the Hub (DESIGN §2, §6)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from space_factory.backends.base import SpaceRuntime
from space_factory.backends.hf.errors import hub_errors, status_of
from space_factory.domain.errors import FactoryError, SpaceExists
from space_factory.domain.gate_status import HardwareOutcome
from space_factory.domain.hardware import flavor_spec, is_paid

__all__ = ["HARDWARE_ATTEMPTS", "HfSpaceHost"]

HARDWARE_ATTEMPTS = 3
HARDWARE_BACKOFF_SECONDS = 1.0
_LOG_LIMIT = 1_000_000


class HfSpaceHost:
    """Creates, uploads, watches and changes private Spaces with the caller's token.

    Args:
        api: the Hub client.
        token: the caller's token (sent per call; also the header a private Space's app needs).
    """

    def __init__(self, api: HfApi, token: str) -> None:
        self.api = api
        self._token = token
        self._hosts: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "HfSpaceHost()"

    def create(self, space_id: str, *, hardware: str | None, private: bool = True) -> SpaceRuntime:
        # Paid hardware is asked for later, best-effort, with the outcomes of DESIGN §6; never at creation.
        initial = hardware if hardware and not is_paid(hardware) else None
        with hub_errors(f"create the Space {space_id}", scope="write"):
            try:
                self.api.create_repo(space_id, repo_type="space", private=private, space_sdk="gradio",
                                     space_hardware=initial, exist_ok=False, token=self._token)  # type: ignore[arg-type]
            except HfHubHTTPError as exc:
                if status_of(exc) == 409:
                    raise SpaceExists(space_id) from exc
                raise
        return self.runtime(space_id)

    def upload(self, space_id: str, folder: Path, *, run_id: str) -> None:
        with hub_errors(f"upload the app to {space_id}", scope="write"):
            self.api.upload_folder(repo_id=space_id, folder_path=folder, repo_type="space",
                                   commit_message=f"Space Factory run {run_id}", token=self._token)

    def _host(self, space_id: str) -> str | None:
        with self._lock:
            if space_id in self._hosts:
                return self._hosts[space_id]
        with hub_errors(f"read the Space {space_id}", scope="read"):
            host = getattr(self.api.space_info(space_id, token=self._token), "host", None)
        if host:
            with self._lock:
                self._hosts[space_id] = str(host)
        return str(host) if host else None

    def runtime(self, space_id: str) -> SpaceRuntime:
        with hub_errors(f"read the runtime of {space_id}", scope="read"):
            rt = self.api.get_space_runtime(space_id, token=self._token)
        stage = str(getattr(rt.stage, "value", rt.stage))
        raw = rt.raw if isinstance(rt.raw, dict) else {}
        message = raw.get("errorMessage") or raw.get("message")
        return SpaceRuntime(space_id=space_id, stage=stage, hardware=_str(rt.hardware),
                            requested_hardware=_str(rt.requested_hardware),
                            url=self._host(space_id) if stage == "RUNNING" else None,
                            message=str(message) if message else None)

    def logs(self, space_id: str, kind: str) -> str:
        if kind not in ("build", "run"):
            raise ValueError(f"log kind must be 'build' or 'run', not {kind!r}")
        with hub_errors(f"read the {kind} logs of {space_id}", scope="read"):
            text = "\n".join(self.api.fetch_space_logs(space_id, build=kind == "build", token=self._token))
        return text[-_LOG_LIMIT:]

    def request_hardware(self, space_id: str, flavor: str) -> tuple[str, str]:
        if flavor_spec(flavor) is None:
            return HardwareOutcome.NOT_AVAILABLE.value, f"unknown hardware flavor {flavor[:50]!r}"
        for attempt in range(HARDWARE_ATTEMPTS):
            try:
                rt = self.api.request_space_hardware(space_id, flavor, token=self._token)
            except HfHubHTTPError as exc:
                code = status_of(exc)
                if code in (401, 403):  # the token may write the Space but not change paid hardware: no retry
                    return (HardwareOutcome.MANUAL_ACTION_REQUIRED.value,
                            f"the token may not change the hardware of {space_id} (HTTP {code}); set {flavor} in "
                            f"the Space settings: https://huggingface.co/spaces/{space_id}/settings")
                if code == 402:  # billing, not permission: no retry (DESIGN §6)
                    return (HardwareOutcome.BILLING_REQUIRED.value,
                            f"{flavor} needs a payment method: https://huggingface.co/settings/billing")
                if code in (400, 404, 422):
                    return HardwareOutcome.NOT_AVAILABLE.value, f"the Hub refused {flavor} (HTTP {code})"
                if code is not None and (code == 429 or code >= 500):
                    if attempt < HARDWARE_ATTEMPTS - 1:
                        time.sleep(HARDWARE_BACKOFF_SECONDS * 2 ** attempt)
                        continue
                    outcome = HardwareOutcome.RATE_LIMITED if code == 429 else HardwareOutcome.ERROR
                    return outcome.value, f"the Hub answered HTTP {code} {HARDWARE_ATTEMPTS} times; try later"
                return HardwareOutcome.ERROR.value, f"the Hub answered HTTP {code}"
            current = _str(rt.hardware)
            if current == flavor:
                return HardwareOutcome.ALREADY_SET.value, f"{space_id} runs on {flavor}"
            return HardwareOutcome.REQUESTED.value, f"{flavor} requested for {space_id} (now {current or 'unknown'})"
        raise AssertionError("unreachable")

    def stop(self, space_id: str) -> bool:
        try:
            with hub_errors(f"pause the Space {space_id}", scope="write"):
                self.api.pause_space(space_id, token=self._token)
        except FactoryError:
            return False  # best-effort, as the local host's stop: the run is canceled either way
        return True

    def auth_headers(self) -> dict[str, str]:
        # A private Space's app answers only with the owner's token (hf-apis.md §5.2).
        return {"Authorization": f"Bearer {self._token}"}


def _str(value: object) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))
