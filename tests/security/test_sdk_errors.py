"""No error text echoes a secret (issue 8 items 2 and 6): the SDK's argument-validation errors, ours, and JSON-RPC
errors all leave through `server.error_text.RedactErrors`, in both protocol eras; a token-shaped model id or
Space name never becomes a run id, a slug or a Space; `space_name` is refused at every edge by the worker's rule.

Tokens are made at run time (`fake_token`); "leaked" means any 12-character window of one appears in the answer
(pydantic cuts a long `input_value` in the middle, so whole-token checks alone would miss the halves).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from mcp import Client, MCPError

from space_factory.domain.errors import InvalidModelId, InvalidSpaceId
from space_factory.domain.ids import default_space_name, looks_secret, mint_run_id, parse_model_id, validate_space_name
from space_factory.domain.schemas import BuildOptions
from space_factory.server.error_text import clean_error_text
from space_factory.service import Factory
from tests.server.transports import ROOT
from tests.support.tokens import fake_token
from tests.tools.helpers import call, call_error, make_app, result_text

pytestmark = pytest.mark.anyio
WINDOW = 12
VALID_RUN_ID = "20261128-171233-tiny-gpt2-4f9a1c"
# For each tool: arguments that pass validation, so that one hostile argument at a time is what gets refused.
BASE_ARGS: dict[str, dict[str, Any]] = {
    "launch_build": {"model": "nobody/not-in-the-cache"},
    "validate_space": {"space": "http://127.0.0.1:9/"},
    "get_run_status": {"run_id": VALID_RUN_ID},
    "get_gate": {"run_id": VALID_RUN_ID},
    "cancel_run": {"run_id": VALID_RUN_ID},
    "fetch_trace_redacted": {"run_id": VALID_RUN_ID},
    "request_hardware": {"run_id": VALID_RUN_ID, "flavor": "cpu-basic"},
    "analyze_model": {"model": "nobody/not-in-the-cache"},
    "list_runs": {},
    "get_app_files": {"run_id": VALID_RUN_ID},
    "revise_build": {"run_id": VALID_RUN_ID, "files": {"app.py": "print('revised')\n"}},
}


def leaked(secret: str, text: str) -> str | None:
    """The first 12-character window of `secret` found in `text`, else None."""
    return next((secret[i:i + WINDOW] for i in range(len(secret) - WINDOW + 1) if secret[i:i + WINDOW] in text), None)


def hostile_values(token: str) -> list[Any]:
    """Values that break every parameter's schema (pattern, type or bound), each carrying `token`."""
    return [token + " \n", f"../{token}", token * 300, [token], {"k": token}, f"{token}\x00", f"{token}-" * 3 + "..",
            {"nested": [token, {"deeper": token}]}]


async def tool_names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


