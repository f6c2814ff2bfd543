"""The app generator and its task templates, checked statically (no model is loaded, nothing is served).

Where the rules come from: DESIGN §1 (one named endpoint, /health) and §9 (card text never becomes code),
and the Space conventions (README front matter; requirements never pin gradio, spaces or huggingface_hub).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from space_factory.domain.schemas import ModelCardAnalysis, RuntimeRecommendation, SampleInput
from space_factory.domain.tasks import CHAT_SPEC, TASKS, TEMPLATE_TASKS, InputKind
from space_factory.worker.generate import (
    API_NAME,
    APP_FILES,
    SHORT_DESCRIPTION_MAX,
    GeneratedApp,
    NoTemplate,
    generate_app,
    template_stems,
    yaml_str,
)

MODEL = "factory-test/tiny-model"
CPU = RuntimeRecommendation(primary="cpu-basic")
ZEROGPU = RuntimeRecommendation(primary="zero-a10g", needs_gpu=True, zerogpu_eligible=True)
FORBIDDEN_REQUIREMENTS = {"gradio", "spaces", "huggingface-hub"}
README_KEYS = {
    "title", "emoji", "colorFrom", "colorTo", "sdk", "app_file", "pinned", "short_description", "models",
}
# Everything a card might hold to break out of a string literal, a template or the YAML front matter.
HOSTILE = (
    'He said "hi" and \'bye\' \'\'\' """ \\ \\n \n second line\r\n\t{}{0}{{MODEL_ID}}{{ }} '
    '"""); import os; os.system("x")#\n\'); __import__("os").system("y")#\n'
    "title: injected\n---\nevil: true\u2028\u0085\x00 \U0001f600 é"
)


def _analysis(task: str | None, model: str = MODEL, **fields: object) -> ModelCardAnalysis:
    fields.setdefault("license", "apache-2.0")
    return ModelCardAnalysis(model=model, task=task, **fields)  # type: ignore[arg-type]


def _generate(
    tmp_path: Path, task: str, recommendation: RuntimeRecommendation = CPU, **fields: object
) -> Path:
    return generate_app(_analysis(task, **fields), recommendation, tmp_path / "app").directory


def _front_matter(readme: str) -> dict[str, object]:
    assert readme.startswith("---\n")
    header, _, _body = readme[4:].partition("\n---\n")
    data = yaml.safe_load(header)
    assert isinstance(data, dict)
    return data


