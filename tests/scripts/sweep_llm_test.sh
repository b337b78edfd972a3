#!/usr/bin/env bash
# scripts/sweep_llm.sh end to end on the project's default LLM: two codings at one k -> sweep.csv / sweep.md.
# Usage: sweep_llm_test.sh SPIKESIM_BINARY
set -euo pipefail
spikesim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/sweep_llm.sh" --spikesim "$spikesim" --ks "3" --codings "ternary bitwise" --out "$tmp/s" >/dev/null
/usr/bin/python3 - "$tmp/s/sweep.csv" "$tmp/s/sweep.md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [(r["coding"], r["k"]) for r in rows] == [("ternary", "3"), ("bitwise", "3")], rows
t, b = rows
# The integer counts do not depend on the coding; the spikes that carry them do.
assert t["zero_fraction"] == b["zero_fraction"]
assert float(b["spikes_per_element"]) < float(t["spikes_per_element"])
assert abs(float(t["spikes_per_element"]) - float(t["sops_per_dense_mac"])) < 0.01
for r in rows:
    assert 0 < float(r["zero_fraction"]) < 1 and 0 <= float(r["top1_agreement"]) <= 1
    assert float(r["spikingbrain_7b_zero_fraction"]) == 0.692
md = open(sys.argv[2]).read()
assert "| ternary | 3 |" in md and "SpikingBrain-7B" in md
PY
# A failing cell leaves no table behind.
if "$root/scripts/sweep_llm.sh" --spikesim "$spikesim" --ks "3" --codings "nonsense" --out "$tmp/bad" 2>/dev/null; then
  echo "sweep accepted an unknown coding" >&2
  exit 1
fi
test ! -e "$tmp/bad/sweep.csv"
