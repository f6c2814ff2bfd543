"""CacheModelSource: model facts from a local Hugging Face cache, offline (DESIGN §2; hf-apis.md §4.3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from space_factory.backends.base import ModelSource
from space_factory.backends.local.models import CacheModelSource, read_safetensors_params
from space_factory.domain import model_files
from space_factory.domain.analysis import analyze_card
from space_factory.domain.errors import InvalidModelId, ModelNotFound
from space_factory.domain.model_files import parse_card_yaml, split_front_matter
from space_factory.domain.safetensors_header import MAX_HEADER_BYTES, header_length, parse_safetensors_header

SHA = "2bdbae04329165c908883c0059e5926feed13dc4"
CARD = """---
library_name: transformers
license: apache-2.0
pipeline_tag: text-generation
tags:
- tiny
widget:
- text: the cat sat
---

# tiny-gpt2

Tiny model with **random weights**.
"""
CONFIG = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "torch_dtype": "float32"}


def tensors_file(path: Path) -> Path:
    """A real safetensors file: 2×3 F32 + 4 F16 elements."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {"w": np.zeros((2, 3), dtype=np.float32), "b": np.zeros(4, dtype=np.float16)},
        str(path),
        metadata={"format": "pt"},
    )
    return path


def install(
    cache: Path,
    model: str,
    files: dict[str, bytes | str | Path],
    *,
    sha: str = SHA,
    ref: str | None = SHA,
    blobs: bool = False,
) -> Path:
    """Lay `files` into `cache` as hf_hub_download does: plain files, or symlinks into blobs/."""
    repo = cache / f"models--{model.replace('/', '--')}"
    snapshot = repo / "snapshots" / sha
    for rel, content in files.items():
        data = (
            content.read_bytes()
            if isinstance(content, Path)
            else (content.encode() if isinstance(content, str) else content)
        )
        target = snapshot / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if blobs:
            blob = repo / "blobs" / f"blob{abs(hash(rel))}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            target.symlink_to(os.path.relpath(blob, target.parent))
        else:
            target.write_bytes(data)
    snapshot.mkdir(parents=True, exist_ok=True)
    if ref is not None:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(ref)  # no trailing newline unless the test adds one
    return snapshot


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    return tensors_file(tmp_path / "src" / "model.safetensors")


def gpt2_files(weights: Path) -> dict[str, bytes | str | Path]:
    return {
        "README.md": CARD,
        "config.json": json.dumps(CONFIG),
        "model.safetensors": weights,
        "tokenizer.json": "{}",
    }


# --- layouts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("blobs", [False, True], ids=["plain-files", "blob-symlinks"])
def test_model_facts_reads_card_config_files_and_safetensors_headers(
    tmp_path: Path, weights: Path, blobs: bool
) -> None:
    cache = tmp_path / "hub"
    install(cache, "factory-test/tiny-gpt2", gpt2_files(weights), blobs=blobs)
    facts = CacheModelSource(cache).model_facts("factory-test/tiny-gpt2")
    assert facts.model == "factory-test/tiny-gpt2" and facts.revision == SHA
    assert facts.card_data["pipeline_tag"] == "text-generation"
    assert facts.card_data["widget"] == [{"text": "the cat sat"}]
    assert facts.card_text.startswith("\n# tiny-gpt2")
    assert facts.config == CONFIG
    assert [(f.path, f.size) for f in facts.files] == [
        ("README.md", len(CARD)),
        ("config.json", len(json.dumps(CONFIG))),
        ("model.safetensors", weights.stat().st_size),
        ("tokenizer.json", 2),
    ]
    assert facts.safetensors_params == {"F32": 6, "F16": 4}


def test_cache_model_source_satisfies_the_model_source_protocol(tmp_path: Path) -> None:
    source: ModelSource = CacheModelSource(tmp_path)
    assert isinstance(source, CacheModelSource)


