"""Identifiers: minted run ids, validated model, run and Space ids (DESIGN §4 run id pattern; §9 untrusted ids)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from space_factory.domain.errors import InvalidModelId, InvalidRunId, InvalidSpaceId
from space_factory.domain.ids import (
    RUN_ID_PATTERN,
    default_space_name,
    mint_run_id,
    parse_model_id,
    validate_run_id,
    validate_space_id,
    validate_space_name,
)

NOW = datetime(2026, 11, 28, 17, 12, 33, tzinfo=UTC)
HOSTILE_MODELS = ["sshleifer/tiny-gpt2", "Ünïcødé/Модель-日本語", "owner/", "", "///", "../../etc/passwd",
                  "owner/" + "x" * 500, "owner/-_-._.-", "owner/UPPER_case.Model-v2", "a/b\nc", "emoji/😀😀"]


@pytest.mark.parametrize("model", HOSTILE_MODELS)
def test_minted_run_ids_match_the_run_id_pattern_whatever_the_model_name(model: str) -> None:
    """Run ids are server-minted and URL-safe: ^[a-z0-9][a-z0-9-]{7,79}$ (DESIGN §4)."""
    run_id = mint_run_id(model, NOW)
    assert re.fullmatch(RUN_ID_PATTERN, run_id), run_id
    assert validate_run_id(run_id) == run_id
    assert run_id.startswith("20261128-171233-")


def test_a_model_name_with_nothing_sluggable_gets_the_slug_model() -> None:
    """An empty slug falls back to 'model' so the id keeps its shape (docs/architecture.md, run ids)."""
    assert re.fullmatch(r"20261128-171233-model-[0-9a-f]{6}", mint_run_id("owner/日本語", NOW))


def test_minted_run_ids_carry_the_model_slug_and_differ_each_time() -> None:
    """<utc date>-<utc time>-<model slug>-<6 hex> (docs/architecture.md)."""
    ids = {mint_run_id("sshleifer/Tiny_GPT2", NOW) for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"20261128-171233-tiny-gpt2-[0-9a-f]{6}", i) for i in ids)


@pytest.mark.parametrize("bad", ["../x", "A" * 100, "abc", "ABCDEFGH-1234", "20261128-171233-x-abcdef\n",
                                 "20261128/171233", "-20261128-171233", "a" * 81, "", "runs/../../etc",
                                 "20261128 171233", "20261128_171233"])
def test_validate_run_id_rejects_path_tricks_and_malformed_ids(bad: str) -> None:
    """A run id is validated everywhere it comes in (DESIGN §4), so it can never name a path."""
    with pytest.raises(InvalidRunId) as caught:
        validate_run_id(bad)
    assert caught.value.run_id == bad


def test_validate_run_id_rejects_non_strings() -> None:
    """Agents can send any JSON value; only a string can be a run id."""
    with pytest.raises(InvalidRunId):
        validate_run_id(12345678)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [
    ("sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("  sshleifer/tiny-gpt2  ", "sshleifer/tiny-gpt2"),
    ("https://huggingface.co/sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("http://huggingface.co/sshleifer/tiny-gpt2/", "sshleifer/tiny-gpt2"),
    ("https://www.huggingface.co/sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("https://HuggingFace.co/Org/Model.v1_2", "Org/Model.v1_2"),
    ("huggingface.co/sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("hf.co/sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("https://hf.co/sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("https://huggingface.co/models/sshleifer/tiny-gpt2", "sshleifer/tiny-gpt2"),
    ("https://huggingface.co/sshleifer/tiny-gpt2/tree/main", "sshleifer/tiny-gpt2"),
    ("https://huggingface.co/sshleifer/tiny-gpt2/blob/main/config.json", "sshleifer/tiny-gpt2"),
    ("https://huggingface.co/sshleifer/tiny-gpt2?library=transformers#usage", "sshleifer/tiny-gpt2"),
])
def test_parse_model_id_accepts_owner_name_and_hub_model_urls(value: str, expected: str) -> None:
    """launch_build takes a model id or a huggingface.co URL (DESIGN §7)."""
    assert parse_model_id(value) == expected


@pytest.mark.parametrize("value", [
    "https://huggingface.co/spaces/owner/app", "https://huggingface.co/datasets/owner/data",
    "https://huggingface.co/buckets/owner/bucket", "hf.co/spaces/owner/app",
    "https://evil.example/owner/model", "https://huggingface.co.evil.example/owner/model",
    "ftp://huggingface.co/owner/model", "file:///etc/passwd", "https://huggingface.co/owner",
    "https://huggingface.co/", "owner/..", "../model", "owner/a..b", "owner--x/model", "owner/mo--del",
    "owner/model.", "owner/sub/model", "a/b/c", "", "   ", "owner", "owner/", "/model", "owner/mo del",
    "owner/mo\ndel", "owner/mödel", "-owner/model", "owner/" + "m" * 97, "x" * 301,
])
def test_parse_model_id_rejects_other_repos_hosts_and_malformed_ids(value: str) -> None:
    """Untrusted ids are matched against the Hub's rules (DESIGN §9); the error names the broken rule."""
    with pytest.raises(InvalidModelId) as caught:
        parse_model_id(value)
    assert caught.value.rule
    assert caught.value.model == value.strip() or caught.value.model == value


