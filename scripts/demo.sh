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

# The project's own CNN (data/models/fashion_cnn.onnx, scripts/train_cnn.py) on Fashion-MNIST from Debian's
# dataset-fashion-mnist: dense vs spiking accuracy, per-layer counters and energy.
fashion=/usr/share/datasets/fashion-mnist
build/release/sim/spikesim eval --model data/models/fashion_cnn.onnx \
  --images "$fashion/t10k-images-idx3-ubyte.gz" --labels "$fashion/t10k-labels-idx1-ubyte.gz" \
  --scale 1/255 --mean 0.286 --std 0.353 --coding ternary --k 3 --limit 2000 --batch 50 --out "$out/fashion_cnn"
/usr/bin/python3 scripts/plot_report.py "$out/fashion_cnn"
echo "CNN report: $out/fashion_cnn/report.json (accuracy object: dense vs spiking top-1)"
