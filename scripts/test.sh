#!/usr/bin/env bash
# The test command (README and CI): set up, lint, type-check, then every test, the slow end-to-end ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/mypy
bash scripts/browser.sh  # Chromium for tests/browser (apt-get when missing)
.venv/bin/python -m pytest "$@"