def _assignments(tree: ast.Module) -> dict[str, object]:
    """Module-level `NAME = <literal>` assignments, evaluated with ast.literal_eval."""
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def _call_names(tree: ast.AST) -> set[str]:
    """Dotted names of every call's function (`os.system`, `gr.Interface`, `predict`, ...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            names.add(ast.unparse(node.func))
    return names


def _imports(tree: ast.AST) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    return modules


def _find_call(tree: ast.AST, name: str) -> ast.Call:
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == name]
    assert len(calls) == 1, f"expected one call to {name}, found {len(calls)}"
    return calls[0]


def _keywords(call: ast.Call) -> dict[str, object]:
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg and _is_literal(kw.value)}


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def test_every_template_stem_in_the_task_catalog_ships_as_a_template() -> None:
    """Each template stem named in domain/tasks.py has a file under worker/templates/."""
    expected = {spec.template for spec in (*TASKS.values(), CHAT_SPEC) if spec.template}
    assert set(template_stems()) == expected


@pytest.mark.parametrize("task", sorted(TEMPLATE_TASKS))
def test_generated_app_is_valid_python_with_a_predict_endpoint_and_health(tmp_path: Path, task: str) -> None:
    """DESIGN §1: one named endpoint `/predict`, `GET /health` registered before Gradio is mounted."""
    app = generate_app(_analysis(task), CPU, tmp_path / "app")
    assert app == GeneratedApp(tmp_path / "app", APP_FILES, task, TASKS[task].template or "", API_NAME)
    source = (app.directory / "app.py").read_text(encoding="utf-8")
    tree = ast.parse(source)

    values = _assignments(tree)
    assert values["MODEL_ID"] == MODEL
    assert values["TASK"] == task
    assert values["USE_GPU"] is False

    interface = _find_call(tree, "gr.Interface")
    keywords = _keywords(interface)
    assert keywords["api_name"] == "predict"
    assert keywords["flagging_mode"] == "never"
    assert keywords["cache_examples"] is False

    predict = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "predict")
    assert ast.get_docstring(predict)
    assert predict.returns is not None
    assert all(arg.annotation is not None for arg in predict.args.args)

    health = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "health")
    assert [ast.unparse(d) for d in health.decorator_list] == ["app.get('/health')"]
    mount = _find_call(tree, "gr.mount_gradio_app")
    assert health.lineno < mount.lineno, "/health must be registered before mount_gradio_app"
    assert '"model_loaded"' in source and '"status": "ok"' in source

    # `import spaces` (ZeroGPU) has to run before torch is imported.
    lines = source.splitlines()
    assert lines.index("    import spaces") < lines.index("import torch")
    assert 'os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0")' in source
    assert 'os.environ.get("PORT")' in source and 'os.environ.get("GRADIO_SERVER_PORT")' in source
    assert not {"spaces.GPU", "demo.launch"} & _call_names(tree)  # CPU plan: no ZeroGPU branches
    assert "uvicorn.run" in _call_names(tree)
    # DESIGN §13: every Space is also an MCP server, whichever way Gradio serves it.
    assert _keywords(mount)["mcp_server"] is True
    # Mounted, Gradio's MCP server would call the app back through the URL a request came in by (a private Space's
    # proxy refuses it): the uvicorn path tells it the local URL, as launch() does.
    assert 'demo.mcp_server_obj._local_url = f"http://127.0.0.1:{port}/"' in source


@pytest.mark.parametrize("task", sorted({*TEMPLATE_TASKS, "text-generation-chat"}))
def test_predict_documents_every_parameter_for_the_mcp_tool_schema(tmp_path: Path, task: str) -> None:
    """Gradio's MCP tool takes its description from predict's docstring and each parameter's from `Args:`."""
    chat = task == "text-generation-chat"
    directory = _generate(tmp_path, "text-generation" if chat else task, chat_template=chat)
    tree = ast.parse((directory / "app.py").read_text())
    predict = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "predict")
    doc = ast.get_docstring(predict) or ""
    summary, _, rest = doc.partition("\n")
    assert summary.strip().endswith(".") and "Args:" in rest and "Returns:" in rest
    args = rest.split("Args:", 1)[1].split("Returns:", 1)[0]
    for arg in predict.args.args:
        assert f"{arg.arg}:" in args, f"{task}: {arg.arg} is not documented"
        assert arg.annotation is not None


@pytest.mark.parametrize("task", sorted(TEMPLATE_TASKS))
def test_requirements_list_runtime_imports_and_never_gradio_spaces_or_hub(tmp_path: Path, task: str) -> None:
    """The Space image provides gradio, spaces and huggingface_hub; pinning them breaks builds."""
    directory = _generate(tmp_path, task)
    lines = [ln.strip() for ln in (directory / "requirements.txt").read_text().splitlines() if ln.strip()]
    names = {ln.split(">=")[0].strip().lower().replace("_", "-") for ln in lines}
    assert not names & FORBIDDEN_REQUIREMENTS
    # gradio's mcp extra without a version (the image's sdk_version decides gradio): mcp 1 only in the Space.
    assert "gradio[mcp]" in names
    assert {"transformers", "torch"} <= names
    assert not any(op in ln for ln in lines for op in ("==", "<", "~=", "!="))
    imports = {m.split(".")[0] for m in _imports(ast.parse((directory / "app.py").read_text()))}
    needed = {"PIL": "pillow", "numpy": "numpy", "soundfile": "soundfile"}
    for module, requirement in needed.items():
        if module in imports:
            assert requirement in names


