#!/usr/bin/env bash
# The Python trace writers end to end with the spikesim binary (plots: html_report_test.sh).
# Usage: trace_scripts_test.sh SPIKESIM_BINARY [numpy|torch]
#   numpy (default): scripts/make_trace.py; torch: scripts/export_torch_trace.py (skipped without python3-torch)
set -euo pipefail
spikesim=$1
part=${2:-numpy}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ $part == numpy ]]; then

/usr/bin/python3 "$root/scripts/make_trace.py" --out "$tmp/t.h5" --tokens 32 --dim 128 --hidden 256 2>/dev/null
"$spikesim" run --trace "$tmp/t.h5" --coding ternary --k 3 --out "$tmp/r" -q
/usr/bin/python3 - "$tmp/r/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = [l["name"] for l in r["layers"]]
assert names == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"], names
assert r["layers"][4]["out_features"] == 256 and r["layers"][4]["in_features"] == 128
for l in r["layers"]:
    assert l["tokens"] == 32
    # outlier-channel activations: most counts are zero at k = 3
    assert 0.4 < l["zero_fraction"] < 0.9, l["zero_fraction"]
    assert l["sops"] == l["spikes"] * l["out_features"]
PY

# A trace whose weight does not match its input must be refused by the writer.
if /usr/bin/python3 -c "
import sys, numpy as np; sys.path.insert(0, '$root/scripts')
from make_trace import write_trace
write_trace('$tmp/bad.h5', [('a', np.zeros((2, 3)), np.zeros((4, 5)), None)])" 2>/dev/null; then
  echo "make_trace accepted mismatched shapes" >&2
  exit 1
fi
test ! -e "$tmp/bad.h5"
exit 0
fi

if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "SKIPPED: PyTorch forward-hook exporter (python3-torch not installed)"
  exit 77
fi
/usr/bin/python3 "$root/scripts/export_torch_trace.py" --out "$tmp/mlp.h5" 2>/dev/null
"$spikesim" run --trace "$tmp/mlp.h5" --coding bitwise --out "$tmp/m" -q
/usr/bin/python3 - "$tmp/m/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert [l["name"] for l in r["layers"]] == ["0", "2"], [l["name"] for l in r["layers"]]
assert r["layers"][0]["tokens"] == 32 and r["layers"][1]["in_features"] == 64
PY
