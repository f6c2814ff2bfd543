"""The hf backend's Spaces: private Gradio Spaces on the Hub (DESIGN §2, §6).

What the Hub does that this host copes with (docs/architecture.md, "Ready for the real Hub"):
- while a Space builds, `hardware.current` is null: the requested flavor stands in for it until RUNNING;
- a private Space's app answers only behind the Hub's auth proxy at its `host` (else
  `https://<subdomain>.hf.space`), to requests bearing the owner's token (`auth_headers`);
- the app downloads its model at start-up, so a gated or private model needs the owner's token as the
  Space's `HF_TOKEN` secret (`grant_model_access`), set through the secrets API, never in a file;
- `upload_folder` first sends README.md to `validate-yaml`, whose 400 is a `SpaceCardRejected`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError

from space_factory.backends.base import HardwareResult, SpaceRuntime
from space_factory.backends.hf.errors import hub_errors, hub_stage, refusal, server_message, status_of
from space_factory.domain.errors import (
    BillingRequired,
    FactoryError,
    RateLimited,
    SpaceCardRejected,
    SpaceExists,
    SpaceMoved,
    TokenScopeMissing,
)
from space_factory.domain.hardware import flavor_spec, is_paid
from space_factory.domain.hardware_outcomes import HardwareOutcome
from space_factory.domain.stages import SpaceStage
from space_factory.domain.targets import HF_SPACE_DOMAIN, space_subdomain

__all__ = ["HARDWARE_ATTEMPTS", "HfSpaceHost"]

HARDWARE_ATTEMPTS = 3
HARDWARE_BACKOFF_SECONDS = 1.0
MODEL_TOKEN_SECRET = "HF_TOKEN"  # the variable huggingface_hub (and so transformers) reads the token from
_LOG_LIMIT = 1_000_000
# huggingface_hub's words for a validate-yaml 400 (`HfApi._validate_yaml`): a ValueError, one "- message" per error.
_INVALID_CARD = "Invalid metadata in README.md"
_FIELD_IN_ERROR = re.compile(r'^-\s*"?([A-Za-z_][A-Za-z0-9_.]{0,40})"?(?=[\s:"]|$)')


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

    def upload(self, space_id: str, folder: Path, *, run_id: str) -> str | None:
        """Upload the app; `SpaceCardRejected` when the Hub's validate-yaml refuses its README front matter."""
        try:
            with hub_errors(f"upload the app to {space_id}", scope="write"):
                info = self.api.upload_folder(repo_id=space_id, folder_path=folder, repo_type="space",
                                              commit_message=f"Space Factory run {run_id}", token=self._token)
        except ValueError as exc:
            if isinstance(exc, FactoryError) or not str(exc).startswith(_INVALID_CARD):
                raise
            raise SpaceCardRejected(space_id, card_error_fields(str(exc))) from exc
        return _str(getattr(info, "oid", None))

    def commit(self, space_id: str, folder: Path, *, run_id: str, written: Sequence[str], removed: Sequence[str],
               message: str, parent_commit: str | None) -> str | None:
        """One `create_commit` on top of `parent_commit`: the Hub answers 412 when the Space's head moved since."""
        operations: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationAdd(path_in_repo=path, path_or_fileobj=folder / path) for path in written]
        operations += [CommitOperationDelete(path_in_repo=path) for path in removed]
        try:
            with hub_errors(f"commit the revision to {space_id}", scope="write"):
                try:
                    info = self.api.create_commit(space_id, operations, commit_message=message, repo_type="space",
                                                  parent_commit=parent_commit, token=self._token,
                                                  commit_description=f"Space Factory run {run_id}")
                except HfHubHTTPError as exc:
                    if status_of(exc) == 412:  # "A commit has happened since": the head is not parent_commit
                        raise SpaceMoved(space_id, parent_commit) from None
                    raise
        except ValueError as exc:
            if isinstance(exc, FactoryError) or not str(exc).startswith(_INVALID_CARD):
                raise
            fields = ", ".join(card_error_fields(str(exc))) or "fields it did not name"
            raise FactoryError(f"the Hub refused the README.md front matter of this revision ({fields}); fix it and "
                               f"revise again. Nothing was committed to {space_id}.") from None
        return _str(getattr(info, "oid", None))

    def head(self, space_id: str) -> str | None:
        with hub_errors(f"read the Space {space_id}", scope="read"):
            info = self.api.space_info(space_id, token=self._token)
        return _str(getattr(info, "sha", None))

    def grant_model_access(self, space_id: str, model: str) -> bool:
        if not self._needs_token(model):
            return False
        with hub_errors(f"give {space_id} the {MODEL_TOKEN_SECRET} secret its app needs to download {model}",
                        scope="write"):
            self.api.add_space_secret(space_id, MODEL_TOKEN_SECRET, self._token, token=self._token,
                                      description=f"Space Factory: downloads {model} (gated or private)")
        return True

    def _needs_token(self, model: str) -> bool:
        """Whether the app could not download `model` without a token: asked as an anonymous client would."""
        try:
            info = self.api.model_info(model, token=False)
        except (HfHubHTTPError, httpx2.HTTPError):
            # 401/404 hide a private model from anonymous callers; any other failure leaves it unknown, and
            # with the secret the app can download either way.
            return True
        return bool(info.gated) or bool(info.private)

    def _host(self, space_id: str) -> str:
        """The app's URL: the Hub's `host` for the Space, else its proxy address `https://<subdomain>.hf.space`."""
        with self._lock:
            if space_id in self._hosts:
                return self._hosts[space_id]
        with hub_errors(f"read the Space {space_id}", scope="read"):
            info = self.api.space_info(space_id, token=self._token)
        host = getattr(info, "host", None)
        if not host:
            subdomain = getattr(info, "subdomain", None) or space_subdomain(space_id)
            host = f"https://{subdomain}.{HF_SPACE_DOMAIN}"
        with self._lock:
            self._hosts[space_id] = str(host)
        return str(host)

    def runtime(self, space_id: str) -> SpaceRuntime:
        action = f"read the runtime of {space_id}"
        with hub_errors(action, scope="read"):
            rt = self.api.get_space_runtime(space_id, token=self._token)
        stage = hub_stage(SpaceStage, rt.stage, action)
        raw = rt.raw if isinstance(rt.raw, dict) else {}
        message = raw.get("errorMessage") or raw.get("message")
        requested = _str(rt.requested_hardware)
        # `hardware.current` is null until the Space runs: the requested flavor stands in while it builds.
        current = _str(rt.hardware) or (requested if stage != SpaceStage.RUNNING else None)
        return SpaceRuntime(space_id=space_id, stage=stage, hardware=current, requested_hardware=requested,
                            url=self._host(space_id) if stage == SpaceStage.RUNNING else None,
                            message=str(message) if message else None)

    def logs(self, space_id: str, kind: str) -> str:
        if kind not in ("build", "run"):
            raise ValueError(f"log kind must be 'build' or 'run', not {kind!r}")
        with hub_errors(f"read the {kind} logs of {space_id}", scope="read"):
            text = "\n".join(self.api.fetch_space_logs(space_id, build=kind == "build", token=self._token))
        return text[-_LOG_LIMIT:]

    def request_hardware(self, space_id: str, flavor: str) -> HardwareResult:
        if flavor_spec(flavor) is None:
            return HardwareResult(HardwareOutcome.NOT_AVAILABLE, f"unknown hardware flavor {flavor[:50]!r}")
        for attempt in range(HARDWARE_ATTEMPTS):
            try:
                rt = self.api.request_space_hardware(space_id, flavor, token=self._token)  # type: ignore[arg-type]
            except HfHubHTTPError as exc:
                code = status_of(exc)
                refused = refusal(code, f"change the hardware of {space_id}", "write", server_message(exc))
                if isinstance(refused, TokenScopeMissing):  # may write the Space, not change paid hardware: no retry
                    return HardwareResult(
                        HardwareOutcome.MANUAL_ACTION_REQUIRED,
                        f"the token may not change the hardware of {space_id} (HTTP {code}); set {flavor} in "
                        f"the Space settings: https://huggingface.co/spaces/{space_id}/settings")
                if isinstance(refused, BillingRequired):  # billing, not permission: no retry (DESIGN §6)
                    return HardwareResult(HardwareOutcome.BILLING_REQUIRED,
                                          f"{flavor} needs a payment method: https://huggingface.co/settings/billing")
                if code in (400, 404, 422):
                    return HardwareResult(HardwareOutcome.NOT_AVAILABLE, f"the Hub refused {flavor} (HTTP {code})")
                rate_limited = isinstance(refused, RateLimited)
                if rate_limited or (code is not None and code >= 500):
                    if attempt < HARDWARE_ATTEMPTS - 1:
                        time.sleep(HARDWARE_BACKOFF_SECONDS * 2 ** attempt)
                        continue
                    outcome = HardwareOutcome.RATE_LIMITED if rate_limited else HardwareOutcome.ERROR
                    return HardwareResult(outcome, f"the Hub answered HTTP {code} {HARDWARE_ATTEMPTS} times; try later")
                return HardwareResult(HardwareOutcome.ERROR, f"the Hub answered HTTP {code}")
            current = _str(rt.hardware)
            if current == flavor:
                return HardwareResult(HardwareOutcome.ALREADY_SET, f"{space_id} runs on {flavor}")
            return HardwareResult(HardwareOutcome.REQUESTED,
                                  f"{flavor} requested for {space_id} (now {current or 'unknown'})")
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


def card_error_fields(message: str) -> tuple[str, ...]:
    """The front-matter fields a validate-yaml refusal names (its `- "license" must be one of …` lines).

    Only the field names are kept: the rest is the Hub's text and never reaches a message.

    Example:
        >>> card_error_fields('Invalid metadata in README.md.\\n- "license" must be one of [a, b]\\n- "x.y" is bad')
        ('license', 'x.y')
    """
    fields: list[str] = []
    for line in message.splitlines()[1:]:
        match = _FIELD_IN_ERROR.match(line.strip())
        if match and match.group(1) not in fields:
            fields.append(match.group(1))
    return tuple(fields)


def _str(value: object) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))
