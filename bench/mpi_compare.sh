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
t0=$(now)
"${mpi[@]}" true
launch=$(echo "$(now) - $t0" | bc -l)
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
/usr/bin/python3 - "${times[A]}" "${times[B]}" "${times[C]}" "${merges[*]}" "$ranks" "$launch" <<'PY'
import statistics, sys
a, b, c, m = ([float(x) for x in s.split()] for s in sys.argv[1:5])
n = int(sys.argv[5])
launch = float(sys.argv[6])
ma, mb, mc, mm = (statistics.median(x) for x in (a, b, c, m))
print(f"median wall: 1 process x all cores {ma:.2f} s, 1 process x 1 thread {mb:.2f} s, {n} ranks x 1 thread {mc:.2f} s")
print(f"speedup {n} ranks vs 1 process x 1 thread: {mb / mc:.2f}; vs 1 process x all cores: {ma / mc:.2f}")
print(f"merge on rank 0 (median): {mm * 1000:.1f} ms = {mm / mb:.4f} of the 1-rank wall time")
print(f"mpirun -np {n} start-up (of `true`): {launch:.2f} s = {launch / mb:.4f} of the 1-rank wall time")
# The serial part, measured by its pieces: launcher start-up + rank 0's merge; the rest (the cells) divides.
f = (launch + mm) / mb
print(f"serial fraction (start-up + merge) / T(1) = {f:.4f}; model T(N) = {launch + mm:.2f} s + {mb - launch - mm:.2f} s / N")
for nodes in (2, 4, 8, 12):
    t = launch + mm + (mb - launch - mm) / nodes
    print(f"  model: {nodes} ranks -> {t:.2f} s, speedup {mb / t:.2f} (Amdahl limit {1 / f:.0f}; 12 cells cap it at 12)")
# The same model through the two wall times (meaningful only when every rank had a core of its own).
tp = (mb - mc) * n / (n - 1)
if tp > 0:
    print(f"fit through the wall times: T(N) = {mb - tp:.2f} s + {tp:.2f} s / N, serial fraction {(mb - tp) / mb:.3f}")
else:
    print("fit through the wall times: none (the ranks were not faster: they did not get a core each; see the load)")
PY
