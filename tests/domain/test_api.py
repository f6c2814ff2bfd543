"""A Gradio app's API as `view_api` describes it: parsed, matched to a task, explained (DESIGN §6 `how_to_call`;
reference/hf-apis.md §6.1)."""

from __future__ import annotations

import ast
import copy
from typing import Any

import pytest

from space_factory.domain.api import build_schema, choose_endpoint, how_to_call, parse_view_api
from space_factory.domain.schemas import ApiEndpoint, ApiParameter, ApiSchema
from space_factory.domain.tasks import TASKS

TEXT = TASKS["text-generation"]
IMAGE = TASKS["image-classification"]
AUDIO = TASKS["automatic-speech-recognition"]

# Recorded for gr.Interface(greet, Textbox(label="name"), Textbox(label="greeting"), api_name="predict").
RECORDED: dict[str, Any] = {
    "named_endpoints": {"/predict": {
        "parameters": [{"label": "name", "parameter_name": "name", "parameter_has_default": False,
                        "parameter_default": None, "type": {"type": "string"},
                        "python_type": {"type": "str", "description": ""}, "component": "Textbox",
                        "example_input": "Hello!!"}],
        "returns": [{"label": "greeting", "type": {"type": "string"},
                     "python_type": {"type": "str", "description": ""}, "component": "Textbox"}],
        "description": ""}},
    "unnamed_endpoints": {}}


def _param(component: str, *, name: str = "x", default: bool = False) -> ApiParameter:
    return ApiParameter(name=name, component=component, has_default=default)


def _endpoint(api_name: str, *inputs: ApiParameter, returns: str = "Textbox") -> ApiEndpoint:
    return ApiEndpoint(api_name=api_name, parameters=list(inputs), returns=[_param(returns, name="out")])


def _snippet_call(python: str) -> ast.Call:
    """The `client.predict(...)` call of a how_to_call snippet."""
    tree = ast.parse(python)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "predict"]
    assert len(calls) == 1
    return calls[0]


def _client_arg(python: str) -> object:
    tree = ast.parse(python)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id == "Client")
    return ast.literal_eval(call.args[0])


def test_the_recorded_view_api_answer_parses_into_one_named_endpoint() -> None:
    """view_api(return_format="dict") shape as recorded in hf-apis.md §6.1."""
    [endpoint] = parse_view_api(RECORDED)
    assert endpoint.api_name == "/predict"
    assert endpoint.parameters == [ApiParameter(name="name", label="name", component="Textbox", python_type="str",
                                                has_default=False)]
    assert endpoint.returns == [ApiParameter(name="greeting", label="greeting", component="Textbox",
                                             python_type="str", has_default=False)]


def test_a_gr_server_api_endpoint_parses_with_its_positional_label() -> None:
    """gr.Server @server.api endpoints are labelled "1st" with component "Api" (hf-apis.md §6.1)."""
    raw = {"named_endpoints": {"/predict": {
        "parameters": [{"label": "1st", "component": "Api", "example_input": "..."}],
        "returns": [{"label": "1st", "component": "Api"}]}}}
    [endpoint] = parse_view_api(raw)
    assert endpoint.parameters[0].name == "1st" and endpoint.parameters[0].component == "Api"
    assert choose_endpoint([endpoint], TEXT)[0] == "/predict"


@pytest.mark.parametrize("raw", [{}, {"named_endpoints": None}, {"named_endpoints": []},
                                 {"named_endpoints": {"/x": "not a dict"}}], ids=["empty", "null", "list", "junk"])
def test_a_view_api_answer_without_named_endpoints_parses_to_nothing(raw: dict[str, Any]) -> None:
    """An app's answer is untrusted: odd shapes give no endpoints instead of an exception (DESIGN §9)."""
    assert parse_view_api(raw) == []


