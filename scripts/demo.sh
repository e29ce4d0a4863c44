#!/usr/bin/env bash
# The main job on a built-in default: train a 100-tree random forest, save it with milo_fast (text and base64)
# and pickle, load it back, check predictions are bit-identical, print the figures.
# Sets up its own virtual environment (.venv) on first use. Usage: bash scripts/demo.sh [milo-fast demo args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/milo-fast || pyproject.toml -nt .venv/.installed || -n "$(find src python CMakeLists.txt -newer .venv/.installed 2>/dev/null | head -1)" ]]; then
  echo "== setting up .venv (pip install .)"
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q .
  touch .venv/.installed
fi
exec .venv/bin/milo-fast demo "$@"
