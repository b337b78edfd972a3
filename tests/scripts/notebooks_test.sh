#!/usr/bin/env bash
# Executes every notebook in notebooks/ (Debian's nbconvert/nbclient, kernel python3 = /usr/bin/python3) on a
# fresh run and compare of the project's default trace; fails when any cell fails. Executed notebooks are kept
# in OUTPUT_DIR.
# Usage: notebooks_test.sh SPIKESIM_BINARY OUTPUT_DIR
set -euo pipefail
spikesim=$1
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
trace="$root/data/traces/synthetic_llm_block.h5"
if ! /usr/bin/python3 -c "import nbconvert, nbclient, ipykernel" 2>/dev/null; then
  echo "SKIPPED: notebooks (python3-nbconvert / python3-nbclient / python3-ipykernel not installed)"
  exit 77
fi
rm -rf "$out"
mkdir -p "$out"
"$spikesim" run --model "$trace" --coding bitwise --k 3 --out "$out/run" -q
"$spikesim" compare --model "$trace" --coding ternary,bitwise --k 2,3 --out "$out/compare" -q
count=0
for nb in "$root"/notebooks/*.ipynb; do
  echo "executing $(basename "$nb")"
  SPIKESIM_ROOT="$root" SPIKESIM_REPORT_DIR="$out/run" SPIKESIM_COMPARE_DIR="$out/compare" \
    PYDEVD_DISABLE_FILE_VALIDATION=1 /usr/bin/python3 -m nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 \
    --output-dir "$out/notebooks" "$nb"
  count=$((count + 1))
done
test "$count" -ge 3
