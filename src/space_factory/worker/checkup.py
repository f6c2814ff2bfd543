"""The live check of a running Gradio app (DESIGN §6): `GET /health`, `view_api`, a predict call and a probe.

This is the I/O half of the gate (the pure half is `domain.gate` and `domain.outputs`); the build pipeline
and validation runs (`space-factory validate`, `validate_space`) share it. It talks to the app's one origin
only (`worker.origin`: pinned, no redirect followed), reads bounded bodies, and records its evidence redacted:
everything the app answers is untrusted text.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from space_factory.domain.api import build_schema, how_to_call
from space_factory.domain.excerpts import describe_type, excerpt
from space_factory.domain.gate import AppCheck, health_body
from space_factory.domain.mcp_surface import McpFailure, mcp_access
from space_factory.domain.outputs import judge_output
from space_factory.domain.redaction import Redactor
from space_factory.domain.schemas import ApiSchema, HealthResult, OutputVerdict, PredictCall, SampleInput, TestResult
from space_factory.domain.tasks import InputSlot, TaskSpec
from space_factory.worker.mcp_check import check_mcp
from space_factory.worker.origin import PinnedApp
from space_factory.worker.samples import Sample, pick_samples

DEFAULT_HEALTH_POLL_SECONDS = 0.5
# `/health` is the app's own route, polled often; `crash_reason` asks the Space host (a Hub request on the hf
# backend), so it is asked at most this often (issue 13, the Hub's request budget).
CRASH_CHECK_SECONDS = 5.0
MAX_HEALTH_BODY_BYTES = 64 * 1024
MAX_API_SCHEMA_BYTES = 1024 * 1024
# Output files the judges decode (an image, a WAV, a segmentation's masks): how many, and how large each.
MAX_OUTPUT_FILES = 32
MAX_OUTPUT_FILE_BYTES = 32 * 1024 * 1024
MAX_OUTPUT_NESTING = 6

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=AppCheck)


def _clean(value: M, redactor: Redactor) -> M:
    """`value` with every secret the redactor knows or recognises hidden: what the app said is untrusted."""
    return type(value).model_validate(redactor.redact_json(value.model_dump(mode="json")))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _get(client: httpx.Client, url: str, *, limit: int) -> tuple[int, object]:
    """GET `url`: the status, and for a 200 its JSON body when it is at most `limit` bytes (else None)."""
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            return response.status_code, None
        raw = bytearray()
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) > limit:
                return 200, None
    try:
        return 200, json.loads(raw)
    except ValueError:
        return 200, None


def check_health(app: PinnedApp, *, timeout: float, crash_reason: Callable[[], str | None] | None = None,
                 poll: float = DEFAULT_HEALTH_POLL_SECONDS) -> HealthResult:
    """Poll `GET /health` until it answers 200 or `timeout` seconds pass.

    An app without a `/health` route (404) is accepted when Gradio's `/config` answers, so any Gradio app
    can be checked. A redirect ends the check at once: it is not followed. `crash_reason` may return why
    to stop early (the Space crashed).
    """
    health_url = app.url.join("health")
    started = time.monotonic()
    attempts = 0
    last_error = "no answer"
    next_crash_check = started
    with httpx.Client(headers=dict(app.headers), timeout=10.0, follow_redirects=False,
                      **app.httpx_kwargs()) as client:
        while True:
            attempts += 1
            try:
                status, body = _get(client, app.dial.join("health"), limit=MAX_HEALTH_BODY_BYTES)
                if status == 200:
                    return HealthResult(ok=True, url=health_url, status_code=200, body=health_body(body),
                                        attempts=attempts, duration_ms=_ms(started))
                if status == 404 and _get(client, app.dial.join("config"), limit=0)[0] == 200:
                    return HealthResult(ok=True, url=health_url, status_code=404,
                                        body={"note": "no /health route; Gradio /config answered 200"},
                                        attempts=attempts, duration_ms=_ms(started))
                if 300 <= status < 400:
                    return HealthResult(ok=False, url=health_url, status_code=status, attempts=attempts,
                                        duration_ms=_ms(started),
                                        error=f"GET /health answered {status}, a redirect, which is not followed")
                last_error = f"GET /health answered {status}"
            except httpx.HTTPError as exc:
                last_error = f"GET /health failed: {type(exc).__name__}"
            reason = None
            if crash_reason is not None and time.monotonic() >= next_crash_check:
                next_crash_check = time.monotonic() + CRASH_CHECK_SECONDS
                reason = crash_reason()
            if reason:
                return HealthResult(ok=False, url=health_url, attempts=attempts, duration_ms=_ms(started),
                                    error=f"{last_error}; {reason}")
            if time.monotonic() - started > timeout:
                return HealthResult(ok=False, url=health_url, attempts=attempts, duration_ms=_ms(started),
                                    error=f"{last_error} within {timeout:.0f} s")
            time.sleep(poll)


def _send(value: str | Path | None) -> Any:
    if isinstance(value, Path):
        from gradio_client import handle_file

        return handle_file(str(value))
    return value


def _arguments(sample: Sample, slots: Mapping[str, str]) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments: the one input by position, or, for an endpoint taking several, each by its name
    (`ApiSchema.slots`: parameter name → the slot the sample fills it from)."""
    if len(slots) <= 1:
        return [_send(sample.file if sample.file is not None else sample.text)], {}
    return [], {name: _send(sample.value(InputSlot(slot))) for name, slot in slots.items()}


