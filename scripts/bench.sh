#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md, each side against its reference in the same run, and prints the
# machine and its load next to the figures. One command for the whole set:
#
#   scripts/bench.sh            # all benchmarks (about 2-4 minutes on 2 quiet cores)
#   scripts/bench.sh linear     # one or more of: encode linear brian2 account llm micro
#
# Output also goes to out/bench/bench-<date>.txt. Installs missing Debian packages (scripts/setup.sh, plus
# python3-brian and cython3 for the Brian2 comparison) and builds the release tree first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh python3-brian cython3 >/dev/null
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release >/dev/null

selected=("$@")
if ((${#selected[@]} == 0)); then selected=(encode linear brian2 account llm); fi
mkdir -p out/bench
log="out/bench/bench-$(date +%Y%m%d-%H%M%S).txt"
bin=build/release

machine() {
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores," \
    "$(free -g | awk '/Mem:/ {print $2}') GiB; $(uptime | sed 's/.*load/load/')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
}

# timed LABEL COMMAND...: runs COMMAND and prints its wall time and peak RSS (GNU time), for whole-run figures.
timed() {
  local label=$1
  shift
  /usr/bin/time -f "  $label: wall %e s, peak RSS %M KiB" "$@"
}

run_one() {
  case "$1" in
    encode)  # 1. encoding throughput vs numpy and vs a copy of the same array
      /usr/bin/python3 bench/encode_vs_numpy.py --rounds 5 ;;
    linear)  # 2. one Qwen2.5-7B linear layer, 256 tokens: event-driven vs Eigen GEMM
      "$bin/bench/spikesim_bench_linear" --rounds 7 || true ;;
    brian2)  # 3. the same raster into the same synapses: Brian2 vs spikesim (1 thread each, then all cores)
      /usr/bin/python3 bench/brian2_vs_spikesim.py --coding bitwise --threads 1 2>/dev/null || true
      /usr/bin/python3 bench/brian2_vs_spikesim.py --coding ternary --threads 1 2>/dev/null || true
      /usr/bin/python3 bench/brian2_vs_spikesim.py --coding bitwise --threads "$(nproc)" 2>/dev/null || true ;;
    account)  # 7B-scale accounting: tokens/s and peak RSS for 4096 tokens
      for coding in bitwise ternary; do
        timed "account $coding (/usr/bin/time)" "$bin/sim/spikesim" account \
          --config data/configs/qwen2.5-7b.json --tokens 4096 --coding "$coding" --out "out/bench/account-$coding"
      done ;;
    llm)  # 4. stories260K: spiking vs dense tokens/s (prefill and decode, same process, interleaved), then
      # the peak RSS of a whole `spikesim run` of the same model and text (skipped without ../shared/data).
      if [[ ! -f ../shared/data/llama2c/stories260K.bin ]]; then
        echo "stories260K: skipped -- ../shared/data/llama2c/stories260K.bin is absent (a test input, not shipped)"
        return 0
      fi
      "$bin/bench/spikesim_bench_llm" --tokens 256 --rounds 21 || true
      for coding in ternary bitwise; do
        timed "spikesim run stories260K $coding k=3, 256 tokens (/usr/bin/time)" "$bin/sim/spikesim" run --quiet \
          --model ../shared/data/llama2c/stories260K.bin --tokenizer ../shared/data/llama2c/tok512.bin \
          --text-file data/text/story.txt --max-tokens 256 --coding "$coding" --k 3 --out "out/bench/llm-$coding" \
          >/dev/null
      done ;;
    micro)  # Google Benchmark kernels, for tuning
      "$bin/bench/spikesim_bench_micro" ;;
    *) echo "unknown benchmark '$1' (encode linear brian2 account llm micro)" >&2; return 2 ;;
  esac
}

{
  machine
  for b in "${selected[@]}"; do
    echo
    echo "######## $b"
    run_one "$b"
    echo "(load after $b: $(cut -d' ' -f1-3 /proc/loadavg))"
  done
} 2>&1 | tee "$log"
echo "-> $log"
