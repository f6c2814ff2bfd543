"""Live validation of a running Gradio app: `GET /health`, `view_api`, a predict call and a probe.

This is the I/O half of the gate (the pure half is `domain.gate` and `domain.outputs`); the build
pipeline and `space-factory validate` share it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from space_factory.domain.api import build_schema, how_to_call
from space_factory.domain.outputs import judge_output
from space_factory.domain.schemas import ApiSchema, HealthResult, HowToCall, PredictCall, SampleInput, TestResult
from space_factory.domain.summaries import describe_type, excerpt
from space_factory.domain.tasks import TaskSpec
from space_factory.worker.samples import Sample, pick_samples

logger = logging.getLogger(__name__)

DEFAULT_HEALTH_POLL_SECONDS = 0.5


@dataclass
class Validation:
    health: HealthResult
    api: ApiSchema | None = None
    test: TestResult | None = None
    how_to_call: HowToCall | None = None


def check_health(url: str, *, headers: dict[str, str], timeout: float,
                 still_starting: Callable[[], str | None] | None = None,
                 poll: float = DEFAULT_HEALTH_POLL_SECONDS) -> HealthResult:
    """Poll `GET {url}/health` until it answers 200 or `timeout` seconds pass.

    An app without a `/health` route (404) is accepted when Gradio's `/config` answers, so any
    Gradio app can be validated. `still_starting` may return a reason to stop early (the Space crashed).
    """
    health_url = url.rstrip("/") + "/health"
    started = time.monotonic()
    attempts = 0
    last_error = "no answer"
    with httpx.Client(headers=headers, timeout=10.0, follow_redirects=True) as client:
        while True:
            attempts += 1
            try:
                response = client.get(health_url)
                if response.status_code == 200:
                    try:
                        body = response.json()
                    except ValueError:
                        body = {"text": response.text[:500]}
                    return HealthResult(ok=True, url=health_url, status_code=200,
                                        body=body if isinstance(body, dict) else {"value": body},
                                        attempts=attempts, duration_ms=_ms(started))
                if response.status_code == 404 and client.get(url.rstrip("/") + "/config").status_code == 200:
                    return HealthResult(ok=True, url=health_url, status_code=404,
                                        body={"note": "no /health route; Gradio /config answered 200"},
                                        attempts=attempts, duration_ms=_ms(started))
                last_error = f"GET /health answered {response.status_code}"
            except httpx.HTTPError as exc:
                last_error = f"GET /health failed: {type(exc).__name__}"
            reason = still_starting() if still_starting else None
            if reason:
                return HealthResult(ok=False, url=health_url, attempts=attempts, duration_ms=_ms(started),
                                    error=f"{last_error}; {reason}")
            if time.monotonic() - started > timeout:
                return HealthResult(ok=False, url=health_url, attempts=attempts, duration_ms=_ms(started),
                                    error=f"{last_error} within {timeout:.0f} s")
            time.sleep(poll)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _arg(sample: Sample) -> Any:
    if sample.file is not None:
        from gradio_client import handle_file

        return handle_file(str(sample.file))
    return sample.text


def _call(client: Any, api_name: str, sample: Sample, timeout: float) -> tuple[PredictCall, Any]:
    started = time.monotonic()
    try:
        output = client.submit(_arg(sample), api_name=api_name).result(timeout=timeout)
    except Exception as exc:  # the app's own error, a timeout or a transport failure: all are evidence
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return PredictCall(inputs=[sample.describe()], latency_ms=_ms(started),
                           error=f"{type(exc).__name__}: {message}" if message else type(exc).__name__), None
    return PredictCall(inputs=[sample.describe()], output_excerpt=excerpt(output), output_type=describe_type(output),
                       latency_ms=_ms(started)), output


def _file_head(output: Any, download_dir: Path) -> bytes | None:
    """The first bytes of a file output, read only from gradio_client's own download folder."""
    candidate = output[0] if isinstance(output, list | tuple) and output else output
    if isinstance(candidate, dict):
        candidate = candidate.get("path") or candidate.get("url")
    if not isinstance(candidate, str):
        return None
    path = Path(candidate).resolve()
    if not path.is_relative_to(download_dir.resolve()) or not path.is_file():
        return None
    with path.open("rb") as f:
        return f.read(64)


def validate_app(url: str, spec: TaskSpec | None, card_samples: list[SampleInput], *, headers: dict[str, str],
                 health_timeout: float, predict_timeout: float, space_id: str | None = None,
                 still_starting: Callable[[], str | None] | None = None,
                 on_step: Callable[[str, str], None] | None = None) -> Validation:
    """Check health, read the API, call it with a sample and a probe, and judge the output.

    Never raises for what the app does: every failure is recorded as evidence in the result.
    """
    step = on_step or (lambda _phase, _message: None)
    health = check_health(url, headers=headers, timeout=health_timeout, still_starting=still_starting)
    result = Validation(health=health)
    if not health.ok:
        return result
    step("validating_api", "reading the app's API with gradio_client view_api")
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="sf-validate-") as tmp:
        download_dir = Path(tmp) / "downloads"
        try:
            client = Client(url, headers=headers or None, verbose=False, analytics_enabled=False,
                            download_files=str(download_dir))
            raw = client.view_api(return_format="dict", print_info=False)
        except Exception as exc:  # an app that is up but speaks no Gradio API is evidence, not a crash
            result.api = ApiSchema(ok=False, error=f"view_api failed: {type(exc).__name__}: {str(exc)[:200]}")
            return result
        result.api = build_schema(raw if isinstance(raw, dict) else {}, spec)
        if spec is None:
            result.test = TestResult(ok=False, skipped_reason="the task is unknown, so no input could be chosen")
            return result
        if not result.api.chosen:
            # No skipped_reason: that would make the gate a hardware "candidate", but an app with no endpoint
            # for its task is health_only (DESIGN §6); api_schema.json keeps the reason.
            result.test = TestResult(ok=False, task=spec.task)
            return result
        api_name = result.api.chosen
        sample, probe = pick_samples(spec, card_samples, Path(tmp) / "inputs")
        step("validating_api", f"calling {api_name} with {sample.describe()}")
        call, output = _call(client, api_name, sample, predict_timeout)
        result.how_to_call = how_to_call(result.api, space_id=space_id, url=url, example=sample.text)
        if call.error:
            result.test = TestResult(ok=False, api_name=api_name, task=spec.task, call=call)
            return result
        probe_call, probe_output = _call(client, api_name, probe, predict_timeout)
        verdict = judge_output(
            spec.output_kind, output, input_text=sample.text, file_head=_file_head(output, download_dir),
            probe_output=probe_output if not probe_call.error else None,
            probe_input_text=probe.text,
        )
        result.test = TestResult(ok=verdict.ok, api_name=api_name, task=spec.task, call=call, probe=probe_call,
                                 verdict=verdict)
    return result
