"""Tiny random-weight Hugging Face models, built offline for tests (reference/tiny-models.md §2).

Each builder writes a `save_pretrained` folder with a model card; `install_into_cache` lays such a folder
into an HF cache as `<org>/<name>`; `build_all` does both for the 8 models the templates cover. Nothing is
downloaded. The outputs of these models are meaningless: they prove wiring, not quality.

Importing this module has no side effects: torch, transformers and tokenizers are imported inside the
builders, so importing it before the HF environment variables are set cannot freeze them (pitfall P1).
It also never sets environment variables; callers (conftest, subprocess envs) do.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import BertConfig, PreTrainedTokenizerFast

CORPUS = [
    "the cat sat on the mat",
    "the dog ate my homework",
    "hugging face makes tiny models for tests",
    "paris is the capital of france",
    "alice met bob in london last year",
    "this movie was great and i loved it",
    "this movie was terrible and i hated it",
    "a quick brown fox jumps over the lazy dog",
    "translate english to german: the house is wonderful",
    "summarize: tiny models load fast and run anywhere",
]
SEED = 0
WORDS = sorted({w for line in CORPUS for w in line.lower().split()})
CHARS = sorted({c for w in WORDS for c in w} | set("abcdefghijklmnopqrstuvwxyz0123456789.,!?:;'-"))
DEFAULT_ORG = "factory-test"


def install_into_cache(src_dir: Path | str, repo_id: str, hf_home: Path | str) -> Path:
    """Copy a `save_pretrained` folder into `<hf_home>/hub` as the snapshot of `repo_id`.

    The commit hash is a sha1 over the relative file names and bytes, so a rebuild gives the same hash.

    Returns:
        The snapshot directory.
    """
    src = Path(src_dir)
    digest = hashlib.sha1()
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        digest.update(path.relative_to(src).as_posix().encode())
        digest.update(path.read_bytes())
    commit = digest.hexdigest()
    repo_dir = Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(src, snapshot)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    # A trailing newline makes resolution fail with LocalEntryNotFoundError (P2).
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


def write_card(
    out_dir: Path,
    pipeline_tag: str,
    widget: list[dict[str, Any]],
    library_name: str = "transformers",
    tags: tuple[str, ...] = (),
) -> None:
    """Write README.md with the front matter the card analysis reads (task, library, license, widget)."""
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(
        pipeline_tag=pipeline_tag,
        library_name=library_name,
        license="apache-2.0",
        tags=[*tags, "tiny", "random-weights", "testing"],
        widget=widget,
    )
    body = (
        f"# {out_dir.name}\n\nTiny model with **random weights**, built offline for tests. "
        "Its outputs are meaningless.\n"
    )
    ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}").save(out_dir / "README.md")


def bert_tokenizer() -> PreTrainedTokenizerFast:
    """A WordPiece tokenizer with a hand-made vocab (WordPieceTrainer is not reproducible, P8)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for line in CORPUS for w in line.lower().replace(":", " ").split()})
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHARS, *("##" + c for c in CHARS)]
    pieces += [w for w in words if w not in CHARS]
    tok = Tokenizer(models.WordPiece({p: i for i, p in enumerate(pieces)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def tiny_bert_config(vocab_size: int, labels: list[str] | None = None) -> BertConfig:
    from transformers import BertConfig

    extra: dict[str, Any] = {}
    if labels:
        extra = {"id2label": dict(enumerate(labels)), "label2id": {name: i for i, name in enumerate(labels)}}
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        **extra,
    )


def build_gpt2(out_dir: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    # The BPE trainer with the byte-level alphabet is reproducible across processes (P8).
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    eot = "<|endoftext|>"
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=eot, eos_token=eot, unk_token=eot, pad_token=eot, model_max_length=128
    )
    torch.manual_seed(SEED)
    eos_id = hf_tok.eos_token_id  # GPT2Config would default bos/eos to 50256, outside this vocab (P5)
    config = GPT2Config(
        vocab_size=len(hf_tok),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    model = GPT2LMHeadModel(config)
    model.generation_config.max_new_tokens = 16  # the pipeline default 256 > n_positions: IndexError (P4)
    model.save_pretrained(out_dir)
    hf_tok.save_pretrained(out_dir)
    write_card(out_dir, "text-generation", [{"text": "the cat sat"}])
    return out_dir


def _build_bert(out_dir: Path, model_cls: Any, tag: str, text: str, labels: list[str] | None = None) -> Path:
    import torch

    tok = bert_tokenizer()
    torch.manual_seed(SEED)
    model_cls(tiny_bert_config(len(tok), labels)).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    write_card(out_dir, tag, [{"text": text}])
    return out_dir


def build_bert_cls(out_dir: Path) -> Path:
    from transformers import BertForSequenceClassification

    return _build_bert(
        out_dir, BertForSequenceClassification, "text-classification", "this movie was great",
        ["NEGATIVE", "POSITIVE"],
    )


def build_bert_ner(out_dir: Path) -> Path:
    from transformers import BertForTokenClassification

    return _build_bert(
        out_dir, BertForTokenClassification, "token-classification", "alice met bob in london",
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    )


def build_bert_mlm(out_dir: Path) -> Path:
    from transformers import BertForMaskedLM

    return _build_bert(out_dir, BertForMaskedLM, "fill-mask", "the cat sat on the [MASK]")


def build_sentence_transformer(out_dir: Path) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models
    from transformers import BertModel

    tok = bert_tokenizer()
    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as base:  # a plain BertModel first, then wrap it
        BertModel(tiny_bert_config(len(tok))).save_pretrained(base)
        tok.save_pretrained(base)
        word = st_models.Transformer(base, max_seq_length=64)
        pool = st_models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
        SentenceTransformer(modules=[word, pool, st_models.Normalize()]).save(str(out_dir))
    # Replaces the README that SentenceTransformer.save wrote (P12).
    write_card(
        out_dir,
        "sentence-similarity",
        library_name="sentence-transformers",
        tags=("sentence-transformers", "feature-extraction"),
        widget=[{"source_sentence": "the cat sat", "sentences": ["the dog ate", "a cat sat down"]}],
    )
    return out_dir


def build_t5(out_dir: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    # A Unigram model with a hand-made scored vocab (UnigramTrainer is not reproducible, P8).
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + w, -1.0) for w in WORDS] + [(c, -4.0) for c in CHARS]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=128
    )
    torch.manual_seed(SEED)
    config = T5Config(
        vocab_size=len(hf_tok),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        # A wider init makes the random decoder attend to its input: with the default, every input gave the
        # same "run run run …", which the gate rightly rejects as a constant output.
        initializer_factor=5.0,
    )
    T5ForConditionalGeneration(config).save_pretrained(out_dir)
    hf_tok.save_pretrained(out_dir)
    write_card(out_dir, "text2text-generation", [{"text": "summarize: the cat sat"}])
    return out_dir


def build_vit(out_dir: Path) -> Path:
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    labels = ["cat", "dog", "bird"]
    torch.manual_seed(SEED)
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    ViTForImageClassification(config).save_pretrained(out_dir)
    # Without torchvision this is ViTImageProcessorPil on load; it works (P10).
    processor = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    processor.save_pretrained(out_dir)
    widget = [{"src": "https://example.invalid/cat.png", "example_title": "cat"}]
    write_card(out_dir, "image-classification", widget)
    return out_dir


def build_wav2vec2(out_dir: Path) -> Path:
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    # No <s>/</s>: the CTC pipeline decodes with skip_special_tokens=False, so they would show in text (P11).
    chars = ["<pad>", "<unk>", "|", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    (out_dir / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(chars)}))
    tok = Wav2Vec2CTCTokenizer(
        str(out_dir / "vocab.json"),
        unk_token="<unk>",
        pad_token="<pad>",
        word_delimiter_token="|",
        bos_token=None,
        eos_token=None,
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    torch.manual_seed(SEED)
    config = Wav2Vec2Config(
        vocab_size=len(chars),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        conv_dim=(32, 32, 32),
        conv_stride=(5, 8, 8),  # 320x downsampling: 50 frames a second at 16 kHz
        conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
        pad_token_id=0,
        ctc_loss_reduction="mean",
    )
    Wav2Vec2ForCTC(config).save_pretrained(out_dir)
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tok).save_pretrained(out_dir)
    write_card(
        out_dir,
        "automatic-speech-recognition",
        [{"src": "https://example.invalid/sample.flac", "example_title": "sample"}],
    )
    return out_dir


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "tiny-gpt2": build_gpt2,
    "tiny-bert-cls": build_bert_cls,
    "tiny-bert-ner": build_bert_ner,
    "tiny-bert-mlm": build_bert_mlm,
    "tiny-st": build_sentence_transformer,
    "tiny-t5": build_t5,
    "tiny-vit": build_vit,
    "tiny-wav2vec2": build_wav2vec2,
}


def build_all(hf_home: Path | str, org: str = DEFAULT_ORG) -> dict[str, str]:
    """Build every tiny model and install it into the HF cache at `hf_home`.

    Args:
        hf_home: the `HF_HOME` directory; models land under `<hf_home>/hub`.
        org: the owner part of the repo ids.

    Returns:
        Model name (e.g. "tiny-gpt2") to repo id (e.g. "factory-test/tiny-gpt2").
    """
    repos: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tiny_build_") as build_root:
        for name, build in BUILDERS.items():
            repo_id = f"{org}/{name}"
            install_into_cache(build(Path(build_root) / name), repo_id, hf_home)
            repos[name] = repo_id
    return repos


if __name__ == "__main__":  # python -m tests.support.tiny_models HF_HOME [ORG]: prints the repo ids as JSON
    import sys

    print(json.dumps(build_all(sys.argv[1], *sys.argv[2:3])))