def _extra_examples(sample: Sample) -> dict[str, str]:
    """The sample's inputs besides the main one, by slot, for the how_to_call snippet."""
    values = {slot.value: sample.value(slot) for slot in (InputSlot.CANDIDATE_LABELS, InputSlot.CONTEXT)}
    return {slot: value for slot, value in values.items() if isinstance(value, str)}


def _call(client: Any, api_name: str, sample: Sample, timeout: float,
          slots: Mapping[str, str] | None = None) -> tuple[PredictCall, Any]:
    started = time.monotonic()
    try:
        args, kwargs = _arguments(sample, slots or {})
        output = client.submit(*args, api_name=api_name, **kwargs).result(timeout=timeout)
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


def _file_refs(value: Any, depth: int = 0) -> list[str]:
    """Every path or URL string in an output (a str, FileData-like dicts, lists and tuples of them), in order."""
    if depth > MAX_OUTPUT_NESTING:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        refs = [value[k] for k in ("path", "url") if isinstance(value.get(k), str)]
        found = refs[:1]
        for key, item in value.items():
            # gradio_client replaces nested FileData by the downloaded path: AnnotatedImage's masks come back as
            # {"image": "/…/image.png", "label": …}, so plain strings under other keys are file refs too.
            if key not in ("path", "url") and isinstance(item, str | dict | list | tuple):
                found += _file_refs(item, depth + 1)
        return found
    if isinstance(value, list | tuple):
        return [ref for item in value[:MAX_OUTPUT_FILES] for ref in _file_refs(item, depth + 1)]
    return []


def _output_files(output: Any, download_dir: Path) -> dict[str, bytes]:
    """The files an output names, read only from gradio_client's own download folder: the path exactly as it
    appears in the output → its bytes. At most `MAX_OUTPUT_FILES` files of `MAX_OUTPUT_FILE_BYTES` each are read;
    a larger file is left out (the judge then says it had no bytes to decode)."""
    root = download_dir.resolve()
    files: dict[str, bytes] = {}
    for ref in _file_refs(output):
        if len(files) >= MAX_OUTPUT_FILES or ref in files:
            continue
        try:
            path = Path(ref).resolve()
            if not path.is_relative_to(root) or not path.is_file() or path.stat().st_size > MAX_OUTPUT_FILE_BYTES:
                continue
            files[ref] = path.read_bytes()
        except (OSError, ValueError):  # a URL or an odd string: not a file this client downloaded
            continue
    return files


def _inputs_differ(sample: Sample, probe: Sample) -> bool:
    """Whether the probe asks something else than the sample, in any input (text, labels, context, file bytes)."""
    if (sample.text, sample.candidate_labels, sample.context) != (probe.text, probe.candidate_labels, probe.context):
        return True
    if sample.file is None or probe.file is None:
        return sample.file != probe.file
    try:
        return sample.file.read_bytes() != probe.file.read_bytes()
    except OSError:
        return True


def _schema(raw: object, spec: TaskSpec | None) -> ApiSchema:
    """`tests/api_schema.json`; a `view_api` answer too large to keep is summarised, not stored."""
    schema = build_schema(raw if isinstance(raw, dict) else {}, spec)
    size = len(json.dumps(schema.raw, default=str))
    if size > MAX_API_SCHEMA_BYTES:
        schema.raw = {"omitted": f"the view_api answer had {size} bytes, more than {MAX_API_SCHEMA_BYTES}"}
    return schema


def _check_mcp(app: PinnedApp, evidence: AppCheck, spec: TaskSpec, sample: Sample, *, redactor: Redactor,
               predict_timeout: float, space_id: str | None, step: Callable[[str, str], None]) -> None:
    """The `mcp` check beside the API check (same endpoint, same sample, same judge); when the tool is listed,
    `how_to_call.mcp` says how to call it. Our words are added after the redaction: a client snippet's
    `Bearer ${env:HF_TOKEN}` is a reference, which the redactor would take for a token."""
    api = evidence.api
    endpoint = next((e for e in api.endpoints if e.api_name == api.chosen), None) if api else None
    if api is None or endpoint is None:
        return

    def judge(output: object, files: Mapping[str, bytes]) -> OutputVerdict:
        return judge_output(spec.output_kind, output, input_text=sample.text, files=files,
                            candidate_labels=sample.candidate_labels, context=sample.context,
                            image_size=sample.image_size, single_label=spec.single_label)

    step("validating_api", f"calling {endpoint.api_name} as an MCP tool (tools/list, tools/call)")
    evidence.mcp = _clean(check_mcp(app, endpoint, api.slots, sample, judge=judge, call_timeout=predict_timeout),
                          redactor)
    # Offered once the tool answered (its output may still be refused, as how_to_call is offered for the API's).
    if evidence.mcp.tool and evidence.mcp.failure is not McpFailure.CALL_ERROR and evidence.how_to_call is not None:
        evidence.how_to_call.mcp = mcp_access(app.url, evidence.mcp.tool, space_id=space_id, private=bool(app.headers))


