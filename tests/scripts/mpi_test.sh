#!/usr/bin/env bash
# spikesim on two MPI ranks (base/dist.hpp) equals one process byte for byte:
#   - `mpirun -np 2 spikesim compare` on the project's default LLM (kjv-llama) and on its ONNX CNN
#     (fashion_cnn.onnx on Debian's Fashion-MNIST): every file of --out equals a one-process sweep, and both
#     ranks ran cells;
#   - `mpirun -np 2 spikesim account`: report.json and layers.csv equal one process (5 chunks: uneven rounds);
#   - a 2-rank sweep killed partway (one rank SIGKILLed) keeps its finished cells and resumes to the same files;
#   - a cell that fails on one rank stops both ranks with status 1, the error naming the rank and the cell;
#   - a command that is not distributed refuses to run on 2 ranks.
# Usage: mpi_test.sh SPIKESIM_BINARY MPI_FOUND   (exit 77, skipped, without mpirun or an MPI build)
set -euo pipefail
spikesim=$1
mpi_found=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [[ $mpi_found != TRUE && $mpi_found != 1 && $mpi_found != ON ]]; then
  echo "SKIPPED: spikesim was built without MPI (install libopenmpi-dev and reconfigure)"
  exit 77
fi
if ! command -v mpirun >/dev/null; then
  echo "SKIPPED: mpirun not found (Debian openmpi-bin)"
  exit 77