def test_facts_from_the_cache_feed_a_full_analysis(tmp_path: Path, weights: Path) -> None:
    install(tmp_path, "factory-test/tiny-gpt2", gpt2_files(weights))
    a = analyze_card(CacheModelSource(tmp_path).model_facts("https://huggingface.co/factory-test/tiny-gpt2"))
    assert (a.task, a.library, a.params, a.params_source, a.dtype, a.license) == (
        "text-generation",
        "transformers",
        10,
        "safetensors",
        "float32",
        "apache-2.0",
    )
    assert [s.text for s in a.sample_inputs] == ["the cat sat"]
    assert a.has_template and a.size_bytes == weights.stat().st_size


def test_files_in_subfolders_are_listed_as_relative_posix_paths(tmp_path: Path, weights: Path) -> None:
    install(
        tmp_path,
        "o/st",
        {
            "modules.json": "[]",
            "1_Pooling/config.json": "{}",
            "onnx/model.onnx": b"x" * 10,
            "model.safetensors": weights,
        },
    )
    facts = CacheModelSource(tmp_path).model_facts("o/st")
    assert [f.path for f in facts.files] == [
        "1_Pooling/config.json",
        "model.safetensors",
        "modules.json",
        "onnx/model.onnx",
    ]


def test_only_the_selected_weight_copy_is_parsed_so_variants_are_not_counted_twice(
    tmp_path: Path, weights: Path
) -> None:
    install(tmp_path, "o/m", {"model.safetensors": weights, "model.fp16.safetensors": weights})
    assert CacheModelSource(tmp_path).model_facts("o/m").safetensors_params == {"F32": 6, "F16": 4}


# --- refs and snapshots ----------------------------------------------------------------------------


def test_a_ref_with_a_trailing_newline_is_tolerated(tmp_path: Path) -> None:
    install(tmp_path, "o/m", {"config.json": "{}"}, ref=SHA + "\n")
    assert CacheModelSource(tmp_path).model_facts("o/m").revision == SHA


def test_a_missing_ref_picks_the_only_snapshot(tmp_path: Path) -> None:
    install(tmp_path, "o/m", {"config.json": "{}"}, ref=None)
    assert CacheModelSource(tmp_path).model_facts("o/m").revision == SHA


@pytest.mark.parametrize("ref", [None, "f" * 40, "../../../etc", ""])
def test_without_a_usable_ref_the_newest_snapshot_wins(tmp_path: Path, ref: str | None) -> None:
    old = install(tmp_path, "o/m", {"config.json": "{}"}, sha="a" * 40, ref=ref)
    install(tmp_path, "o/m", {"config.json": "{}"}, sha="b" * 40, ref=ref)
    os.utime(old, (1_000_000, 1_000_000))
    assert CacheModelSource(tmp_path).model_facts("o/m").revision == "b" * 40


def test_the_ref_decides_between_several_snapshots(tmp_path: Path) -> None:
    install(tmp_path, "o/m", {"config.json": "{}"}, sha="a" * 40, ref="a" * 40)
    newer = install(tmp_path, "o/m", {"config.json": "{}"}, sha="b" * 40, ref="a" * 40)
    os.utime(newer, (4_000_000_000, 4_000_000_000))
    assert CacheModelSource(tmp_path).model_facts("o/m").revision == "a" * 40


@pytest.mark.parametrize("layout", ["absent", "no-snapshots-dir", "empty-snapshots-dir"])
def test_a_model_not_in_the_cache_raises_model_not_found_naming_the_cache(
    tmp_path: Path, layout: str
) -> None:
    repo = tmp_path / "models--o--m"
    if layout == "no-snapshots-dir":
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(SHA)
    elif layout == "empty-snapshots-dir":
        (repo / "snapshots").mkdir(parents=True)
    with pytest.raises(ModelNotFound) as info:
        CacheModelSource(tmp_path).model_facts("o/m")
    assert info.value.model == "o/m"
    assert "the local Hugging Face cache (HF_HOME)" in str(info.value)
    assert str(tmp_path) not in str(info.value)  # no server path in a message (STYLE R6)


