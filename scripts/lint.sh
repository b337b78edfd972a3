#!/usr/bin/env bash
# clang-format check over every C++ file, and the curated clang-tidy over the library sources.
# Usage: scripts/lint.sh BUILD_DIR   (BUILD_DIR holds compile_commands.json)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp')
clang-format --dry-run --Werror "${files[@]}"
# Components include only what lies below them, and every CMake target links exactly what it includes.
/usr/bin/python3 scripts/check_layers.py
mapfile -t sources < <(git ls-files --cached --others --exclude-standard \
  'base/*.cpp' 'neurons/*.cpp' 'coding/*.cpp' 'sim/*.cpp' 'models/*.cpp' 'energy/*.cpp' 'python/*.cpp')
if ! out=$(printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet --extra-arg=-Wno-unknown-warning-option 2>&1); then
  echo "$out" | grep -v "warnings generated"
  echo "clang-tidy found problems" >&2
  exit 1
fi
