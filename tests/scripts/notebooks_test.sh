#!/usr/bin/env bash
# Executes every notebook in notebooks/ (Debian's nbconvert/nbclient, kernel python3 = /usr/bin/python3) on a
# fresh run and compare of the project's default trace; fails when any cell fails. Executed notebooks are kept
# in OUTPUT_DIR. The Python package of the same build (<build>/python, beside <build>/sim/spikesim) is put on
# PYTHONPATH; torch_probe.ipynb is skipped, with a message, when it or python3-torch is missing.
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
package=$(cd "$(dirname "$spikesim")/.." && pwd)/python
count=0
for nb in "$root"/notebooks/*.ipynb; do
  if [[ $(basename "$nb") == torch_probe.ipynb ]] &&
    ! PYTHONPATH="$package" /usr/bin/python3 -c "import spikesim.torch" 2>/dev/null; then
    echo "SKIPPED: torch_probe.ipynb (the spikesim Python package of this build or python3-torch is missing)"
    continue
  fi
  echo "executing $(basename "$nb")"
  PYTHONPATH="$package${PYTHONPATH:+:$PYTHONPATH}" SPIKESIM_BINARY="$spikesim" \
    SPIKESIM_ROOT="$root" SPIKESIM_REPORT_DIR="$out/run" SPIKESIM_COMPARE_DIR="$out/compare" \
    PYDEVD_DISABLE_FILE_VALIDATION=1 /usr/bin/python3 -m nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 \
    --output-dir "$out/notebooks" "$nb"
  count=$((count + 1))
done
test "$count" -ge 3
