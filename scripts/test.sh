#!/usr/bin/env bash
# Builds spikesim and runs every test: the release build (warnings are errors), then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the formatting and clang-tidy checks, then every fuzz
# harness for 30 s (clang + libFuzzer, scripts/fuzz.sh; SPIKESIM_FUZZ_SECONDS overrides, 0 skips).
# Installs missing Debian packages first (scripts/setup.sh). Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
echo "== $(date +%T) release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPIKESIM_WERROR=ON >/dev/null
cmake --build build/release
echo "== $(date +%T) release tests"
ctest --test-dir build/release -j "$jobs" --output-on-failure --timeout 900

echo "== $(date +%T) sanitizer build (ASan + UBSan)"
# -O1 -g1 (line tables for the reports, assertions on) compiles in half the time of -O2 -g.
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DSPIKESIM_SANITIZE=ON -DSPIKESIM_BUILD_BENCH=OFF -DSPIKESIM_WERROR=ON >/dev/null
cmake --build build/asan
echo "== $(date +%T) sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure --timeout 1800 -LE no_sanitizer

echo "== $(date +%T) format and lint"
scripts/lint.sh build/release
fuzz_seconds=${SPIKESIM_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
  echo "== $(date +%T) fuzzing (${fuzz_seconds} s per target)"
  scripts/fuzz.sh "$fuzz_seconds"
fi
echo "== $(date +%T) all tests passed"
