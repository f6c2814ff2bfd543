#!/usr/bin/env bash
# Quick start: set up, make a tiny random-weight GPT-2 in a local HF cache (offline), and build it into a
# private local Space end to end on the embedded `local` backend, printing the full-inference gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HOME="${HF_HOME_QUICKSTART:-$PWD/.space-factory/hf-home}"
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False
MODEL="${1:-factory-test/tiny-gpt2}"
if [ ! -d "$HF_HOME/hub/models--factory-test--tiny-gpt2" ]; then
  echo "making the tiny test models in $HF_HOME (random weights, nothing downloaded)…" >&2
  .venv/bin/python -m tests.support.tiny_models "$HF_HOME" >/dev/null
fi
exec .venv/bin/space-factory build "$MODEL" --wait
