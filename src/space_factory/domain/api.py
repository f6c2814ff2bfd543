"""A Gradio app's API as `view_api` describes it: parsed, matched to a task, and explained to an agent. Pure."""

from __future__ import annotations

import re
from typing import Any

from space_factory.domain.schemas import ApiEndpoint, ApiParameter, ApiSchema, HowToCall
from space_factory.domain.tasks import InputKind, InputSlot, OutputKind, TaskSpec

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
    # gr.ChatInterface's endpoint returns its reply through a "Json" component (gradio 6).
    OutputKind.CHAT: frozenset({"Json", "JSON", "Textbox", "Text", "TextArea", "Markdown", "Chatbot"}),
    OutputKind.ANSWER: frozenset({"JSON", "Json", "Textbox", "Text", "Label"}),
    OutputKind.ZERO_SHOT: frozenset({"Label", "JSON", "Json", "Dataframe"}),
    OutputKind.DETECTIONS: frozenset({"JSON", "Json", "AnnotatedImage", "Dataframe"}),
    OutputKind.SEGMENTS: frozenset({"AnnotatedImage", "JSON", "Json", "Gallery"}),
}
# Text parameters are told apart by name (parameter name or label, lowercased, words joined by "_").
_SLOT_NAMES: dict[InputSlot, frozenset[str]] = {
    InputSlot.CANDIDATE_LABELS: frozenset({
        "candidate_labels", "labels", "classes", "class_names", "candidates", "categories", "label_names",
        "candidate_labels_comma_separated", "labels_comma_separated",
    }),
    InputSlot.CONTEXT: frozenset({"context", "passage", "document", "paragraph", "contexts"}),
    InputSlot.QUESTION: frozenset({"question", "query", "questions"}),
}
_FILE_SLOTS = (InputSlot.IMAGE, InputSlot.AUDIO)
_PREFERRED_NAMES = ("/predict", "/infer", "/inference", "/run", "/generate", "/chat", "/classify", "/transcribe",
                    "/embed", "/answer")


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


def _words(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "_", (text or "").lower()).strip("_")


def _slot_of(param: ApiParameter, index: int, wanted: tuple[InputSlot, ...]) -> InputSlot | None:
    """The task slot a parameter can take: files by component, text by name; None when it takes none.

    A parameter named for a slot (``candidate_labels``, ``context``, ``question``) takes that slot; any other
    text parameter takes the task's main text. "question" is the main text of a task whose text slot it is.
    """
    component = param.component or ""
    for slot in _FILE_SLOTS:
        kind = InputKind(slot.value)
        if slot in wanted and component in _COMPONENTS[kind] and (component != "Api" or index == 0):
            return slot
    if component not in _COMPONENTS[InputKind.TEXT]:
        return None
    names = {_words(param.name), _words(param.label)}
    for slot, known in _SLOT_NAMES.items():
        if names & known:
            if slot in wanted:
                return slot
            if slot is InputSlot.QUESTION and InputSlot.TEXT in wanted:
                return InputSlot.TEXT
            return None  # a labels/context parameter of a task that has none: never fed the main text
    return InputSlot.TEXT if InputSlot.TEXT in wanted else None


def endpoint_slots(endpoint: ApiEndpoint, spec: TaskSpec) -> dict[str, InputSlot] | None:
    """Which parameter the gate fills with which of the task's inputs, or None when the endpoint cannot be called.

    Every required parameter must take a slot, every slot of the task must be taken by one parameter, and
    optional parameters that take a slot are filled too (a labels parameter with a default is still the
    labels input). Order does not matter: `fn(labels, image)` fits as well as `fn(image, labels)`.
    """
    if not endpoint.parameters or not endpoint.returns:
        return None
    wanted = spec.inputs
    taken: dict[str, InputSlot] = {}
    for index, param in enumerate(endpoint.parameters):
        slot = _slot_of(param, index, wanted)
        if slot is not None and slot not in taken.values():
            taken[param.name] = slot
        elif not param.has_default:
            return None
    return taken if set(taken.values()) == set(wanted) else None


