#!/usr/bin/env bash
# Builds spikesim and runs every test: the release build (warnings are errors), then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the formatting and clang-tidy checks.
# Installs missing Debian packages first (scripts/setup.sh). Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
echo "== release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPIKESIM_WERROR=ON >/dev/null
cmake --build build/release
echo "== release tests"
ctest --test-dir build/release -j "$jobs" --output-on-failure --timeout 900

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPIKESIM_SANITIZE=ON \
  -DSPIKESIM_BUILD_BENCH=OFF -DSPIKESIM_WERROR=ON >/dev/null
cmake --build build/asan
echo "== sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure --timeout 1800 -LE no_sanitizer

echo "== format and lint"
scripts/lint.sh build/release
echo "== all tests passed"
