#!/usr/bin/env bash
# The SpikingBrain-7B numpy reference against its goldens: regenerates the seeded tiny checkpoints twice
# (bit-identical bytes, SHA-256 recorded in the goldens), recomputes logits / greedy tokens / decode == prefill,
# and checks the loader's error message for every broken variant. Needs only Debian's python3-numpy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$root/scripts/spikingbrain_goldens.py" --check --golden-dir "$root/tests/golden/spikingbrain"
