#!/usr/bin/env bash
# Golden outputs of every run path (report.json, layers.csv, compare.csv): the trace, stories260K, the default
# LLM kjv-llama, a generation, the own CNN on Fashion-MNIST, a Keras model, the 7B accounting and a resumed
# compare of an ONNX CNN and of the default LLM. Refactors must leave them byte-identical; an intended change
# of the numbers updates them in its own commit (README "Counting rules" says why each one changed).
#
#   scripts/pipeline_goldens.sh SPIKESIM --write   rewrites tests/golden/pipeline/ (commit the result)
#   scripts/pipeline_goldens.sh SPIKESIM           runs every case and compares with the committed files
#
# Paths inside the reports are relative to the repository root (the commands run from it); the absolute
# location of the checkout (hardware profile files) is replaced by <ROOT>. Cases whose inputs are missing
# (../shared/data, Debian's dataset-fashion-mnist) are skipped with a visible message.
set -euo pipefail
spikesim=$(realpath "$1")
mode=${2:-check}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
golden=tests/golden/pipeline
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fashion=/usr/share/datasets/fashion-mnist
shared=../shared/data
status=0
skipped=()

# Runs one case: case NAME FILES... -- spikesim arguments (with OUT standing for the case's output dir).
run_case() {
  local name=$1
  shift
  local files=()
  while [[ $1 != -- ]]; do
    files+=("$1")
    shift
  done
  shift
  local out="$tmp/$name"
  local args=()
  for a in "$@"; do args+=("${a//OUT/$out}"); done
  "$spikesim" "${args[@]}" -q >/dev/null
  compare_files "$name" "$out" "${files[@]}"
}

compare_files() {
  local name=$1 out=$2
  shift 2
  for f in "$@"; do
    sed -i -e "s#$tmp/#<TMP>/#g" -e "s#$root/#<ROOT>/#g" "$out/$f"
    if [[ $mode == --write ]]; then
      mkdir -p "$golden/$name/$(dirname "$f")"
      cp "$out/$f" "$golden/$name/$f"
    elif ! cmp -s "$out/$f" "$golden/$name/$f" &&
      ! /usr/bin/python3 "$root/scripts/golden_diff.py" "$golden/$name/$f" "$out/$f"; then
      # Not byte-identical: integers and strings must still agree exactly, floats within 1e-6 relative
      # (scripts/golden_diff.py).
      echo "pipeline golden differs: $name/$f" >&2
      status=1
    fi
  done
}

# 1. The HDF5 activation trace (the demo's trace path).
run_case trace report.json layers.csv -- run --model data/traces/synthetic_llm_block.h5 --coding ternary --k 3 \
  --out OUT

# 2. stories260K (llama2.c checkpoint, third-party: ../shared/data).
if [[ -f $shared/llama2c/stories260K.bin ]]; then
  run_case stories260K report.json layers.csv -- run --model $shared/llama2c/stories260K.bin \
    --tokenizer $shared/llama2c/tok512.bin --text-file data/text/story.txt --coding bitwise --k 3 --out OUT
else
  skipped+=("stories260K ($shared/llama2c/stories260K.bin absent)")
fi

# 3. The default LLM, teacher-forced, and 4. a spiking generation.
run_case kjv_llama report.json layers.csv -- run --model data/models/kjv-llama --text-file data/text/psalm.txt \
  --coding ternary --k 3 --hardware horowitz45-memory-int8 --hardware loihi --out OUT
run_case generate report.json layers.csv -- generate --model data/models/kjv-llama --prompt "The LORD is" \
  --steps 12 --coding bitwise --k 3 --out OUT

# 5. The own CNN on Fashion-MNIST (Debian dataset-fashion-mnist).
if [[ -f $fashion/t10k-images-idx3-ubyte.gz ]]; then
  run_case fashion_cnn report.json layers.csv -- eval --model data/models/fashion_cnn.onnx \
    --images $fashion/t10k-images-idx3-ubyte.gz --labels $fashion/t10k-labels-idx1-ubyte.gz \
    --scale 1/255 --mean 0.286 --std 0.353 --limit 100 --batch 25 --coding bitwise --k 3 --out OUT
else
  skipped+=("fashion_cnn ($fashion absent)")
fi

# 6. A Keras 2 model written by tests/models/keras_fixture.py, on its own inputs as a 4-D float IDX file.
mkdir -p "$tmp/keras_in"
if /usr/bin/python3 tests/models/keras_fixture.py "$tmp/keras_in" >/dev/null; then
  /usr/bin/python3 - "$tmp/keras_in" <<'PY'
import struct, sys
import h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/expected.h5", "r") as f:
    x = np.asarray(f["/keras2/x"], dtype=">f4")
    y = np.asarray(f["/keras2/y"])
with open(f"{d}/images.idx", "wb") as out:
    out.write(bytes([0, 0, 0x0D, x.ndim]) + struct.pack(">" + "I" * x.ndim, *x.shape) + x.tobytes())
with open(f"{d}/labels.idx", "wb") as out:
    out.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", len(y)) + bytes(int(i) for i in y.argmax(axis=1)))
PY
  run_case keras report.json layers.csv -- eval --model "$tmp/keras_in/keras2_sequential.h5" \
    --images "$tmp/keras_in/images.idx" --labels "$tmp/keras_in/labels.idx" --coding bitwise --k 3 --out OUT
else
  skipped+=("keras (numpy / h5py missing)")
fi

# 7. 7B-scale accounting on the Qwen2.5-7B config, synthetic activations.
run_case account report.json layers.csv -- account --config data/configs/qwen2.5-7b.json --tokens 64 --chunk 32 \
  --coding ternary --k 3 --hardware horowitz45-memory-int8 --hardware loihi --out OUT

# 8. A compare sweep run with one profile, then resumed with another added: the second pass's outputs.
resumed_compare() {
  local name=$1
  shift
  local out="$tmp/$name"
  "$spikesim" compare "$@" --hardware horowitz45-fp16 --out "$out" -q >/dev/null
  "$spikesim" compare "$@" --hardware horowitz45-fp16 --hardware loihi --out "$out" -q >/dev/null
  compare_files "$name" "$out" compare.csv
}
if [[ -f $fashion/t10k-images-idx3-ubyte.gz ]]; then
  resumed_compare compare_cnn --model data/models/fashion_cnn.onnx --images $fashion/t10k-images-idx3-ubyte.gz \
    --labels $fashion/t10k-labels-idx1-ubyte.gz --scale 1/255 --mean 0.286 --std 0.353 --limit 20 \
    --coding ternary,bitwise --k 3
fi
resumed_compare compare_llm --model data/models/kjv-llama --text-file data/text/psalm.txt --max-tokens 64 \
  --coding ternary,bitwise --k 3

for s in "${skipped[@]}"; do echo "SKIPPED: pipeline golden $s"; done
if [[ $mode == --write ]]; then echo "wrote $golden"; fi
exit $status
