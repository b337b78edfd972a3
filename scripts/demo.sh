#!/usr/bin/env bash
# The main job on the project's own default model: builds spikesim, spike-codes the project's own LLM
# (data/models/kjv-llama, a 2.8M-parameter Llama trained by scripts/train_llm.py on Debian's KJV text) the way
# SpikingBrain does (inputs of q/k/v, o, gate/up coded, ternary, k = 3), runs it dense and spiking over the
# project's own text data/text/psalm.txt, counts every operation, estimates energy, measures fidelity, and
# writes a report with plots to out/demo/. Installs missing Debian packages first (scripts/setup.sh).
#
#   scripts/demo.sh [OUT_DIR]            the LLM (default)
#   scripts/demo.sh --trace [OUT_DIR]    the HDF5 activation-trace path on data/traces/synthetic_llm_block.h5
set -euo pipefail
cd "$(dirname "$0")/.."
mode=llm
if [[ ${1:-} == --trace ]]; then
  mode=trace
  shift
fi
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target spikesim
spikesim=build/release/sim/spikesim
out=${1:-out/demo}
rm -rf "$out"
if [[ $mode == trace ]]; then
  $spikesim run --model data/traces/synthetic_llm_block.h5 --coding ternary --k 3 --out "$out"
else
  $spikesim run --model data/models/kjv-llama --text-file data/text/psalm.txt --coding ternary --k 3 \
    --sites qkv,o,gateup --out "$out"
  echo "greedy continuation of \"The LORD is\", dense:"
  $spikesim generate --model data/models/kjv-llama --prompt "The LORD is" --steps 40 -q
  echo "the same from the spike-coded model (ternary, k = 3):"
  $spikesim generate --model data/models/kjv-llama --prompt "The LORD is" --steps 40 --coding ternary --k 3 -q
fi
/usr/bin/python3 scripts/plot_report.py "$out"
echo "report: $out/report.json, $out/layers.csv and the figures above"
