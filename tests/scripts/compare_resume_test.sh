#!/usr/bin/env bash
# `spikesim compare` rerun with an added hardware profile leaves every existing row of compare.csv unchanged,
# for an ONNX CNN (the project's own fashion_cnn.onnx on Debian's Fashion-MNIST) and for the default LLM: the
# resumed cells are re-priced from their stored counters, which must hold every counter.
# Usage: compare_resume_test.sh SPIKESIM_BINARY
set -euo pipefail
spikesim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fashion=/usr/share/datasets/fashion-mnist
check() {
  local name=$1
  shift
  "$spikesim" compare "$@" --hardware horowitz45-fp16 --out "$tmp/$name" -q
  cp "$tmp/$name/compare.csv" "$tmp/$name.first.csv"
  "$spikesim" compare "$@" --hardware horowitz45-fp16 --hardware loihi --hardware horowitz45-memory-int8 \
    --out "$tmp/$name" -q
  /usr/bin/python3 - "$tmp/$name.first.csv" "$tmp/$name/compare.csv" "$name" <<'PY'
import csv, sys
first, second, name = sys.argv[1:4]
a = list(csv.reader(open(first)))
b = list(csv.reader(open(second)))
header_a, header_b = a[0], b[0]
assert header_a == header_b, (name, "columns changed")
rows_b = {tuple(r) for r in b[1:]}
missing = [r for r in a[1:] if tuple(r) not in rows_b]
assert not missing, (name, "rows changed after resuming with another profile", missing[:3])
assert any(r[3] == "loihi" for r in b[1:]), (name, "the added profile is missing")
print(f"{name}: {len(a) - 1} rows unchanged, {len(b) - len(a)} rows added")
PY
}
if [[ -f $fashion/t10k-images-idx3-ubyte.gz ]]; then
  check cnn --model data/models/fashion_cnn.onnx --images $fashion/t10k-images-idx3-ubyte.gz \
    --labels $fashion/t10k-labels-idx1-ubyte.gz --scale 1/255 --mean 0.286 --std 0.353 --limit 10 \
    --coding ternary,bitwise --k 3
else
  echo "SKIPPED: CNN part ($fashion absent: Debian dataset-fashion-mnist)"
fi
check llm --model data/models/kjv-llama --text-file data/text/psalm.txt --max-tokens 48 --coding bitwise --k 2,3
