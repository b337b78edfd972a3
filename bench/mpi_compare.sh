#!/usr/bin/env bash
# Wall time of a 12-cell `spikesim compare` sweep (the project's kjv-llama on data/text/kjv_slice.txt, codings
# ternary and bitwise x k 2, 2.5, 3, 3.5, 4, 5) on one process vs RANKS MPI ranks of this machine, the sides
# interleaved (A B C A B C ...), each into a fresh --out; checks that every run wrote the same compare.csv.
#   A: 1 process, OMP_NUM_THREADS=THREADS (all cores: what a user runs without MPI)
#   B: 1 process, 1 thread (the share of one rank below)
#   C: mpirun -np RANKS, 1 thread per rank
# Prints each run, the medians, the merge time rank 0 reports (its serial part: read back the other ranks'
# cells and write compare.*), and the fitted model T(N) = T_serial + T_cells / N from B and C.
# Usage: bench/mpi_compare.sh [SPIKESIM] [RANKS=2] [ROUNDS=3] [MAX_TOKENS=256]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
spikesim=${1:-$root/build/release/sim/spikesim}
ranks=${2:-2}
rounds=${3:-3}
max_tokens=${4:-256}
threads=$(nproc)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi=(mpirun -np "$ranks" --oversubscribe --bind-to none)
if [[ $(id -u) -eq 0 ]]; then mpi+=(--allow-run-as-root); fi
sweep=(compare --model data/models/kjv-llama --text-file data/text/kjv_slice.txt --max-tokens "$max_tokens"
  --coding ternary,bitwise --k 2,2.5,3,3.5,4,5 --hardware loihi --hardware h100-bf16-memory)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sweep: 12 cells, kjv-llama, $max_tokens tokens per cell; $ranks ranks; $rounds rounds"
now() { date +%s.%N; }
declare -A times
merges=()
for round in $(seq 1 "$rounds"); do
  for side in A B C; do
    out=$tmp/$side.$round
    t0=$(now)
    case $side in
      A) OMP_NUM_THREADS=$threads "$spikesim" "${sweep[@]}" --out "$out" -q ;;
      B) OMP_NUM_THREADS=1 "$spikesim" "${sweep[@]}" --out "$out" -q ;;
      C) OMP_NUM_THREADS=1 "${mpi[@]}" "$spikesim" "${sweep[@]}" --out "$out" >"$tmp/log" ;;
    esac
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc -l)
    times[$side]+="$wall "
    if [[ $side == C ]]; then
      merges+=("$(sed -n 's/.*merge \([0-9.e-]*\) s).*/\1/p' "$tmp/log")")
    fi
    [[ -f $tmp/ref.csv ]] || cp "$out/compare.csv" "$tmp/ref.csv"
    cmp "$tmp/ref.csv" "$out/compare.csv"
    printf 'round %d %s %.2f s  (load %s)\n' "$round" "$side" "$wall" "$(cut -d' ' -f1 /proc/loadavg)"
    rm -rf "$out"
  done
done
/usr/bin/python3 - "${times[A]}" "${times[B]}" "${times[C]}" "${merges[*]}" "$ranks" <<'PY'
import statistics, sys
a, b, c, m = ([float(x) for x in s.split()] for s in sys.argv[1:5])
n = int(sys.argv[5])
ma, mb, mc, mm = (statistics.median(x) for x in (a, b, c, m))
print(f"median wall: 1 process x all cores {ma:.2f} s, 1 process x 1 thread {mb:.2f} s, {n} ranks x 1 thread {mc:.2f} s")
print(f"speedup {n} ranks vs 1 process x 1 thread: {mb / mc:.2f}; vs 1 process x all cores: {ma / mc:.2f}")
# T(N) = T_s + T_p / N through the two measured points (1 and n ranks of one thread each).
tp = (mb - mc) * n / (n - 1)
ts = mb - tp
f = ts / mb
print(f"fit T(N) = {ts:.2f} s + {tp:.2f} s / N: serial fraction {f:.3f} (start-up, set-up, merge)")
print(f"merge on rank 0 (median): {mm * 1000:.1f} ms = {mm / mb:.4f} of the 1-rank wall time")
for nodes in (4, 8, 12):
    print(f"  model: {nodes} ranks -> {ts + tp / nodes:.2f} s, speedup {mb / (ts + tp / nodes):.2f} (Amdahl limit {1 / f if f > 0 else float('inf'):.1f})")
PY
