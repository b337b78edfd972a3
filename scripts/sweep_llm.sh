#!/usr/bin/env bash
# k x coding sweep of an LLM checkpoint, like SpikingBrain's Table 11: one `spikesim run` per cell, then one
# table (sweep.md + sweep.csv) of zero fraction, count histogram, spikes per element, SOPs vs dense MACs of
# the coded sites, and teacher-forced fidelity (top-1 agreement, KL, perplexity) on a fixed text.
#
#   scripts/sweep_llm.sh [--model M] [--tokenizer T] [--text FILE] [--out DIR] [--ks "2 2.5 3 3.5 4"]
#                        [--codings "ternary bitwise bitwise-twos"] [--sites qkv,o,gateup] [--spikesim BIN]
#
# Defaults: the project's own model data/models/kjv-llama on data/text/psalm.txt. For stories260K:
#   scripts/sweep_llm.sh --model ../shared/data/llama2c/stories260K.bin \
#     --tokenizer ../shared/data/llama2c/tok512.bin --text data/text/story.txt --out out/sweep_stories260K
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/data/models/kjv-llama
tokenizer=
text=$root/data/text/psalm.txt
out=out/sweep_llm
ks="2 2.5 3 3.5 4"
codings="ternary bitwise bitwise-twos"
sites=qkv,o,gateup
spikesim=$root/build/release/sim/spikesim
while (($#)); do
  case $1 in
    --model) model=$2; shift 2 ;;
    --tokenizer) tokenizer=$2; shift 2 ;;
    --text) text=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --ks) ks=$2; shift 2 ;;
    --codings) codings=$2; shift 2 ;;
    --sites) sites=$2; shift 2 ;;
    --spikesim) spikesim=$2; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "sweep_llm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ ! -x $spikesim ]]; then
  echo "sweep_llm.sh: $spikesim not built (cmake -S . -B build/release -G Ninja && ninja -C build/release)" >&2
  exit 1
fi
tok_args=()
if [[ -n $tokenizer ]]; then tok_args=(--tokenizer "$tokenizer"); fi

# Every cell into a scratch directory first: the table lands only when every run succeeded.
cells=$(mktemp -d)
trap 'rm -rf "$cells"' EXIT
for coding in $codings; do
  for k in $ks; do
    "$spikesim" run --model "$model" "${tok_args[@]}" --text-file "$text" --coding "$coding" --k "$k" \
      --sites "$sites" --out "$cells/$coding-k$k" -q
  done
done

mkdir -p "$out"
/usr/bin/python3 - "$cells" "$out" "$model" "$text" "$sites" "$codings" "$ks" <<'PY'
import csv, json, os, sys

cells, out, model, text, sites, codings, ks = sys.argv[1:]
published = {"2": 0.730, "2.5": 0.709, "3": 0.692, "3.5": 0.677, "4": 0.664}  # SpikingBrain-7B, Table 11
rows = []
for coding in codings.split():
    for k in ks.split():
        r = json.load(open(os.path.join(cells, f"{coding}-k{k}", "report.json")))
        coded = [l for l in r["layers"] if l["coded"]]
        elements = sum(l["elements"] for l in coded)
        hist = [sum(l["count_histogram"][i] * l["elements"] for l in coded) / elements for i in range(4)]
        sops = sum(l["sops"] for l in coded)
        macs = sum(l["dense_macs"] for l in coded)
        f = r["fidelity"]
        rows.append({
            "coding": coding, "k": k,
            "zero_fraction": r["totals"]["zero_fraction"],
            "count_0": hist[0], "count_1": hist[1], "count_2": hist[2], "count_3plus": hist[3],
            "spikes_per_element": r["totals"]["spikes_per_element"],
            "T_max": max(l["T"] for l in coded),
            "sops": sops, "dense_macs_coded_sites": macs, "sops_per_dense_mac": sops / macs,
            "all_dense_macs": r["totals"]["dense_macs"], "uncoded_macs": r["totals"]["uncoded_macs"],
            "top1_agreement": f["top1_agreement"], "mean_kl_nats": f["mean_kl_nats"],
            "perplexity_dense": f["perplexity_dense"], "perplexity_spiking": f["perplexity_spiking"],
            "spikingbrain_7b_zero_fraction": published.get(k, ""),
        })
with open(os.path.join(out, "sweep.csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
first = json.load(open(os.path.join(cells, f"{codings.split()[0]}-k{ks.split()[0]}", "report.json")))
md = [f"Sweep of `{os.path.relpath(model)}` on `{os.path.relpath(text)}` ({first['run']['tokens']} tokens, "
      f"{first['fidelity']['positions']} teacher-forced positions), coded sites `{sites}` per layer.",
      "",
      "| coding | k | zero fraction | SpikingBrain-7B | counts 0 / 1 / 2 / ≥3 | spikes per element | T max | SOPs / dense MAC (coded sites) | top-1 agreement | KL (nats) | ppl dense → spiking |",
      "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    md.append(f"| {r['coding']} | {r['k']} | {r['zero_fraction']:.3f} | {r['spikingbrain_7b_zero_fraction']} | "
              f"{100*r['count_0']:.1f} / {100*r['count_1']:.1f} / {100*r['count_2']:.1f} / {100*r['count_3plus']:.1f} % | "
              f"{r['spikes_per_element']:.3f} | {r['T_max']} | {r['sops_per_dense_mac']:.3f} | "
              f"{r['top1_agreement']:.3f} | {r['mean_kl_nats']:.4f} | {r['perplexity_dense']:.2f} → {r['perplexity_spiking']:.2f} |")
open(os.path.join(out, "sweep.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
echo "sweep: $out/sweep.md, $out/sweep.csv"
