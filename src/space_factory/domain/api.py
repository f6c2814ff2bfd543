"""A Gradio app's API as `view_api` describes it: parsed, matched to a task, and explained to an agent. Pure."""

from __future__ import annotations

from typing import Any

from space_factory.domain.schemas import ApiEndpoint, ApiParameter, ApiSchema, HowToCall
from space_factory.domain.tasks import InputKind, OutputKind, TaskSpec

# Gradio components that can take each kind of input, as `view_api` names them.
_COMPONENTS: dict[InputKind, frozenset[str]] = {
    InputKind.TEXT: frozenset({"Textbox", "Text", "TextArea", "Code", "Markdown", "Api"}),
    InputKind.IMAGE: frozenset({"Image", "ImageEditor", "File", "Api"}),
    InputKind.AUDIO: frozenset({"Audio", "File", "Api"}),
}
# Components whose value can carry each kind of output; an endpoint returning one of them is preferred.
_OUTPUT_COMPONENTS: dict[OutputKind, frozenset[str]] = {
    OutputKind.TEXT: frozenset({"Textbox", "Text", "TextArea", "Markdown", "Code", "HTML"}),
    OutputKind.TRANSCRIPT: frozenset({"Textbox", "Text", "TextArea", "Markdown"}),
    OutputKind.LABELS: frozenset({"Label", "JSON", "Dataframe"}),
    OutputKind.ENTITIES: frozenset({"HighlightedText", "JSON", "Dataframe"}),
    OutputKind.EMBEDDING: frozenset({"JSON", "Dataframe", "Textbox"}),
    OutputKind.IMAGE: frozenset({"Image", "Gallery", "File", "ImageEditor"}),
    OutputKind.AUDIO: frozenset({"Audio", "File"}),
}
_PREFERRED_NAMES = ("/predict", "/infer", "/inference", "/run", "/generate", "/classify", "/transcribe", "/embed")


def _param(raw: dict[str, Any], index: int) -> ApiParameter:
    python_type = raw.get("python_type")
    return ApiParameter(
        name=str(raw.get("parameter_name") or raw.get("label") or f"arg{index}"),
        label=str(raw["label"]) if raw.get("label") is not None else None,
        component=str(raw["component"]) if raw.get("component") is not None else None,
        python_type=str(python_type.get("type")) if isinstance(python_type, dict) else None,
        has_default=bool(raw.get("parameter_has_default", False)),
    )


def parse_view_api(raw: dict[str, Any]) -> list[ApiEndpoint]:
    """The named endpoints of a `Client.view_api(return_format="dict")` answer."""
    named = raw.get("named_endpoints")
    if not isinstance(named, dict):
        return []
    endpoints = []
    for api_name, info in named.items():
        if not isinstance(info, dict):
            continue
        params = [p for p in info.get("parameters", []) if isinstance(p, dict)]
        returns = [r for r in info.get("returns", []) if isinstance(r, dict)]
        endpoints.append(ApiEndpoint(
            api_name=str(api_name),
            parameters=[_param(p, i) for i, p in enumerate(params)],
            returns=[_param(r, i) for i, r in enumerate(returns)],
        ))
    return endpoints


def _fits(endpoint: ApiEndpoint, spec: TaskSpec) -> bool:
    required = [p for p in endpoint.parameters if not p.has_default]
    if not endpoint.parameters or len(required) > 1 or not endpoint.returns:
        return False
    return (endpoint.parameters[0].component or "") in _COMPONENTS[spec.input_kind]


def _returns_fit(endpoint: ApiEndpoint, spec: TaskSpec) -> bool:
    return (endpoint.returns[0].component or "") in _OUTPUT_COMPONENTS[spec.output_kind]


def choose_endpoint(endpoints: list[ApiEndpoint], spec: TaskSpec) -> tuple[str | None, str]:
    """Pick the endpoint to call for the task.

    Among endpoints taking one input of the task's kind, those whose output component can carry the task's
    output come first; within each group a conventional name (`/predict`, …) wins, then the first listed.

    Returns:
        `(api_name, reason)`; `api_name` is None when nothing fits, and `reason` says why.
    """
    fitting = [e for e in endpoints if _fits(e, spec)]
    if not fitting:
        names = ", ".join(e.api_name for e in endpoints) or "none"
        return None, f"no named endpoint takes one {spec.input_kind.value} input (endpoints: {names})"
    well_typed = [e for e in fitting if _returns_fit(e, spec)]
    group = well_typed or fitting
    output_note = f" and returns a {spec.output_kind.value}-capable output" if well_typed else ""

    def rank(endpoint: ApiEndpoint) -> int:
        name = endpoint.api_name
        return _PREFERRED_NAMES.index(name) if name in _PREFERRED_NAMES else len(_PREFERRED_NAMES)

    chosen = min(group, key=rank)  # min is stable: ties keep the app's own order
    return chosen.api_name, f"{chosen.api_name} takes a {spec.input_kind.value} input{output_note}"


def build_schema(raw: dict[str, Any], spec: TaskSpec | None) -> ApiSchema:
    """`tests/api_schema.json` from a `view_api` answer."""
    endpoints = parse_view_api(raw)
    if spec is None:
        return ApiSchema(ok=bool(endpoints), endpoints=endpoints, reason="task unknown: no endpoint chosen", raw=raw)
    chosen, reason = choose_endpoint(endpoints, spec)
    return ApiSchema(ok=bool(endpoints), endpoints=endpoints, chosen=chosen, reason=reason, raw=raw)


def how_to_call(schema: ApiSchema, *, space_id: str | None, url: str | None, example: object = None) -> HowToCall:
    """Tell an agent how to call the chosen endpoint with gradio_client."""
    endpoint = next((e for e in schema.endpoints if e.api_name == schema.chosen), None)
    if endpoint is None:
        return HowToCall(space_id=space_id, url=url)
    src = space_id if space_id and not (url or "").startswith("http://127.") else url
    # repr, not json.dumps: JSON writes characters beyond the BMP as surrogate pairs ("\ud83d\ude00"),
    # which Python reads as two lone surrogates, so the snippet would name another endpoint.
    component = endpoint.parameters[0].component if endpoint.parameters else None
    file_input = component in ("Image", "Audio", "File", "Video", "ImageEditor")
    if file_input:
        suffix = {"Image": ".png", "ImageEditor": ".png", "Audio": ".wav", "Video": ".mp4"}.get(component or "", "")
        arg = f"handle_file('path/to/input{suffix}')"
    else:
        arg = repr(example) if isinstance(example, str) else "..."
    private = src == space_id  # a private Space needs the caller's token; a local URL needs none
    lines = [
        *(["import os", ""] if private else []),
        "from gradio_client import Client" + (", handle_file" if file_input else ""),
        f"client = Client({src!r}{', token=os.environ[' + repr('HF_TOKEN') + ']' if private else ''})",
        f"result = client.predict({arg}, api_name={endpoint.api_name!r})",
        "print(result)",
    ]
    return HowToCall(space_id=space_id, url=url, api_name=endpoint.api_name, parameters=endpoint.parameters,
                     python="\n".join(lines))