def test_non_dict_parameters_are_skipped_and_unnamed_ones_get_positional_names() -> None:
    """Parameters without a name get `arg<i>`; junk entries are dropped (untrusted app answer, DESIGN §9)."""
    raw = {"named_endpoints": {"/p": {"parameters": ["junk", {"component": "Textbox"}, {"label": 3}],
                                      "returns": [None, {"component": "Label"}]}}}
    [endpoint] = parse_view_api(raw)
    assert [p.name for p in endpoint.parameters] == ["arg0", "3"]
    assert [r.component for r in endpoint.returns] == ["Label"]


def test_predict_is_preferred_over_other_fitting_endpoints() -> None:
    """A conventional name wins, whatever the app's order (docs/architecture.md, API matching)."""
    endpoints = [_endpoint("/chat", _param("Textbox")), _endpoint("/generate", _param("Textbox")),
                 _endpoint("/predict", _param("Textbox"))]
    assert choose_endpoint(endpoints, TEXT)[0] == "/predict"
    assert choose_endpoint(endpoints[:2], TEXT)[0] == "/generate"


def test_without_a_conventional_name_the_first_fitting_endpoint_is_chosen() -> None:
    """Fallback: the first endpoint whose inputs fit the task."""
    endpoints = [_endpoint("/zeta", _param("Textbox")), _endpoint("/alpha", _param("Textbox"))]
    assert choose_endpoint(endpoints, TEXT)[0] == "/zeta"


def test_an_endpoint_with_two_required_parameters_is_never_chosen() -> None:
    """The gate calls with one sample input: an endpoint needing two cannot be called honestly."""
    two = _endpoint("/predict", _param("Textbox", name="a"), _param("Textbox", name="b"))
    chosen, reason = choose_endpoint([two], TEXT)
    assert chosen is None
    assert "/predict" in reason


def test_extra_parameters_with_defaults_do_not_stop_an_endpoint_fitting() -> None:
    """Optional parameters (max tokens, temperature) have defaults; one required input still fits."""
    endpoint = _endpoint("/predict", _param("Textbox"), _param("Slider", name="max_new_tokens", default=True))
    assert choose_endpoint([endpoint], TEXT)[0] == "/predict"


@pytest.mark.parametrize(("spec", "component"), [(TEXT, "Image"), (IMAGE, "Textbox"), (AUDIO, "Image"),
                                                 (IMAGE, "Audio"), (TEXT, None)])
def test_an_endpoint_whose_input_component_is_of_the_wrong_kind_is_rejected(spec: Any, component: str | None) -> None:
    """The first input's component must take the task's input kind."""
    endpoint = ApiEndpoint(api_name="/predict", parameters=[ApiParameter(name="x", component=component)],
                           returns=[_param("Textbox")])
    assert choose_endpoint([endpoint], spec)[0] is None


@pytest.mark.parametrize(("spec", "component"), [(TEXT, "Textbox"), (IMAGE, "Image"), (AUDIO, "Audio"),
                                                 (IMAGE, "File"), (AUDIO, "File")])
def test_each_input_kind_accepts_its_own_components(spec: Any, component: str) -> None:
    """Text, image and audio tasks each take their own Gradio components."""
    assert choose_endpoint([_endpoint("/predict", _param(component))], spec)[0] == "/predict"


def test_endpoints_without_inputs_or_outputs_are_rejected() -> None:
    """An endpoint must take an input and return something to be called for inference."""
    no_inputs = ApiEndpoint(api_name="/predict", returns=[_param("Textbox")])
    no_returns = ApiEndpoint(api_name="/predict", parameters=[_param("Textbox")])
    assert choose_endpoint([no_inputs, no_returns], TEXT)[0] is None
    assert choose_endpoint([], TEXT) == (None, "no named endpoint takes one text input (endpoints: none)")


def test_build_schema_records_the_choice_and_keeps_the_raw_answer() -> None:
    """tests/api_schema.json keeps the raw view_api answer as evidence (DESIGN §4)."""
    schema = build_schema(RECORDED, TEXT)
    assert schema.ok and schema.chosen == "/predict" and schema.reason
    assert schema.raw == RECORDED
    assert [e.api_name for e in schema.endpoints] == ["/predict"]


