#!/usr/bin/env bash
# scripts/measure_gpu_energy.py without a GPU: --dry-run (CPU, shapes / 32, a fake energy reader) must write a
# profile that spikesim accepts and prices by tokens per call, and a raw log whose windows give its low/high.
# Skipped (77) without Debian's python3-torch. Usage: measure_gpu_energy_test.sh SPIKESIM_BINARY
set -euo pipefail
spikesim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no torch (Debian python3-torch)"
  exit 77
fi
script="$root/scripts/measure_gpu_energy.py"
cd "$root"
/usr/bin/python3 "$script" --dry-run --tokens 1,4,64 --repeats 3 --repeat-s 0.05 --warmup-s 0.02 --idle-s 0.1 \
  --idle-after-s 0.1 --attention 16 --out "$tmp/p.json" --log "$tmp/p.jsonl" >"$tmp/stdout"
grep -q "profile: $tmp/p.json (3 points)" "$tmp/stdout"

# Fewer than 3 repeats cannot give a spread: refused.
if /usr/bin/python3 "$script" --dry-run --repeats 2 --out "$tmp/x.json" 2>/dev/null; then
  echo "--repeats 2 accepted" >&2
  exit 1
fi

/usr/bin/python3 - "$tmp/p.json" "$tmp/p.jsonl" <<'PY'
import json, statistics, sys
p = json.load(open(sys.argv[1]))
windows = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["record"] == "window" and r["weight_bytes"]:
        windows.setdefault(r["tokens_per_call"], []).append(r["e_mac_pj"])
assert any(json.loads(l)["record"] == "attention_point" for l in open(sys.argv[2])), "no attention record"
points = p["dense"]["measured"]
assert [q["tokens_per_call"] for q in points] == [1, 4, 64]
assert p["dense"]["excludes_idle"] is False
assert "DRY RUN" in p["dense"]["measurement"]["source"]
for q in points:
    w = sorted(windows[q["tokens_per_call"]])
    assert len(w) == q["repeats"] == 3
    e = q["e_mac_pj"]
    for got, want in ((e["low"], w[0]), (e["nominal"], w[1]), (e["high"], w[-1])):
        assert abs(got - want) <= 1e-3 * want, (q["tokens_per_call"], got, want)
PY

# spikesim loads it and states the point it priced at (the trace's layers: 64 tokens in one call).
"$spikesim" run --model data/traces/synthetic_llm_block.h5 --coding ternary --k 3 --hardware "$tmp/p.json" \
  --out "$tmp/r" -q
/usr/bin/python3 - "$tmp/r/report.json" "$tmp/p.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = json.load(open(sys.argv[2]))
name = p["name"]
dense = r["totals"]["energy_pj"][name]["dense"]
(point,) = dense["dense_point"]
assert point["tokens_per_call"] == 64 and point["basis"] == "counters", point
at64 = p["dense"]["measured"][2]["e_mac_pj"]["nominal"]
macs = r["totals"]["dense_macs"]
assert abs(dense["total"]["nominal"] - at64 * macs) <= 1e-6 * at64 * macs, (dense["total"], at64, macs)
assert r["hardware"][name]["dense_measured"]["points"][0]["tokens_per_call"] == 1
PY

# A profile whose point has a key spikesim does not know is refused, naming the key.
/usr/bin/python3 - "$tmp/p.json" "$tmp/bad.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["dense"]["measured"][0]["e_mac"] = 1
json.dump(p, open(sys.argv[2], "w"))
PY
if "$spikesim" run --model data/traces/synthetic_llm_block.h5 --coding ternary --k 3 --hardware "$tmp/bad.json" \
  --out "$tmp/bad" -q 2>"$tmp/err"; then
  echo "a profile with an unknown key was accepted" >&2
  exit 1
fi
grep -q "unknown key 'e_mac'" "$tmp/err"
echo "measure_gpu_energy.py dry run: ok"