def _fits(endpoint: ApiEndpoint, spec: TaskSpec) -> bool:
    return endpoint_slots(endpoint, spec) is not None


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
        needs = (f"one {spec.input_kind.value} input" if not spec.extra_inputs
                 else " and ".join(slot.value for slot in spec.inputs) + " inputs")
        return None, f"no named endpoint takes {needs} (endpoints: {names})"
    well_typed = [e for e in fitting if _returns_fit(e, spec)]
    group = well_typed or fitting
    output_note = f" and returns a {spec.output_kind.value}-capable output" if well_typed else ""

    def rank(endpoint: ApiEndpoint) -> int:
        name = endpoint.api_name
        return _PREFERRED_NAMES.index(name) if name in _PREFERRED_NAMES else len(_PREFERRED_NAMES)

    chosen = min(group, key=rank)  # min is stable: ties keep the app's own order
    if spec.extra_inputs:
        filled = ", ".join(f"{name} ← {slot.value}" for name, slot in (endpoint_slots(chosen, spec) or {}).items())
        return chosen.api_name, f"{chosen.api_name} takes {filled}{output_note}"
    return chosen.api_name, f"{chosen.api_name} takes a {spec.input_kind.value} input{output_note}"


def build_schema(raw: dict[str, Any], spec: TaskSpec | None) -> ApiSchema:
    """`tests/api_schema.json` from a `view_api` answer."""
    endpoints = parse_view_api(raw)
    if spec is None:
        return ApiSchema(ok=bool(endpoints), endpoints=endpoints, reason="task unknown: no endpoint chosen", raw=raw)
    chosen, reason = choose_endpoint(endpoints, spec)
    endpoint = next((e for e in endpoints if e.api_name == chosen), None)
    slots = {name: slot.value for name, slot in (endpoint_slots(endpoint, spec) or {}).items()} if endpoint else {}
    return ApiSchema(ok=bool(endpoints), endpoints=endpoints, chosen=chosen, slots=slots, reason=reason, raw=raw)


def _file_arg(component: str | None) -> str:
    suffix = {"Image": ".png", "ImageEditor": ".png", "Audio": ".wav", "Video": ".mp4"}.get(component or "", "")
    return f"handle_file('path/to/input{suffix}')"


def how_to_call(schema: ApiSchema, *, space_id: str | None, url: str | None, example: object = None,
                extra_examples: dict[str, str] | None = None) -> HowToCall:
    """Tell an agent how to call the chosen endpoint with gradio_client.

    Args:
        example: the main text input shown in the snippet (file inputs get a placeholder path instead).
        extra_examples: the other inputs' values by slot (e.g. "candidate_labels" → "a cat, a dog"), used
            when the chosen endpoint takes more than one input (`schema.slots`).
    """
    endpoint = next((e for e in schema.endpoints if e.api_name == schema.chosen), None)
    if endpoint is None:
        return HowToCall(space_id=space_id, url=url)
    src = space_id if space_id and not (url or "").startswith("http://127.") else url
    # repr, not json.dumps: JSON writes characters beyond the BMP as surrogate pairs ("\ud83d\ude00"),
    # which Python reads as two lone surrogates, so the snippet would name another endpoint.
    file_components = ("Image", "Audio", "File", "Video", "ImageEditor")
    if len(schema.slots) > 1:
        values: list[tuple[str, str]] = []
        for param in endpoint.parameters:
            slot = schema.slots.get(param.name)
            if slot in (InputSlot.IMAGE, InputSlot.AUDIO):
                values.append((param.name, _file_arg(param.component)))
            elif slot == InputSlot.TEXT:
                values.append((param.name, repr(example) if isinstance(example, str) else "..."))
            elif slot is not None:
                values.append((param.name, repr((extra_examples or {}).get(slot, "..."))))
        file_input = any(s in (InputSlot.IMAGE, InputSlot.AUDIO) for s in schema.slots.values())
        # gradio_client takes parameters by name; a name that is no identifier is passed by position.
        by_name = all(name.isidentifier() for name, _ in values)
        arg = ", ".join(f"{name}={value}" if by_name else value for name, value in values)
    else:
        component = endpoint.parameters[0].component if endpoint.parameters else None
        file_input = component in file_components
        arg = _file_arg(component) if file_input else (repr(example) if isinstance(example, str) else "...")
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