def test_an_invalid_model_id_is_refused_before_any_path_is_built(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelId):
        CacheModelSource(tmp_path).model_facts("../../etc/passwd")


def test_the_default_cache_is_read_from_huggingface_hub_constants_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = CacheModelSource()
    install(tmp_path, "o/m", {"config.json": "{}"})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert source.cache_dir == tmp_path
    assert source.model_facts("o/m").revision == SHA


# --- files -----------------------------------------------------------------------------------------


def test_broken_symlinks_are_not_listed(tmp_path: Path) -> None:
    snapshot = install(tmp_path, "o/m", {"config.json": "{}"})
    (snapshot / "model.safetensors").symlink_to("../../blobs/missing")
    assert [f.path for f in CacheModelSource(tmp_path).model_facts("o/m").files] == ["config.json"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        (b"\xff\xfe", None),
        ('{"a": ' * 100_000, None),
        ('{"a": 1}', {"a": 1}),
    ],
)
def test_an_unreadable_config_json_is_none_and_the_rest_is_still_read(
    tmp_path: Path, config: str | bytes, expected: dict[str, int] | None
) -> None:
    install(tmp_path, "o/m", {"config.json": config, "README.md": CARD})
    facts = CacheModelSource(tmp_path).model_facts("o/m")
    assert facts.config == expected
    assert facts.card_data["license"] == "apache-2.0"


@pytest.mark.parametrize(
    "content",
    [
        b"\x01\x00\x00\x00\x00\x00\x00\x00{",  # header claims 1 byte, then is cut
        (200).to_bytes(8, "little") + b"{}",  # header longer than the file
        (MAX_HEADER_BYTES + 1).to_bytes(8, "little") + b"{}",  # over the 100 MB cap
        (2).to_bytes(8, "little") + b"[]",  # JSON, but not an object
        b"abc",  # shorter than the length prefix
    ],
)
def test_a_corrupt_safetensors_file_is_skipped_without_failing(
    tmp_path: Path, weights: Path, content: bytes
) -> None:
    install(
        tmp_path,
        "o/m",
        {"model-00001-of-00002.safetensors": weights, "model-00002-of-00002.safetensors": content},
    )
    assert CacheModelSource(tmp_path).model_facts("o/m").safetensors_params == {"F32": 6, "F16": 4}


def test_only_the_safetensors_header_is_read_never_the_tensors(tmp_path: Path) -> None:
    """A header announcing 10^12 elements with no data behind it still parses: the data is never read."""
    header = json.dumps(
        {"huge": {"dtype": "BF16", "shape": [1_000_000, 1_000_000], "data_offsets": [0, 2 * 10**12]}}
    )
    path = tmp_path / "x.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header.encode())
    assert read_safetensors_params(path) == {"BF16": 10**12}


# --- hostile cards ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        "---\nlicense: [unclosed\n---\nbody",
        "---\n: : :\n\t- bad indent\n---\n",
        "---\n" + "[" * 5_000 + "\n---\n",
        "---\nbig: " + "9" * 5_000 + "\n---\n",
        "---\na: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n---\n",
        "---\n!!python/object/apply:os.system ['echo pwned']\n---\n",
        "---\njust a string\n---\n",
        "---\n- a\n- list\n---\n",
        "---\nlicense: mit\n",  # never closed
        "\x00\xff binary garbage",
    ],
    ids=[
        "unclosed-flow",
        "bad-indent",
        "deep-nesting",
        "huge-int",
        "aliases",
        "python-tag",
        "scalar",
        "list",
        "unclosed-front-matter",
        "binary",
    ],
)
def test_a_malformed_card_gives_empty_card_data_and_never_raises(tmp_path: Path, card: str) -> None:
    install(tmp_path, "o/m", {"README.md": card.encode("utf-8", "surrogateescape")})
    facts = CacheModelSource(tmp_path).model_facts("o/m")
    assert facts.card_data == {}
    analyze_card(facts)


