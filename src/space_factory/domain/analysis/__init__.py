"""Model-card analysis (upstream Phase 5): what the card, config.json and the file list say about a model.

Pure: `analyze_card(facts)` reads a `ModelFacts` and returns the `ModelCardAnalysis` written to
`model_card_analysis.json` (DESIGN §4). Every value in `facts` comes from a model repository and is
untrusted: strings are capped and stripped of control characters, wrong types are ignored, and a hostile
or malformed card never raises.

One module per concept: `card_values` (cleaning untrusted values), `weights` (weight files, parameters
and the memory rule), `task_detection` (pipeline_tag and architecture → task), `widget_samples` (sample
inputs) and `card_analysis` (the assembly).
"""

from __future__ import annotations

from space_factory.domain.analysis.card_analysis import MAX_TAGS, analyze_card
from space_factory.domain.analysis.weights import (
    MEMORY_BASE_GB,
    MEMORY_OVERHEAD_FACTOR,
    dtype_bytes,
    select_weight_files,
)
from space_factory.domain.analysis.widget_samples import MAX_SAMPLE_CHARS, MAX_SAMPLES

__all__ = [
    "MAX_SAMPLES",
    "MAX_SAMPLE_CHARS",
    "MAX_TAGS",
    "MEMORY_BASE_GB",
    "MEMORY_OVERHEAD_FACTOR",
    "analyze_card",
    "dtype_bytes",
    "select_weight_files",
]
