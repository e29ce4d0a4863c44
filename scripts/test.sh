#!/usr/bin/env bash
# Every test milo_fast has that fits in CI, on a fresh virtual environment:
# the C++ unit tests (warnings as errors), the Python tests, a short fuzz run.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${MILO_TEST_VENV:-.venv-test}

echo "== fresh virtual environment in $VENV"
"$PY" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
echo "== pip install .[test] (builds the C++ extension)"
"$VENV/bin/python" -m pip install -q ".[test]"

echo "== C++ unit tests"
bash scripts/cpp_tests.sh
echo "== C++ unit tests, built as for targets without SSE2 or unsigned __int128"
bash scripts/cpp_tests.sh --portable
echo "== C++ unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
bash scripts/cpp_tests.sh --sanitize

echo "== short fuzz runs (atheris; logs in $VENV/<target>.log)"
for spec in fuzz_decode:20000:corpus fuzz_load:3000:corpus_load
do
  IFS=: read -r target runs corpus <<< "$spec"
  if ! "$VENV/bin/python" tests/fuzz/$target.py -atheris_runs=$runs tests/fuzz/$corpus > "$VENV/$target.log" 2>&1; then
    tail -40 "$VENV/$target.log"; echo "fuzz run $target FAILED"; exit 1
  fi
  grep -E "^Done [0-9]+ " "$VENV/$target.log" | sed "s/^/  $target: /"
done

echo "== Python tests"
"$VENV/bin/python" -m pytest tests -q -p no:cacheprovider "$@"