def test_card_values_with_quotes_newlines_dates_and_odd_keys_become_json_values(tmp_path: Path) -> None:
    card = (
        '---\nlicense: "mit\\"); import os #"\ndescription: |\n  line one\n  line two\n'
        "released: 2024-01-02\n1: numeric key\nratio: .nan\nwidget: just a string\n---\nbody\n"
    )
    install(tmp_path, "o/m", {"README.md": card})
    facts = CacheModelSource(tmp_path).model_facts("o/m")
    assert facts.card_data == {
        "license": 'mit"); import os #',
        "description": "line one\nline two\n",
        "released": "2024-01-02",
        "1": "numeric key",
        "ratio": None,
        "widget": "just a string",
    }
    json.dumps(facts.model_dump(mode="json"))
    assert any("widget is a str" in w for w in analyze_card(facts).warnings)


def test_a_card_with_ten_thousand_tags_is_read_and_the_analysis_caps_them(tmp_path: Path) -> None:
    card = "---\ntags:\n" + "".join(f"- tag-{i}\n" for i in range(10_000)) + "---\n"
    install(tmp_path, "o/m", {"README.md": card})
    facts = CacheModelSource(tmp_path).model_facts("o/m")
    assert len(facts.card_data["tags"]) == 10_000
    assert len(analyze_card(facts).tags) == 100


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
def test_card_yaml_with_aliases_or_deep_nesting_is_refused_before_it_is_built(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML's pure-Python scanner is quadratic in nesting depth (5,000 '[' took 12 s): refuse early."""
    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML built without {loader}")
    monkeypatch.setattr(model_files, "_YAML_LOADER", getattr(yaml, loader))
    assert parse_card_yaml("a: " + "[" * 10 + "1" + "]" * 10) == {"a": [[[[[[[[[[1]]]]]]]]]]}
    for hostile in ("a: " + "[" * 40 + "1" + "]" * 40, "[" * 5_000, "a: &x [1]\nb: *x"):
        with pytest.raises((ValueError, yaml.YAMLError)):
            parse_card_yaml(hostile)


def test_split_front_matter_handles_crlf_bom_and_an_empty_block() -> None:
    assert split_front_matter("\ufeff---\r\nlicense: mit\r\n---\r\nbody") == ("license: mit\r\n", "body")
    assert split_front_matter("---\n---\nbody") == ("", "body")


# --- the pure header parser ------------------------------------------------------------------------


def test_parse_safetensors_header_sums_elements_per_dtype_and_skips_metadata() -> None:
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "F32", "shape": [4]},
        "c": {"dtype": "BF16", "shape": []},
    }
    assert parse_safetensors_header(json.dumps(header).encode()) == {"F32": 10, "BF16": 1}


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F32"},
        {"shape": [2]},
        {"dtype": 5, "shape": [2]},
        {"dtype": "F32", "shape": [-1]},
        {"dtype": "F32", "shape": [True]},
        {"dtype": "F32", "shape": "2x3"},
        {"dtype": "X" * 100, "shape": [1]},
        "str",
    ],
)
def test_parse_safetensors_header_skips_malformed_tensor_entries(entry: object) -> None:
    header = {"bad": entry, "good": {"dtype": "F16", "shape": [3]}}
    assert parse_safetensors_header(json.dumps(header).encode()) == {"F16": 3}


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b"\xff\xfe", b'"s"'])
def test_parse_safetensors_header_rejects_a_header_that_is_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_safetensors_header(raw)


def test_header_length_reads_eight_little_endian_bytes_and_caps_at_100_mb() -> None:
    assert header_length((1234).to_bytes(8, "little") + b"rest") == 1234
    with pytest.raises(ValueError):
        header_length(b"\x00" * 7)
    with pytest.raises(ValueError):
        header_length((MAX_HEADER_BYTES + 1).to_bytes(8, "little"))