def test_build_schema_without_a_task_chooses_nothing_and_says_why() -> None:
    """With an unknown task no endpoint is chosen; the reason is recorded."""
    schema = build_schema(RECORDED, None)
    assert schema.ok and schema.chosen is None and "task unknown" in (schema.reason or "")


def test_build_schema_of_an_app_without_named_endpoints_is_not_ok() -> None:
    """An app with no named endpoints has no API to call."""
    schema = build_schema({"named_endpoints": {}, "unnamed_endpoints": {"0": {}}}, TEXT)
    assert not schema.ok and schema.chosen is None


def test_how_to_call_gives_a_snippet_that_parses_and_names_the_chosen_endpoint() -> None:
    """how_to_call: space id, api name, parameters and a gradio_client snippet (DESIGN §6)."""
    schema = build_schema(RECORDED, TEXT)
    how = how_to_call(schema, space_id="tester/app", url="https://tester-app.hf.space", example="Hello")
    assert how.api_name == "/predict" and how.space_id == "tester/app"
    assert [p.name for p in how.parameters] == ["name"]
    call = _snippet_call(how.python or "")
    assert [ast.literal_eval(a) for a in call.args] == ["Hello"]
    assert ast.literal_eval(call.keywords[0].value) == "/predict"
    assert _client_arg(how.python or "") == "tester/app"  # a Hub Space is called by id


def test_how_to_call_of_a_local_space_uses_its_loopback_url() -> None:
    """Local Spaces are not on the Hub: the snippet calls the app URL."""
    how = how_to_call(build_schema(RECORDED, TEXT), space_id="tester/app", url="http://127.0.0.1:7861/")
    assert _client_arg(how.python or "") == "http://127.0.0.1:7861/"
    assert _snippet_call(how.python or "").args[0].value is Ellipsis  # type: ignore[attr-defined]


def test_how_to_call_without_a_chosen_endpoint_has_no_snippet() -> None:
    """No endpoint chosen, nothing to call."""
    how = how_to_call(build_schema(RECORDED, IMAGE), space_id="tester/app", url=None)
    assert how.api_name is None and how.python is None and how.space_id == "tester/app"


