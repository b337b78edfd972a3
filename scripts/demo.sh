#!/usr/bin/env bash
# The main job on the project's own default input: builds spikesim, spike-codes the default network,
# counts every operation, estimates energy and writes a report with plots to out/demo/.
# Installs missing Debian packages first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target spikesim
out=${1:-out/demo}
rm -rf "$out"
build/release/sim/spikesim run --model data/traces/synthetic_llm_block.h5 --coding ternary --k 3 --out "$out"
/usr/bin/python3 scripts/plot_report.py "$out"
echo "report: $out/report.json, $out/layers.csv and the figures above"
