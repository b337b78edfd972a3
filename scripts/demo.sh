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

# The project's own CNN (data/models/fashion_cnn.onnx, scripts/train_cnn.py) on Fashion-MNIST from Debian's
# dataset-fashion-mnist: dense vs spiking accuracy, per-layer counters and energy.
fashion=/usr/share/datasets/fashion-mnist
build/release/sim/spikesim eval --model data/models/fashion_cnn.onnx \
  --images "$fashion/t10k-images-idx3-ubyte.gz" --labels "$fashion/t10k-labels-idx1-ubyte.gz" \
  --scale 1/255 --mean 0.286 --std 0.353 --coding ternary --k 3 --limit 2000 --batch 50 --out "$out/fashion_cnn"
/usr/bin/python3 scripts/plot_report.py "$out/fashion_cnn"
echo "CNN report: $out/fashion_cnn/report.json (accuracy object: dense vs spiking top-1)"