@pytest.mark.parametrize("task", sorted(TEMPLATE_TASKS))
def test_readme_front_matter_describes_a_gradio_space(tmp_path: Path, task: str) -> None:
    """Space YAML: sdk gradio, app_file app.py, the model listed, short_description ≤ 60 characters."""
    directory = _generate(tmp_path, task)
    readme = (directory / "README.md").read_text(encoding="utf-8")
    front = _front_matter(readme)
    assert set(front) >= README_KEYS
    assert front["sdk"] == "gradio"
    assert front["app_file"] == "app.py"
    assert front["pinned"] is False
    assert front["models"] == [MODEL]
    assert front["license"] == "apache-2.0"
    assert "suggested_hardware" not in front  # cpu-basic is the default, not a suggestion
    assert len(str(front["short_description"])) <= SHORT_DESCRIPTION_MAX
    assert API_NAME in readme and "gradio_client" in readme and task in readme


def test_zerogpu_plan_wraps_predict_with_spaces_gpu_and_suggests_no_unlisted_flavor(tmp_path: Path) -> None:
    """A GPU plan makes the app ZeroGPU-ready: spaces.GPU around predict, the model on cuda when present."""
    directory = _generate(tmp_path, "text-generation", ZEROGPU)
    tree = ast.parse((directory / "app.py").read_text())
    assert "spaces.GPU" in _call_names(tree)
    assert _assignments(tree)["USE_GPU"] is True
    wrap = _find_call(tree, "spaces.GPU")
    assert [ast.unparse(a) for a in wrap.args] == ["predict"]
    # ZeroGPU finishes its setup in gr.Blocks.launch, so with `spaces` present the app serves that way.
    assert {"demo.launch", "demo.app.add_api_route", "uvicorn.run"} <= _call_names(tree)
    assert _keywords(_find_call(tree, "demo.launch"))["mcp_server"] is True  # the MCP endpoint on ZeroGPU too
    # zero-a10g is not among the flavors the Hub accepts as suggested_hardware (domain.front_matter).
    assert "suggested_hardware" not in _front_matter((directory / "README.md").read_text())


@pytest.mark.parametrize(
    "plan",
    [
        RuntimeRecommendation(primary="t4-small"),
        RuntimeRecommendation(primary="cpu-basic", fallback="t4-small", use_fallback=True),
    ],
)
def test_fixed_gpu_plans_also_count_as_gpu(tmp_path: Path, plan: RuntimeRecommendation) -> None:
    """The Space is created with the fallback flavor when the plan uses it (worker pipeline)."""
    directory = _generate(tmp_path, "fill-mask", plan)
    tree = ast.parse((directory / "app.py").read_text())
    assert _assignments(tree)["USE_GPU"] is True
    assert "spaces.GPU" in _call_names(tree)
    assert _front_matter((directory / "README.md").read_text())["suggested_hardware"] == "t4-small"


def test_unused_fallback_keeps_a_cpu_plan(tmp_path: Path) -> None:
    plan = RuntimeRecommendation(primary="cpu-basic", fallback="t4-small", use_fallback=False)
    directory = _generate(tmp_path, "fill-mask", plan)
    assert _assignments(ast.parse((directory / "app.py").read_text()))["USE_GPU"] is False


