#!/usr/bin/env bash
# Build and run the C++ unit tests of the codec core with -Wall -Wextra -Werror.
# Usage: bash scripts/cpp_tests.sh            # plain build
#        bash scripts/cpp_tests.sh --sanitize # AddressSanitizer + UndefinedBehaviorSanitizer
#        bash scripts/cpp_tests.sh --tsan     # ThreadSanitizer (the threaded writer and reader)
#        bash scripts/cpp_tests.sh --portable # as other targets build it: no SSE2, no unsigned __int128
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-cpp-tests
SAN=OFF
TSAN=OFF
PORTABLE=OFF
if [[ "${1:-}" == "--sanitize" ]]; then BUILD=build-cpp-asan; SAN=ON; fi
if [[ "${1:-}" == "--tsan" ]]; then BUILD=build-cpp-tsan; TSAN=ON; fi
if [[ "${1:-}" == "--portable" ]]; then BUILD=build-cpp-portable; PORTABLE=ON; fi
cmake -S . -B "$BUILD" -DMILO_BUILD_TESTS=ON -DMILO_SANITIZE=$SAN -DMILO_SANITIZE_THREAD=$TSAN -DMILO_PORTABLE=$PORTABLE -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j 2
ctest --test-dir "$BUILD" --output-on-failure
