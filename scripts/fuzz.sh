#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz: one per loader, clang, ASan + UBSan) in build/fuzz and runs each
# for SECONDS on a corpus seeded from the project's own files (tests/fuzz/make_seeds.cpp). Fails on any finding:
# a crash, a sanitizer report, a leak, an exception other than spikesim::UserError, one allocation above
# 2 GiB, more than 2 GiB resident, or one input running over 30 s. Findings are kept in
# build/fuzz/findings/<target>/ (turn each into a regression test); the corpora grow in build/fuzz/corpus/.
# Usage: scripts/fuzz.sh SECONDS [TARGET...]     FUZZ_JOBS=N: targets run at once (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(llama2c tokenizer safetensors onnx keras trace idx profile compare_cell)
fi
jobs=${FUZZ_JOBS:-2}
build=build/fuzz

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSPIKESIM_FUZZ=ON \
  -DSPIKESIM_WERROR=OFF "${launcher[@]}" >/dev/null  # warnings are gated by the GCC build (clang's set differs)
cmake --build "$build" --target fuzz_seeds "${targets[@]/%/_fuzz}"
rm -rf "$build/seeds"
ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_seeds" "$build/seeds"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_one() {
  local t=$1
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  local log="$build/findings/$t.log"
  local status=0
  "$build/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -artifact_prefix="$build/findings/$t/" -print_final_stats=1 "$build/corpus/$t" "$build/seeds/$t" \
    >"$log" 2>&1 || status=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  local cov
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  if ((status != 0)) || compgen -G "$build/findings/$t/*" >/dev/null; then
    echo "fuzz: $t: FINDING after ${seconds} s (status $status, $execs runs); see $log and $build/findings/$t/"
    grep -m 5 -E 'ERROR|runtime error|SUMMARY|terminate|uncaught' "$log" | sed 's/^/  /' || true
    return 1
  fi
  echo "fuzz: $t: no findings in ${seconds} s ($execs runs, coverage $cov)"
}

failed=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
if ((failed)); then
  echo "fuzz: findings (see above)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets x ${seconds} s, no findings"
