#!/usr/bin/env bash
# Create .venv (if needed) and install Space Factory with everything the local backend and the tests use.
# Idempotent: a second run only checks that the install is current. pip's output goes to .venv/install.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.space-factory-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing Space Factory into .venv (log: .venv/install.log)…" >&2
  pip_install() { .venv/bin/python -m pip install --disable-pip-version-check "$@" >>.venv/install.log 2>&1; }
  if ! { pip_install --upgrade pip &&
         # torch==2.13.0 first: pip takes the CPU build on disk here (other versions download GBs).
         pip_install "torch==2.13.0" &&
         pip_install -e ".[test]"; }; then
    tail -n 40 .venv/install.log >&2
    echo "setup failed; the full log is .venv/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
