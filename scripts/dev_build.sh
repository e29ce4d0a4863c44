#!/usr/bin/env bash
# Development: build milo_fast._core in place (python/milo_fast/_core*.so) with the dev interpreter,
# so PYTHONPATH=python works without reinstalling. Usage: bash scripts/dev_build.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-${PYTHON:-python3}}
PYBIND_DIR=$("$PY" -c "import pybind11; print(pybind11.get_cmake_dir())")
cmake -S . -B build-dev -G Ninja -DMILO_BUILD_PYTHON=ON -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$PYBIND_DIR" -DPython_EXECUTABLE="$(command -v "$PY")" >/dev/null
cmake --build build-dev -j 2
# copy then rename: a process that has the old module loaded keeps its own (unchanged) file
for so in build-dev/_core*.so; do
  cp "$so" "python/milo_fast/.$(basename "$so").tmp"
  mv -f "python/milo_fast/.$(basename "$so").tmp" "python/milo_fast/$(basename "$so")"
done
echo "built: $(ls python/milo_fast/_core*.so)"
