#!/usr/bin/env bash
# Runs bench/torch_probe_bench.py on a GPU machine: uses a carried build's package (build/release/python) when
# it imports with this machine's python3, else builds the extension here (cmake, pybind11), then renders the
# report with `spikesim report` when a spikesim binary runs here. Output in $OUT (default /tmp/torch_probe).
# Usage: bench/torch_probe_device.sh [TOKENS]
set -uo pipefail
out=${OUT:-/tmp/torch_probe}
mkdir -p "$out"
tokens=${1:-512}
py=$(command -v python3)
echo "== $(date +%T) environment"
grep PRETTY /etc/os-release; "$py" --version; ldd --version | head -1; nproc
"$py" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name(0))"
pkg=""
if PYTHONPATH=build/release/python "$py" -c "import spikesim.torch" 2>"$out/import.log"; then
  pkg=build/release/python
  echo "carried package imports"
else
  echo "carried package does not import: $(tail -1 "$out/import.log")"
  if command -v cmake >/dev/null && "$py" -c "import pybind11" 2>/dev/null; then
    echo "== $(date +%T) building the extension here"
    if cmake -S . -B build/dev -DCMAKE_BUILD_TYPE=Release -DSPIKESIM_BUILD_TESTS=OFF -DSPIKESIM_BUILD_BENCH=OFF \
      -DPython3_EXECUTABLE="$py" >"$out/cmake.log" 2>&1 &&
      cmake --build build/dev -j "$(nproc)" --target spikesim_python spikesim >>"$out/cmake.log" 2>&1; then
      pkg=build/dev/python
    else
      tail -15 "$out/cmake.log"
    fi
  else
    echo "no cmake ($(command -v cmake || echo absent)) or no pybind11 for $py: cannot build the extension here"
  fi
fi
if [[ -z $pkg ]]; then
  echo "RESULT: no spikesim package for this machine's python"
  exit 3
fi
echo "== $(date +%T) benchmark ($tokens tokens)"
PYTHONPATH=$pkg "$py" bench/torch_probe_bench.py --tokens "$tokens" --out "$out/report" 2>&1 | tail -60
for bin in build/dev/sim/spikesim build/release/sim/spikesim; do
  if [[ -x $bin ]] && "$bin" report "$out/report" -q 2>"$out/report_render.log"; then
    echo "rendered $out/report/report.html with $bin"
    break
  fi
done
echo "== $(date +%T) done"
