#!/usr/bin/env bash
# The main job on the project's own default model: builds spikesim, spike-codes the project's own LLM
# (data/models/kjv-llama, a 2.8M-parameter Llama trained by scripts/train_llm.py on Debian's KJV text) the way
# SpikingBrain does (inputs of q/k/v, o, gate/up coded, ternary, k = 3), runs it dense and spiking over the
# project's own text data/text/psalm.txt, counts every operation, estimates energy per term on every default
# hardware profile (core mapping, break-even), measures fidelity, sweeps codings x k, and writes one static
# HTML report with every figure to out/demo/report.html. Then the same for the project's own CNN on
# Fashion-MNIST (out/demo/fashion_cnn/report.html). Installs missing Debian packages first (scripts/setup.sh).
#
#   scripts/demo.sh [OUT_DIR]            the LLM and the CNN (default)
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
  trace=data/traces/synthetic_llm_block.h5
  "$spikesim" run --model "$trace" --coding ternary --k 3 --out "$out"
  "$spikesim" compare --model "$trace" --coding binary,ternary,bitwise --k 2,3,4 --out "$out/compare"
  "$spikesim" report "$out" --compare "$out/compare"
  echo "report: $out/report.html (tables: $out/report.json, $out/layers.csv, $out/compare/compare.md)"
  exit 0
fi

llm=(--model data/models/kjv-llama --text-file data/text/psalm.txt --sites qkv,o,gateup)
"$spikesim" run "${llm[@]}" --coding ternary --k 3 --out "$out"
# The sweep also covers the project's own SpikingBrain-architecture model (data/models/kjv-gla-swa: GLA and
# sliding-window layers, trained by scripts/train_llm.py --arch gla_swa), coded at the release's sites
# (default: q/k/v/gk, o, gate/up and the SWA query after RoPE); the report compares GLA vs SWA layers.
"$spikesim" compare --model data/models/kjv-llama --model data/models/kjv-gla-swa --text-file data/text/psalm.txt \
  --coding ternary,bitwise,bitwise-twos --k 2,3,4 --out "$out/compare"
"$spikesim" report "$out" --compare "$out/compare"
"$spikesim" run --model data/models/kjv-gla-swa --text-file data/text/psalm.txt --coding ternary --k 3 \
  --out "$out/kjv_gla_swa"
"$spikesim" report "$out/kjv_gla_swa"
echo "greedy continuation of \"The LORD is\", dense:"
"$spikesim" generate --model data/models/kjv-llama --prompt "The LORD is" --steps 40 -q
echo "the same from the spike-coded model (ternary, k = 3):"
"$spikesim" generate --model data/models/kjv-llama --prompt "The LORD is" --steps 40 --coding ternary --k 3 -q

# The project's own CNN (data/models/fashion_cnn.onnx, scripts/train_cnn.py) on Fashion-MNIST from Debian's
# dataset-fashion-mnist: dense vs spiking accuracy, per-layer counters and energy.
fashion=/usr/share/datasets/fashion-mnist
"$spikesim" eval --model data/models/fashion_cnn.onnx \
  --images "$fashion/t10k-images-idx3-ubyte.gz" --labels "$fashion/t10k-labels-idx1-ubyte.gz" \
  --scale 1/255 --mean 0.286 --std 0.353 --coding bitwise --k 3 --limit 2000 --batch 50 --out "$out/fashion_cnn"
"$spikesim" report "$out/fashion_cnn"
echo "LLM report: $out/report.html (tables: $out/report.json, $out/layers.csv, $out/compare/compare.md)"
echo "SpikingBrain-architecture model: $out/kjv_gla_swa/report.html (GLA vs SWA layers, state vs KV cache)"
echo "CNN report: $out/fashion_cnn/report.html (accuracy: dense vs spiking top-1)"
