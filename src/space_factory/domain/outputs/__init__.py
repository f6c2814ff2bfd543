"""The gate's judgement of an API output (DESIGN §6): is this real inference for the task?

`judge_output` takes what `gradio_client.predict` returned (and, for files, the files' bytes, read by
the caller) and answers with an `OutputVerdict` whose `detail` is one sentence of
evidence. It never raises: odd outputs are verdicts, not errors. The rules are deliberately strict
about what counts as evidence (an echo of the prompt, a placeholder string, scores outside [0, 1],
the same output for two different inputs) because the gate must never report more than it saw.

Pure: no I/O. Everything judged here is untrusted output of a generated app. One module per concept:
`coercion` (reading untrusted values), `placeholders` (the stub vocabulary), `judges` (one per output
kind), `media` (decoding images and WAV into facts), `media_judges` (image and audio files), `regions`
(detection boxes and segmentation masks), `probe` (the constant-output comparison) and `judgement` (the
table of rules and `judge_output`).
"""

from __future__ import annotations

from space_factory.domain.outputs.judgement import CONSTANT_DETAIL, OUTPUT_RULES, OutputRule, judge_output
from space_factory.domain.outputs.judges import DETAIL_LIMIT

__all__ = ["CONSTANT_DETAIL", "DETAIL_LIMIT", "OUTPUT_RULES", "OutputRule", "judge_output"]