def test_a_spaces_url_is_rejected_with_a_rule_naming_the_repo_kind() -> None:
    """The error says what the URL names instead of a model (R6: a message that says what to do)."""
    with pytest.raises(InvalidModelId) as caught:
        parse_model_id("https://huggingface.co/spaces/owner/app")
    assert caught.value.rule == "this URL names a space, not a model"


@pytest.mark.parametrize("space_id", ["tester/app", "Org/My_App.v2", "a/b"])
def test_validate_space_id_accepts_owner_name(space_id: str) -> None:
    """Space ids are `owner/name` with the Hub's repo-name rules (DESIGN §9)."""
    assert validate_space_id(space_id) == space_id


@pytest.mark.parametrize("space_id", ["app", "a/b/c", "../app", "tester/..", "tester/a--b", "", "tester/app "])
def test_validate_space_id_rejects_malformed_ids(space_id: str) -> None:
    """Malformed Space ids raise InvalidSpaceId with the rule (STYLE R6)."""
    with pytest.raises(InvalidSpaceId) as caught:
        validate_space_id(space_id)
    assert caught.value.space_id == space_id and caught.value.rule


@pytest.mark.parametrize("name", ["app", "tiny-gpt2-demo-4f9a1c", "A.b_c-9", "x" * 96])
def test_validate_space_name_accepts_hub_repo_names(name: str) -> None:
    """An explicit space_name follows the Hub's repo-name rules (DESIGN §7 launch_build options)."""
    assert validate_space_name(name) == name


@pytest.mark.parametrize("name", ["", "a/b", "..", "a..b", "a--b", "-app", ".app", "x" * 97, "app name", "äpp",
                                  "app\n"])
def test_validate_space_name_rejects_paths_and_malformed_names(name: str) -> None:
    """A Space name can never hold a '/', '..' or '--' (DESIGN §9)."""
    with pytest.raises(InvalidSpaceId) as caught:
        validate_space_name(name)
    assert caught.value.space_id == name


@pytest.mark.parametrize("model", ["sshleifer/tiny-gpt2", "Org/Some_Model.V2", "owner/日本語", "owner/" + "x" * 96,
                                   "owner/a__b..c"])
def test_default_space_names_are_valid_and_end_with_the_run_suffix(model: str) -> None:
    """Default Space names are `<model-name>-demo-<run suffix>`: fresh per run (docs/architecture.md)."""
    run_id = mint_run_id(model, NOW)
    name = default_space_name(model, run_id)
    assert validate_space_name(name) == name
    assert name.endswith(f"-demo-{run_id.rsplit('-', 1)[-1]}")
    assert name == name.lower()


def test_default_space_name_keeps_the_model_name_readable() -> None:
    """The model's own name leads the default Space name (docs/architecture.md)."""
    assert default_space_name("sshleifer/Tiny_GPT2", "20261128-171233-tiny-gpt2-4f9a1c") == "tiny-gpt2-demo-4f9a1c"