def check_app(app: PinnedApp, spec: TaskSpec | None, card_samples: list[SampleInput], *, evidence: E,
              redactor: Redactor, health_timeout: float, predict_timeout: float, space_id: str | None = None,
              crash_reason: Callable[[], str | None] | None = None,
              on_step: Callable[[str, str], None] | None = None) -> E:
    """Check health, read the API, call it with a sample and a probe, and judge the output; then the same call as
    an MCP tool (the `mcp` check, evidence only).

    Each step's result is recorded on `evidence` (redacted) as soon as the step ends, so the evidence
    holds whatever the check reached. Never raises for what the app does: every failure is evidence.

    Returns:
        `evidence`, filled.
    """
    step = on_step or (lambda _phase, _message: None)
    evidence.health = _clean(check_health(app, timeout=health_timeout, crash_reason=crash_reason), redactor)
    if not evidence.health.ok:
        return evidence
    step("validating_api", "reading the app's API with gradio_client view_api")
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="sf-checkup-") as tmp:
        download_dir = Path(tmp) / "downloads"
        try:
            # token=False: gradio_client would otherwise add the token it finds on the machine (HF_TOKEN) to
            # every request; the only credential sent is in `app.headers`, for the app's own origin.
            client = Client(app.dial.url, token=False, headers=dict(app.headers) or None,
                            verbose=False, analytics_enabled=False, download_files=str(download_dir),
                            httpx_kwargs=app.httpx_kwargs())
            raw = client.view_api(return_format="dict", print_info=False)
        except Exception as exc:  # an app that is up but speaks no Gradio API is evidence, not a crash
            evidence.api = _clean(ApiSchema(ok=False, error=f"view_api failed: {type(exc).__name__}: "
                                                            f"{str(exc)[:200]}"), redactor)
            return evidence
        evidence.api = _clean(_schema(raw, spec), redactor)
        if spec is None:
            evidence.test = TestResult(ok=False, skipped_reason="the task is unknown, so no input could be chosen")
            return evidence
        if not evidence.api.chosen:
            # No skipped_reason: that would make the gate a hardware "candidate", but an app with no endpoint
            # for its task is health_only (DESIGN §6); api_schema.json keeps the reason.
            evidence.test = TestResult(ok=False, task=spec.task)
            return evidence
        api_name = evidence.api.chosen
        sample, probe = pick_samples(spec, card_samples, Path(tmp) / "inputs")
        step("validating_api", f"calling {api_name} with {sample.describe()}")
        call, output = _call(client, api_name, sample, predict_timeout, evidence.api.slots)
        # Our words over the redacted schema; the card's sample text is untrusted, so the whole of it is cleaned
        # (the snippet's `token=os.environ[...]` is code, which the redactor leaves alone).
        evidence.how_to_call = _clean(how_to_call(evidence.api, space_id=space_id, url=app.url.url,
                                                  example=sample.text, extra_examples=_extra_examples(sample)),
                                      redactor)
        if call.error:
            evidence.test = _clean(TestResult(ok=False, api_name=api_name, task=spec.task, call=call), redactor)
            _check_mcp(app, evidence, spec, sample, redactor=redactor, predict_timeout=predict_timeout,
                       space_id=space_id, step=step)
            return evidence
        probe_call, probe_output = _call(client, api_name, probe, predict_timeout, evidence.api.slots)
        # The second call is part of the judgement: a constant output, or a probe output that fails the judge
        # where the rule asks (a QA answer outside the probe's context), is not real inference.
        verdict = judge_output(
            spec.output_kind, output, input_text=sample.text, file_head=_file_head(output, download_dir),
            probe_output=probe_output if not probe_call.error else None,
            probe_input_text=probe.text,
            candidate_labels=sample.candidate_labels, context=sample.context, image_size=sample.image_size,
            files=_output_files(output, download_dir), single_label=spec.single_label,
            probe_files=_output_files(probe_output, download_dir) if not probe_call.error else None,
            probe_context=probe.context, probe_image_size=probe.image_size, inputs_differ=_inputs_differ(sample, probe),
        )
        evidence.test = _clean(TestResult(ok=verdict.ok, api_name=api_name, task=spec.task, call=call,
                                          probe=probe_call, verdict=verdict), redactor)
        _check_mcp(app, evidence, spec, sample, redactor=redactor, predict_timeout=predict_timeout, space_id=space_id,
                   step=step)
    return evidence