async def test_every_tool_argument_refused_by_the_sdk_never_echoes_its_value(factory: Factory, mode: str) -> None:
    """The SDK's pydantic text (`input_value='hf_…'`) is cut down to the field and the rule; nothing of the
    token survives, for every parameter of every tool, whatever the value's type or length."""
    token = fake_token()
    async with Client(make_app(factory), mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == set(BASE_ARGS), "a new tool needs its BASE_ARGS row"
        tried = 0
        for name, tool in tools.items():
            for param in tool.input_schema["properties"]:
                for value in hostile_values(token):
                    result = await client.call_tool(name, {**BASE_ARGS[name], param: value})
                    text = result_text(result)
                    tried += 1
                    if not result.is_error:
                        continue  # accepted (a key or a name the rule admits is kept only as a digest / refused later)
                    assert leaked(token, text) is None, (name, param, text[:500])
                    assert "input_value" not in text, (name, param, text[:500])
    assert tried >= 150


async def test_a_long_token_cut_by_pydantic_leaves_no_half_behind(factory: Factory, mode: str) -> None:
    """pydantic shortens a long input_value to `head...tail`: halves a redactor cannot recognise. None is left."""
    token = fake_token()
    async with Client(make_app(factory), mode=mode) as client:
        text = await call_error(client, "get_run_status", {"run_id": token + "x" * 200 + token})
    assert leaked(token, text) is None and "..." not in text.split("\n", 1)[-1].split("[type=")[0]
    assert "run_id" in text and "string_pattern_mismatch" in text  # the field and the rule stay, for the agent


async def test_an_unknown_tool_named_by_a_token_is_answered_without_it(factory: Factory, mode: str) -> None:
    token = fake_token()
    async with Client(make_app(factory), mode=mode) as client:
        result = await client.call_tool(token, {})
    assert result.is_error and leaked(token, result_text(result)) is None


async def test_json_rpc_errors_of_resources_and_prompts_are_redacted_with_their_data(factory: Factory,
                                                                                      mode: str) -> None:
    """A resource error's message and `data.uri` (the caller's URI) leave redacted too."""
    token = fake_token()
    async with Client(make_app(factory), mode=mode) as client:
        for uri in (f"factory://runs/{token}/report.md", f"factory://runs/{VALID_RUN_ID}{token.lower()}/state.json",
                    f"factory://nothing/{token}"):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            everything = caught.value.message + json.dumps(caught.value.data)
            assert leaked(token, everything) is None, everything
        with pytest.raises(MCPError) as caught:
            await client.get_prompt(token, {})
        assert leaked(token, caught.value.message + json.dumps(caught.value.data)) is None


@pytest.mark.parametrize("shape", ["owner/{t}", "{t}/tiny-gpt2", "https://huggingface.co/owner/{t}"])
async def test_a_token_shaped_model_id_is_refused_and_starts_no_run(factory: Factory, mode: str, shape: str) -> None:
    token = fake_token()
    async with Client(make_app(factory), mode=mode) as client:
        for tool in ("launch_build", "analyze_model"):
            text = await call_error(client, tool, {"model": shape.format(t=token)})
            assert "looks like an access token" in text and leaked(token, text) is None
        runs = await call(client, "list_runs")
    assert runs["runs"] == []


async def test_a_token_shaped_space_name_is_refused_without_echo(factory: Factory, mode: str) -> None:
    token = fake_token()  # `hf_` + 34 letters and digits: a valid Hub repo name, so only the secret check stops it
    async with Client(make_app(factory), mode=mode) as client:
        text = await call_error(client, "launch_build", {"model": "nobody/not-in-the-cache", "space_name": token})
        runs = await call(client, "list_runs")
    assert "space_name" in text and "looks like an access token" in text and leaked(token, text) is None
    assert runs["runs"] == []


@pytest.mark.parametrize("name", ["a..b", "a--b", "app-", "app.", "app.git", "-app", ".app", "x" * 97, "a b", "a/b"])
async def test_a_space_name_the_worker_would_refuse_is_refused_at_the_tool(factory: Factory, mode: str,
                                                                           name: str) -> None:
    """Item 6: the tool schema's check calls the worker's own rule (`validate_space_name`), before any run."""
    with pytest.raises(InvalidSpaceId):
        validate_space_name(name)
    async with Client(make_app(factory), mode=mode) as client:
        text = await call_error(client, "launch_build", {"model": "nobody/not-in-the-cache", "space_name": name})
        runs = await call(client, "list_runs")
    assert "space_name" in text and runs["runs"] == []


@pytest.mark.parametrize("name", ["a..b", "a--b", "app.git"])
def test_the_service_refuses_a_bad_space_name_before_any_run(factory: Factory, name: str) -> None:
    with pytest.raises(InvalidSpaceId):
        factory.launch("nobody/not-in-the-cache", options=BuildOptions(space_name=name))
    assert factory.list_runs() == []


def test_the_cli_refuses_a_bad_space_name_with_its_rule(tmp_path: Any) -> None:
    env = {"PATH": "/usr/bin:/bin", "SPACE_FACTORY_HOME": str(tmp_path), "SPACE_FACTORY_OWNER": "tester",
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "space_factory", "build", "nobody/not-in-the-cache", "--space-name",
                           "a..b", "--json"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    payload = json.loads(done.stdout)
    assert payload["type"] == "InvalidSpaceId" and "'..'" in payload["error"]
    assert not (tmp_path / "buckets").exists() or not list((tmp_path / "buckets").rglob("state.json"))


def test_a_token_shaped_model_never_becomes_a_run_id_or_a_space_name() -> None:
    token = fake_token()
    for model in (f"owner/{token}", f"owner/{token.lower()}", token):
        run_id = mint_run_id(model)
        assert leaked(token.lower(), run_id) is None and "-model-" in run_id
        assert leaked(token.lower(), default_space_name(model, run_id).lower()) is None
    with pytest.raises(InvalidModelId) as caught:
        parse_model_id(f"owner/{token}")
    assert leaked(token, str(caught.value)) is None and leaked(token, caught.value.model) is None


@pytest.mark.parametrize("model", ["sshleifer/tiny-gpt2", "sentence-transformers/all-MiniLM-L6-v2",
                                   "TheBloke/Llama-2-7B-GPTQ", "x/5f4dcc3b5aa765d61d8327deb882cf99",
                                   "openai/whisper-large-v3", "google/flan-t5-small"])
def test_ordinary_model_ids_keep_their_readable_slug(model: str) -> None:
    assert not looks_secret(model) and parse_model_id(model) == model
    assert model.rsplit("/", 1)[-1].lower()[:8] in mint_run_id(model)


def test_clean_error_text_drops_every_echoed_value_even_one_that_mimics_the_format() -> None:
    token = fake_token()
    tricky = (f"run_id\n  String should match pattern 'x' [type=string_pattern_mismatch, "
              f"input_value='{token}, input_type=str] {token}', input_type=str]\n"
              f"  Odd format input_value={token}")
    cleaned = clean_error_text(tricky)
    assert leaked(token, cleaned) is None and "[type=string_pattern_mismatch]" in cleaned
