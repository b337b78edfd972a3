#!/usr/bin/env bash
# spikesim account streams tokens: its peak RSS must not grow with the number of tokens (16x more tokens,
# same chunk), and the report must be the same whatever the thread count.
# Usage: account_memory_test.sh SPIKESIM_BINARY
set -euo pipefail
spikesim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 4,
 "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 4000}
JSON
peak_mib() {  # peak RSS the command reports (getrusage), in MiB
  sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$1"
}
"$spikesim" account --config "$tmp/config.json" --tokens 256 --chunk 128 --coded q,k,v,o,gate,up,down \
  --out "$tmp/small" >"$tmp/small.txt"
"$spikesim" account --config "$tmp/config.json" --tokens 4096 --chunk 128 --coded q,k,v,o,gate,up,down \
  --out "$tmp/large" >"$tmp/large.txt"
small=$(peak_mib "$tmp/small.txt")
large=$(peak_mib "$tmp/large.txt")
echo "peak RSS: 256 tokens ${small} MiB, 4096 tokens ${large} MiB"
/usr/bin/python3 -c "import sys; s, l = float('$small'), float('$large'); sys.exit(0 if l <= 1.1 * s + 4 else 1)" ||
  { echo "peak RSS grew with tokens: ${small} -> ${large} MiB" >&2; exit 1; }

"$spikesim" --threads 1 account --config "$tmp/config.json" --tokens 300 --chunk 64 --out "$tmp/t1" -q
"$spikesim" --threads 2 account --config "$tmp/config.json" --tokens 300 --chunk 64 --out "$tmp/t2" -q
cmp "$tmp/t1/report.json" "$tmp/t2/report.json"
cmp "$tmp/t1/layers.csv" "$tmp/t2/layers.csv"
