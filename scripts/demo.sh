#!/usr/bin/env bash
# The main job on the project's own default input: builds spikesim, spike-codes the default network, counts
# every operation, estimates energy per term on every default hardware profile (with core mapping and
# break-even), sweeps codings x k, and writes one static HTML report with every figure to out/demo/.
# Installs missing Debian packages first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target spikesim
spikesim=build/release/sim/spikesim
trace=data/traces/synthetic_llm_block.h5
out=${1:-out/demo}
rm -rf "$out"
"$spikesim" run --model "$trace" --coding ternary --k 3 --out "$out"
"$spikesim" compare --model "$trace" --coding binary,ternary,bitwise --k 2,3,4 --out "$out/compare"
"$spikesim" report "$out" --compare "$out/compare"
echo "report: $out/report.html (figures in $out/figures/; tables: $out/report.json, $out/layers.csv," \
  "$out/compare/compare.md, $out/compare/compare.csv)"
