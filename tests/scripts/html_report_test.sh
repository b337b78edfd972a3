#!/usr/bin/env bash
# `spikesim report` end to end on the project's default trace: run + compare, every figure, one static HTML
# page, opened in headless Chromium (no console errors, every image loaded, no network request). The page, its
# figures and the screenshot stay in OUTPUT_DIR (the build tree) for inspection.
# Usage: html_report_test.sh SPIKESIM_BINARY OUTPUT_DIR
set -euo pipefail
spikesim=$1
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
trace="$root/data/traces/synthetic_llm_block.h5"
rm -rf "$out"
mkdir -p "$out"

"$spikesim" run --model "$trace" --coding bitwise --k 3 --out "$out/run" -q
"$spikesim" compare --model "$trace" --coding ternary,bitwise --k 2,3 --out "$out/compare" -q
"$spikesim" report "$out/run" --compare "$out/compare" -q
test -s "$out/run/report.html"
for f in zero_fraction count_histogram raster energy_terms break_even fidelity_energy break_even_sweep; do
  test -s "$out/run/figures/$f.png" || { echo "missing figure $f" >&2; exit 1; }
done
if grep -Eq "(src|href)=['\"](https?:)?//" "$out/run/report.html"; then
  echo "report.html references a network resource" >&2
  exit 1
fi
# A compare directory on its own: sweep figures plus the first cell's run figures.
"$spikesim" report "$out/compare" -q
test -s "$out/compare/report.html"
# A corrupt report is an error and leaves no page behind.
mkdir -p "$out/corrupt"
echo '{"spikesim_report": 3, "layers": [' >"$out/corrupt/report.json"
if "$spikesim" report "$out/corrupt" -q 2>"$out/corrupt/stderr"; then
  echo "spikesim report accepted a corrupt report.json" >&2
  exit 1
fi
grep -q "report.json" "$out/corrupt/stderr"
test ! -e "$out/corrupt/report.html"

if ! command -v chromium >/dev/null; then
  echo "SKIPPED: headless Chromium check (chromium not installed; scripts/setup.sh installs it)"
  exit 77
fi
check="$root/tests/scripts/check_html.py"
# The checker must catch a broken page, or this test could not fail.
cat >"$out/broken.html" <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head>
<body><img src="missing.png" alt="missing"><script>console.error("boom")</script></body></html>
HTML
if /usr/bin/python3 "$check" "$out/broken.html" --screenshot "$out/broken.png" >"$out/broken.log"; then
  echo "check_html.py accepted a page with a console error and a missing image" >&2
  exit 1
fi
grep -q "console error: boom" "$out/broken.log"
grep -q "image did not load" "$out/broken.log"
/usr/bin/python3 "$check" "$out/run/report.html" --screenshot "$out/report.png" --min-images 7
/usr/bin/python3 "$check" "$out/compare/report.html" --screenshot "$out/compare.png" --min-images 7
test -s "$out/report.png"
