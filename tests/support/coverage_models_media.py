"""Tiny random-weight models for the vision and audio tasks of issue 11, built offline into an HF cache.

One builder per task (YOLOS for detection and Segformer for segmentation — neither needs timm —, DPT for depth,
CLIP for zero-shot image classification, a wav2vec2 audio classifier, VITS for text-to-speech). Each writes a
`save_pretrained` folder with a model card; `build(names, hf_home)` builds only the ones asked for and lays
them into the cache with `tiny_models.install_into_cache`. Like `tiny_models`, importing this module has no
side effects (torch and transformers are imported inside the builders) and it never sets environment variables.

Random weights give meaningless outputs; a few heads are nudged so that the gate's honest checks can see
real inference: the detector's boxes are centred and its "no object" class is damped (so it reports boxes
inside the image), and VITS's noise is kept so that its waveform is not silent.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.support.tiny_models import CHARS, DEFAULT_ORG, SEED, install_into_cache, write_card

IMAGE_WIDGET = [{"src": "https://example.invalid/cat.png", "example_title": "cat"}]
AUDIO_WIDGET = [{"src": "https://example.invalid/sample.flac", "example_title": "sample"}]


def _vit_like(**overrides: object) -> dict[str, object]:
    """The small transformer sizes every vision builder shares."""
    return {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37,
            **overrides}


def build_yolos(out_dir: Path) -> Path:
    """YOLOS (a plain ViT detector, no timm) whose boxes stay inside the image and whose classes score high."""
    import torch
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    labels = ["cat", "dog", "car"]
    torch.manual_seed(SEED)
    config = YolosConfig(**_vit_like(), image_size=[32, 32], patch_size=8, num_detection_tokens=5,
                         id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)})
    model = YolosForObjectDetection(config)
    with torch.no_grad():
        # Boxes are sigmoid(cx, cy, w, h): a zero last layer with a small bias centres them at a third of the
        # image's size, with a little input-dependent jitter from small weights.
        last = model.bbox_predictor.layers[-1]
        last.weight.mul_(0.05)
        last.bias.copy_(torch.tensor([0.0, 0.0, -0.7, -0.7]))
        # The last class is "no object": damped, so the real classes score above the template's threshold.
        model.class_labels_classifier.layers[-1].bias[-1] = -4.0
    model.save_pretrained(out_dir)
    YolosImageProcessor(size={"shortest_edge": 32, "longest_edge": 32}).save_pretrained(out_dir)
    write_card(out_dir, "object-detection", IMAGE_WIDGET)
    return out_dir


def build_segformer(out_dir: Path) -> Path:
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    labels = ["sky", "road", "tree"]
    torch.manual_seed(SEED)
    config = SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2], decoder_hidden_size=16,
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )
    SegformerForSemanticSegmentation(config).save_pretrained(out_dir)
    SegformerImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out_dir)
    write_card(out_dir, "image-segmentation", IMAGE_WIDGET)
    return out_dir


def build_dpt(out_dir: Path) -> Path:
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(SEED)
    config = DPTConfig(**_vit_like(num_hidden_layers=4), image_size=32, patch_size=8, is_hybrid=False,
                       backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16,
                       reassemble_factors=[4, 2, 1, 0.5], head_in_index=-1)
    DPTForDepthEstimation(config).save_pretrained(out_dir)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(out_dir)
    write_card(out_dir, "depth-estimation", IMAGE_WIDGET)
    return out_dir


def _word_tokenizer(max_length: int = 64) -> object:
    """A character-level tokenizer over the corpus' characters (CLIP's text side)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    # The end token must not have id 2: CLIP then pools at the highest token id (its legacy rule), which here is a
    # letter of "This is a photo of", so every label would score the same.
    pieces = ["<|pad|>", "<|unk|>", "<|startoftext|>", "<|endoftext|>", *CHARS]
    tok = Tokenizer(models.WordPiece({p: i for i, p in enumerate(pieces)}, unk_token="<|unk|>",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", 2), ("<|endoftext|>", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|unk|>", pad_token="<|pad|>", model_max_length=max_length)


def build_clip(out_dir: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = _word_tokenizer()
    torch.manual_seed(SEED)
    config = CLIPConfig(
        text_config={**_vit_like(), "vocab_size": len(tokenizer), "max_position_embeddings": 64,  # type: ignore[arg-type]
                     "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 0},
        vision_config={**_vit_like(), "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(out_dir)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(out_dir)
    widget = [{"src": "https://example.invalid/cat.png", "candidate_labels": "a cat, a dog, a car",
               "example_title": "cat"}]
    write_card(out_dir, "zero-shot-image-classification", widget)
    return out_dir


def build_audio_classifier(out_dir: Path) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    labels = ["speech", "music", "noise"]
    torch.manual_seed(SEED)
    config = Wav2Vec2Config(
        **_vit_like(), conv_dim=(32, 32, 32), conv_stride=(5, 8, 8), conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, feat_extract_norm="group",
        do_stable_layer_norm=False, classifier_proj_size=16,
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )
    Wav2Vec2ForSequenceClassification(config).save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(out_dir)
    write_card(out_dir, "audio-classification", AUDIO_WIDGET)
    return out_dir


def build_vits(out_dir: Path) -> Path:
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    symbols = ["_", " ", *(c for c in CHARS if c != " ")]
    vocab_file = out_dir / "vocab.json"
    vocab_file.write_text(json.dumps({s: i for i, s in enumerate(symbols)}))
    tokenizer = VitsTokenizer(str(vocab_file), pad_token="_", unk_token="_", add_blank=True, normalize=True,
                              phonemize=False, language=None)
    torch.manual_seed(SEED)
    config = VitsConfig(
        vocab_size=len(symbols), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        duration_predictor_filter_channels=16, prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1, depth_separable_num_layers=1, duration_predictor_num_flows=1,
        sampling_rate=16000, pad_token_id=0,
    )
    VitsModel(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_card(out_dir, "text-to-speech", [{"text": "the cat sat on the mat"}])
    return out_dir


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "tiny-yolos": build_yolos,
    "tiny-segformer": build_segformer,
    "tiny-dpt": build_dpt,
    "tiny-clip": build_clip,
    "tiny-audio-cls": build_audio_classifier,
    "tiny-vits": build_vits,
}
# The task each model serves (its card's pipeline_tag).
TASKS = {
    "tiny-yolos": "object-detection",
    "tiny-segformer": "image-segmentation",
    "tiny-dpt": "depth-estimation",
    "tiny-clip": "zero-shot-image-classification",
    "tiny-audio-cls": "audio-classification",
    "tiny-vits": "text-to-speech",
}


def build(names: list[str], hf_home: Path | str, org: str = DEFAULT_ORG) -> dict[str, str]:
    """Build the named tiny models (all when `names` is empty) into the HF cache at `hf_home`: name → repo id."""
    repos: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tiny_media_") as root:
        for name in names or list(BUILDERS):
            repo_id = f"{org}/{name}"
            install_into_cache(BUILDERS[name](Path(root) / name), repo_id, hf_home)
            repos[name] = repo_id
    return repos


if __name__ == "__main__":  # python -m tests.support.coverage_models_media HF_HOME [NAME ...]: repo ids as JSON
    import sys

    print(json.dumps(build(sys.argv[2:], sys.argv[1])))