fi
tmp=$(mktemp -d)
mpirun_pid=
cleanup() {
  if [[ -n $mpirun_pid ]]; then kill -9 "$mpirun_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mpi=(mpirun -np 2 --oversubscribe --bind-to none)
if [[ $(id -u) -eq 0 ]]; then mpi+=(--allow-run-as-root); fi
export OMP_NUM_THREADS=1  # two ranks share the cores
fashion=/usr/share/datasets/fashion-mnist

# Every file of two --out directories is the same, byte for byte (the lock file aside).
same_tree() {
  local a=$1 b=$2
  diff -r -x .spikesim.lock "$a" "$b" >/dev/null || { echo "FAIL: $a and $b differ:" >&2; diff -rq "$a" "$b" >&2; exit 1; }
  test -z "$(find "$b" -name '*.partial')" || { echo "FAIL: .partial files left in $b" >&2; exit 1; }
}

compare_both() {  # NAME ARGS...: one process, then 2 ranks; identical trees, both ranks took cells
  local name=$1
  shift
  "$spikesim" compare "$@" --out "$tmp/$name.1" -q
  timeout 300 "${mpi[@]}" "$spikesim" compare "$@" --out "$tmp/$name.2" >"$tmp/$name.log" 2>"$tmp/$name.err"
  cat "$tmp/$name.log"
  local cells
  cells=$(ls "$tmp/$name.1/cells" | wc -l)
  # Rank 0's progress line counts the cells of both ranks.
  grep -q "spikesim compare \[$cells/$cells\] 100%" "$tmp/$name.err" ||
    { echo "FAIL: $name: rank 0's progress does not reach $cells/$cells:" >&2; cat "$tmp/$name.err" >&2; exit 1; }
  grep -q "on 2 ranks (cells per rank: [1-9][0-9]* [1-9][0-9]*;" "$tmp/$name.log" ||
    { echo "FAIL: $name: not every rank ran a cell" >&2; exit 1; }
  same_tree "$tmp/$name.1" "$tmp/$name.2"
  echo "$name: 2 ranks == 1 process ($(ls "$tmp/$name.2/cells" | wc -l) cells)"
}

llm=(--model data/models/kjv-llama --text-file data/text/psalm.txt --max-tokens 16 --hardware loihi
  --hardware h100-bf16-memory)
compare_both llm "${llm[@]}" --coding ternary,bitwise --k 2,3
if [[ -f $fashion/t10k-images-idx3-ubyte.gz ]]; then
  compare_both cnn --model data/models/fashion_cnn.onnx --images $fashion/t10k-images-idx3-ubyte.gz \
    --labels $fashion/t10k-labels-idx1-ubyte.gz --scale 1/255 --mean 0.286 --std 0.353 --limit 8 \
    --coding ternary,bitwise --k 3 --hardware loihi
else
  echo "SKIPPED: ONNX part ($fashion absent: Debian dataset-fashion-mnist)"
fi

# account: 300 tokens in chunks of 64 = 5 chunks, so the last round has one chunk for two ranks.
cat >"$tmp/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000}
JSON
"$spikesim" account --config "$tmp/config.json" --tokens 300 --chunk 64 --seq-len 128 --out "$tmp/acc.1" -q
timeout 300 "${mpi[@]}" "$spikesim" account --config "$tmp/config.json" --tokens 300 --chunk 64 --seq-len 128 \
  --out "$tmp/acc.2" -q
same_tree "$tmp/acc.1" "$tmp/acc.2"
echo "account: 2 ranks == 1 process"

# A sweep killed partway: SIGKILL one rank as soon as the first cell is done; the rerun resumes.
sweep=("${llm[@]}" --coding ternary,bitwise --k 2,2.5,3,4)
"$spikesim" compare "${sweep[@]}" --out "$tmp/kill.1" -q
"${mpi[@]}" "$spikesim" compare "${sweep[@]}" --out "$tmp/kill.2" -q 2>"$tmp/kill.err" &
mpirun_pid=$!
for _ in $(seq 1 3000); do
  if compgen -G "$tmp/kill.2/cells/*/cell.json" >/dev/null; then break; fi
  sleep 0.01
done
victim=$(pgrep -P "$mpirun_pid" -x spikesim | head -1 || true)
[[ -n $victim ]] || { echo "FAIL: no rank process of mpirun $mpirun_pid" >&2; exit 1; }
kill -9 "$victim"
if wait "$mpirun_pid"; then
  echo "FAIL: mpirun succeeded although rank process $victim was killed" >&2
  exit 1
fi
mpirun_pid=
done_cells=$(find "$tmp/kill.2/cells" -name cell.json | wc -l)
echo "killed rank $victim with $done_cells of 8 cells done"
((done_cells >= 1 && done_cells < 8)) || { echo "FAIL: expected a partial sweep, found $done_cells cells" >&2; exit 1; }
timeout 300 "${mpi[@]}" "$spikesim" compare "${sweep[@]}" --out "$tmp/kill.2" >"$tmp/resume.log"
cat "$tmp/resume.log"
grep -q "already done" "$tmp/resume.log"
reused=$(sed -n 's/.* run, \([0-9]*\) already done.*/\1/p' "$tmp/resume.log")
((reused >= done_cells)) || { echo "FAIL: the resumed sweep reused $reused cells, $done_cells were done" >&2; exit 1; }
same_tree "$tmp/kill.1" "$tmp/kill.2"
echo "killed sweep resumed: identical to one process"

# A cell that fails on one rank: the stored k=2 cells were run with another granularity.
"$spikesim" compare "${llm[@]}" --coding ternary --k 2 --granularity tensor --out "$tmp/fail" -q
if timeout 300 "${mpi[@]}" "$spikesim" compare "${llm[@]}" --coding ternary --k 2,3,4 --out "$tmp/fail" -q \
  2>"$tmp/fail.err"; then
  echo "FAIL: a sweep with a conflicting stored cell succeeded" >&2
  exit 1
fi
cat "$tmp/fail.err"
# The failing rank names itself and the cell; under load mpirun can kill it before its line is written (it
# stops the job when the first rank exits 1), so the other rank's line naming the failed rank also counts.
if ! grep -Eq "spikesim: error: rank [01]: cell kjv-llama__ternary__k2: .*granularity" "$tmp/fail.err"; then
  grep -Eq "rank [01]: stopped because rank [01] failed" "$tmp/fail.err" ||
    { echo "FAIL: the error does not name the rank and the cell" >&2; exit 1; }
  echo "note: the failing rank's own message was lost (killed by mpirun first); the peer named it"
fi
echo "a failing cell names its rank and cell; every rank stopped"

# Commands that are not distributed refuse to run N times.
if "${mpi[@]}" "$spikesim" run --model data/models/kjv-llama --text-file data/text/psalm.txt --max-tokens 4 \
  --out "$tmp/run" 2>"$tmp/run.err" >/dev/null; then
  echo "FAIL: spikesim run ran on 2 ranks" >&2
  exit 1
fi
grep -q "runs as one process" "$tmp/run.err"
echo "mpi: all checks passed"
