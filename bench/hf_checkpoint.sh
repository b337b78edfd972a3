#!/usr/bin/env bash
# Memory and speed of `spikesim run` on real-sized Hugging Face checkpoints kept in BF16 (issue "Real Hugging
# Face checkpoints"): makes a random-weight Qwen2.5-1.5B- and/or 7B-shaped checkpoint (bench/make_hf_checkpoint.py,
# not committed), then runs spikesim_bench_llm on 64 tokens: the dense run's MAC rate against Eigen's F32 GEMM
# in the same process, spiking vs dense prefill time, and the peak RSS over the weight file.
#   bench/hf_checkpoint.sh BUILD_DIR [qwen2.5-1.5b] [qwen2.5-7b]      (scratch under $TMPDIR, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
shift || true
shapes=("$@")
((${#shapes[@]})) || shapes=(qwen2.5-1.5b)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/spikesim-hfbench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
for shape in "${shapes[@]}"; do
  /usr/bin/python3 bench/make_hf_checkpoint.py "$shape" "$scratch/$shape"
  "$build/bench/spikesim_bench_llm" --model "$scratch/$shape" --random-tokens 64 --modes prefill \
    --codings ternary,bitwise --rounds 3 --gemm 1
  rm -rf "${scratch:?}/$shape"
done