@pytest.mark.parametrize("task", sorted(TEMPLATE_TASKS))
def test_hostile_card_values_stay_string_literals(tmp_path: Path, task: str) -> None:
    """DESIGN §9: card text never becomes code; quotes, braces and newlines survive as literal values."""
    analysis = _analysis(
        task,
        model=HOSTILE,
        license=HOSTILE,
        sample_inputs=[SampleInput(text=HOSTILE), SampleInput(text="{{EXAMPLES}} plain")],
    )
    app = generate_app(analysis, ZEROGPU, tmp_path / "app", space_title=HOSTILE)
    source = (app.directory / "app.py").read_text(encoding="utf-8")
    tree = ast.parse(source)

    values = _assignments(tree)
    assert values["MODEL_ID"] == HOSTILE
    assert values["TITLE"] == HOSTILE
    assert HOSTILE in str(values["DESCRIPTION"])
    if TASKS[task].input_kind is InputKind.TEXT:
        # One column per input: the card's texts first, then the task's other inputs (labels, a QA context).
        assert [row[0] for row in values["EXAMPLES"]] == [HOSTILE, "{{EXAMPLES}} plain"]
        assert all(len(row) == len(TASKS[task].inputs) for row in values["EXAMPLES"])
    else:
        assert values["EXAMPLES"] is None

    calls = _call_names(tree)
    assert not calls & {"os.system", "eval", "exec", "__import__", "compile", "__import__('os').system"}
    assert not any("system" in name or "__import__" in name for name in calls)
    # Same program as for a benign card: same imports and the same calls.
    benign = ast.parse(
        (generate_app(_analysis(task), ZEROGPU, tmp_path / "benign").directory / "app.py").read_text()
    )
    assert _imports(tree) == _imports(benign)
    assert calls == _call_names(benign)

    front = _front_matter((app.directory / "README.md").read_text(encoding="utf-8"))
    assert set(front) == README_KEYS | {"license", "license_name"}
    assert front["title"] == HOSTILE
    assert front["models"] == [HOSTILE]
    # A license outside the Hub's list is `other`, named by a slug of the card's text (domain.front_matter).
    assert front["license"] == "other" and str(front["license_name"]).startswith("he-said-hi-and-bye")
    assert "evil" not in front


def test_examples_come_from_card_samples_and_fall_back_to_the_task_default(tmp_path: Path) -> None:
    samples = [
        SampleInput(source_sentence="the cat sat", sentences=["a", "b"]),
        SampleInput(text="the cat sat"),  # duplicate: listed once
        SampleInput(text="   "),  # blank: skipped
    ]
    directory = _generate(tmp_path / "a", "sentence-similarity", sample_inputs=samples)
    assert _assignments(ast.parse((directory / "app.py").read_text()))["EXAMPLES"] == [["the cat sat"]]

    directory = _generate(tmp_path / "b", "fill-mask")
    default = TASKS["fill-mask"].default_text
    assert _assignments(ast.parse((directory / "app.py").read_text()))["EXAMPLES"] == [[default]]


def test_generate_overwrites_only_its_own_files(tmp_path: Path) -> None:
    out = tmp_path / "workspace"
    out.mkdir()
    (out / "app.py").write_text("stale")
    (out / "notes.md").write_text("keep me")
    app = generate_app(_analysis("text-classification"), CPU, out)
    assert app.files == ("app.py", "requirements.txt", "README.md")
    assert (out / "app.py").read_text() != "stale"
    assert (out / "notes.md").read_text() == "keep me"


def test_generate_creates_missing_directories(tmp_path: Path) -> None:
    app = generate_app(_analysis("token-classification"), CPU, tmp_path / "a" / "b")
    assert sorted(p.name for p in app.directory.iterdir()) == sorted(APP_FILES)


def test_short_description_is_truncated_for_long_model_names(tmp_path: Path) -> None:
    directory = _generate(tmp_path, "text-generation", model="owner/" + "a-very-long-model-name" * 5)
    front = _front_matter((directory / "README.md").read_text())
    assert len(str(front["short_description"])) <= SHORT_DESCRIPTION_MAX


@pytest.mark.parametrize("task", ["image-to-image", "no-such-task", None])
def test_tasks_without_a_template_raise_no_template(tmp_path: Path, task: str | None) -> None:
    with pytest.raises(NoTemplate) as info:
        generate_app(_analysis(task), CPU, tmp_path / "app")
    assert info.value.task == task
    assert not (tmp_path / "app").exists()


@pytest.mark.parametrize(
    "value", [HOSTILE, "", "plain", "é\u2028\u0085\x7f\U0001f600", 'a"b\\c', "key: value\n- item"]
)
def test_yaml_str_round_trips_through_a_yaml_parser(value: str) -> None:
    assert yaml.safe_load(f"k: {yaml_str(value)}") == {"k": value}