HOSTILE = ['/x", api_name="/evil") ; import os ; os.system("id") ; ("',
           "/x'''\nimport os\n'''",
           "/back\\slash\\",
           "/nl\nprint('pwned')\r\n",
           "/emoji-\U0001f600-\u2028-\x00"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_how_to_call_quotes_hostile_api_names_urls_and_examples_as_plain_literals(hostile: str) -> None:
    """Untrusted text never becomes code: values are quoted and read back unchanged (DESIGN §9)."""
    endpoint = _endpoint(hostile, _param("Textbox"))
    schema = ApiSchema(ok=True, endpoints=[endpoint], chosen=hostile, raw=copy.deepcopy(RECORDED))
    url = "http://127.0.0.1:9/" + hostile
    how = how_to_call(schema, space_id=None, url=url, example=hostile)
    tree = ast.parse(how.python or "")
    assert len(tree.body) == 4  # import, Client, predict, print: nothing smuggled in
    call = _snippet_call(how.python or "")
    assert ast.literal_eval(call.keywords[0].value) == hostile
    assert ast.literal_eval(call.args[0]) == hostile
    assert _client_arg(how.python or "") == url


@pytest.mark.parametrize(("spec", "component", "suffix"), [(IMAGE, "Image", ".png"), (AUDIO, "Audio", ".wav"),
                                                           (IMAGE, "File", "")])
def test_how_to_call_of_a_file_input_wraps_a_placeholder_path_in_handle_file(spec: Any, component: str,
                                                                             suffix: str) -> None:
    """File inputs are sent with gradio_client's handle_file (hf-apis.md §6.1)."""
    schema = ApiSchema(ok=True, endpoints=[_endpoint("/predict", _param(component), returns="Label")],
                       chosen="/predict")
    how = how_to_call(schema, space_id=None, url="http://127.0.0.1:7860/", example="ignored for files")
    [arg] = _snippet_call(how.python or "").args
    assert isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "handle_file"
    assert ast.literal_eval(arg.args[0]) == f"path/to/input{suffix}"
    assert "handle_file" in (how.python or "").splitlines()[0]


# --- endpoints with several inputs (issue 11) --------------------------------------------------------
ZERO_SHOT_IMAGE = TASKS["zero-shot-image-classification"]
ZERO_SHOT_TEXT = TASKS["zero-shot-classification"]
QA = TASKS["question-answering"]


@pytest.mark.parametrize(("spec", "params", "slots"), [
    (ZERO_SHOT_IMAGE, [_param("Image", name="image"), _param("Textbox", name="candidate_labels")],
     {"image": "image", "candidate_labels": "candidate_labels"}),
    # order does not matter, and a label names the slot when the parameter name does not
    (ZERO_SHOT_IMAGE, [ApiParameter(name="arg0", label="Labels", component="Textbox"), _param("Image", name="img")],
     {"arg0": "candidate_labels", "img": "image"}),
    (ZERO_SHOT_TEXT, [_param("Textbox", name="text"), _param("Textbox", name="classes")],
     {"text": "text", "classes": "candidate_labels"}),
    (QA, [_param("Textbox", name="question"), _param("Textbox", name="context")],
     {"question": "text", "context": "context"}),
    (QA, [_param("Textbox", name="passage"), _param("Textbox", name="query")], {"passage": "context", "query": "text"}),
    # an optional labels parameter is still the labels input, and other optional parameters keep their defaults
    (ZERO_SHOT_IMAGE, [_param("Image", name="image"), _param("Textbox", name="labels", default=True),
                       _param("Slider", name="top_k", default=True)],
     {"image": "image", "labels": "candidate_labels"}),
])
def test_every_input_of_a_multi_input_endpoint_is_mapped_by_component_and_name(spec: Any, params: list[ApiParameter],
                                                                               slots: dict[str, str]) -> None:
    endpoint = _endpoint("/predict", *params, returns="Label")
    assert choose_endpoint([endpoint], spec)[0] == "/predict"
    raw = {"named_endpoints": {"/predict": {
        "parameters": [{"parameter_name": p.name, "label": p.label, "component": p.component,
                        "parameter_has_default": p.has_default} for p in params],
        "returns": [{"label": "out", "component": "Label"}]}}}
    assert build_schema(raw, spec).slots == slots


@pytest.mark.parametrize(("spec", "params"), [
    # a task input nobody takes: the labels of a zero-shot task, the QA context
    (ZERO_SHOT_IMAGE, [_param("Image", name="image")]),
    (QA, [_param("Textbox", name="question")]),
    # a required parameter no input fills: a second free text, a labels box on a task without labels
    (QA, [_param("Textbox", name="question"), _param("Textbox", name="context"), _param("Textbox", name="style")]),
    (TEXT, [_param("Textbox", name="prompt"), _param("Textbox", name="candidate_labels")]),
    (IMAGE, [_param("Image", name="image"), _param("Textbox", name="labels")]),
])
def test_an_endpoint_whose_inputs_cannot_all_be_filled_is_not_chosen(spec: Any, params: list[ApiParameter]) -> None:
    chosen, reason = choose_endpoint([_endpoint("/predict", *params)], spec)
    assert chosen is None and "/predict" in reason


def test_how_to_call_of_a_multi_input_endpoint_passes_each_input_by_name() -> None:
    endpoint = _endpoint("/predict", _param("Image", name="image"), _param("Textbox", name="candidate_labels"),
                         returns="Label")
    schema = ApiSchema(ok=True, endpoints=[endpoint], chosen="/predict",
                       slots={"image": "image", "candidate_labels": "candidate_labels"})
    how = how_to_call(schema, space_id=None, url="http://127.0.0.1:7860/",
                      extra_examples={"candidate_labels": "a cat, a dog"})
    call = _snippet_call(how.python or "")
    values = {k.arg: k.value for k in call.keywords}
    assert ast.literal_eval(values["candidate_labels"]) == "a cat, a dog"
    image = values["image"]
    assert isinstance(image, ast.Call) and isinstance(image.func, ast.Name) and image.func.id == "handle_file"
