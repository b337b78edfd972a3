#!/usr/bin/env bash
# SpikingBrain-7B checkpoints end to end through the CLI: run (dense logits = the reference goldens, the SWA
# query site and the GLA state ops in layers.csv, GLA state vs KV-cache bytes, zero fractions per layer type),
# generate (the reference's greedy tokens, generation.json), compare over two codings, report (HTML), and
# account on the released SpikingBrain-7B config (fitted activation generator) and the reconstructed 76B one.
# Usage: spikingbrain_cli_test.sh SPIKESIM_BINARY
set -euo pipefail
spikesim=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
"$py" -c "import numpy" 2>/dev/null || { echo "SKIPPED: numpy not available"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$here/scripts/make_spikingbrain_checkpoints.py" "$tmp/ckpt" >/dev/null
golden=$here/tests/golden/spikingbrain
for name in sb_bf16_w16 sb_f16_sharded; do
  "$py" -c "import json; print(','.join(map(str, json.load(open('$golden/$name.json'))['tokens'])))" >"$tmp/$name.tokens"
  "$spikesim" run --model "$tmp/ckpt/$name" --tokens "$tmp/$name.tokens" --coding bitwise --out "$tmp/run_$name" \
    --dump-logits "$tmp/$name.logits.json" -q
  "$spikesim" generate --model "$tmp/ckpt/$name" --tokens "$tmp/$name.tokens" --steps 8 --out "$tmp/gen_$name" -q \
    >/dev/null
  "$py" - "$golden/$name.json" "$tmp/$name.logits.json" "$tmp/run_$name" "$tmp/gen_$name/generation.json" <<'PY'
import csv, json, sys
golden, logits, run, gen = sys.argv[1:]
g = json.load(open(golden))
d = json.load(open(logits))
worst = max(abs(a - b) for ra, rb in zip(d["dense"], g["prefill_logits"]) for a, b in zip(ra, rb))
assert len(d["dense"]) == len(g["tokens"]) == len(d["spiking"]), "logit rows"
assert worst < 1e-4, f"dense logits differ from the reference by {worst}"
assert d["spiking"] != d["dense"], "spiking logits equal the dense ones"
generated = json.load(open(gen))["generated_ids"]
assert generated == g["generated_tokens"], f"generated {generated}, reference {g['generated_tokens']}"
rows = {r["name"]: r for r in csv.DictReader(open(f"{run}/layers.csv"))}
types = g["layer_types"]
for l, t in enumerate(types):
    if t == "swa":
        q = rows[f"layers.{l}.attn_query"]
        assert q["kind"] == "attention" and int(q["spikes"]) > 0 and int(q["sops"]) > int(q["spikes"]), q
    else:
        assert rows[f"layers.{l}.gla"]["kind"] == "gla", rows[f"layers.{l}.gla"]
        assert int(rows[f"layers.{l}.gla"]["dense_macs"]) > 0
        assert float(rows[f"layers.{l}.gate_in"]["spikes"] or 0) == 0  # dense by default, as the release
r = json.load(open(f"{run}/report.json"))
mem = r["run"]["state_memory"]
assert mem["gla_state_bytes"] > 0 and mem["kv_cache_bytes"] > 0, mem
assert set(r["layer_types"]) == set(types), r["layer_types"]
for t, s in r["layer_types"].items():
    assert 0 < s["zero_fraction"] < 1, (t, s)
print(f"{golden.split('/')[-1]}: dense logits within {worst:.2e} of the reference, greedy tokens equal; "
      f"zero fraction gla {r['layer_types']['gla']['zero_fraction']:.3f}, swa {r['layer_types']['swa']['zero_fraction']:.3f}")
PY
done
"$spikesim" report "$tmp/run_sb_bf16_w16" >/dev/null
test -s "$tmp/run_sb_bf16_w16/report.html"
"$spikesim" compare --model "$tmp/ckpt/sb_bf16_w16" --tokens "$tmp/sb_bf16_w16.tokens" --codings ternary,bitwise \
  --ks 2,3 --out "$tmp/compare" -q
test "$(tail -n +2 "$tmp/compare/compare.csv" | cut -d, -f1-3 | sort -u | wc -l)" -ge 4
"$spikesim" account --config "$here/data/configs/spikingbrain-7b.json" --tokens 256 --chunk 128 --out "$tmp/acc7b" -q
"$py" - "$tmp/acc7b/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["run"]["activations"]["generator"].endswith("spikingbrain_activation_generator.json"), r["run"]["activations"]
names = [l["name"] for l in r["layers"]]
assert "layers.1.attn_query" in names and "layers.0.gla" in names
z = r["totals"]["zero_fraction"]
assert 0.6 < z < 0.75, z
print(f"account spikingbrain-7b.json: zero fraction {z:.4f}")
PY
"$spikesim" account --config "$here/data/configs/spikingbrain-76b.json" --tokens 64 --chunk 64 --out "$tmp/acc76b" -q
"$py" - "$tmp/acc76b/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
llm = r["run"]["llm"]
assert abs(llm["parameters"] / 1e9 - 76.9) < 0.05 and abs(llm["active_parameters"] / 1e9 - 12.7) < 0.05, llm
rows = {l["name"]: l for l in r["layers"]}
assert rows["layers.3.mlp_in"]["kind"] == "moe" and rows["layers.3.mlp_in"]["coded"], rows["layers.3.mlp_in"]
assert rows["layers.0.la_out"]["coded"] and rows["layers.0.linear_attn.gla"]["kind"] == "gla"
print(f"account spikingbrain-76b.json: {llm['parameters'] / 1e9:.1f}B parameters, {llm['active_parameters'] / 1e9:.1f}B "
      f"active, zero fraction {r['totals']['zero_fraction']:.4f}")
PY
echo "spikingbrain CLI: ok"
