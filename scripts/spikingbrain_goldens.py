#!/usr/bin/python3
"""Goldens of the SpikingBrain-7B numpy reference on the seeded tiny checkpoints.

Usage:
  spikingbrain_goldens.py --check  [--golden-dir tests/golden/spikingbrain]   (the test)
  spikingbrain_goldens.py --write  [--golden-dir tests/golden/spikingbrain]   (after a deliberate change)
  spikingbrain_goldens.py --keep DIR                                          (also leave the checkpoints in DIR)

Each run regenerates the checkpoints with scripts/make_spikingbrain_checkpoints.py (twice, to prove the bytes
are the same on every run), then for each checkpoint runs scripts/spikingbrain_reference.py on the 40-token
prompt with 8 greedy tokens. --check compares: SHA-256 of every checkpoint file (bit-identical generation),
logits within 1e-9 (float64 on another BLAS may differ in the last bits), greedy tokens exactly, decode ==
prefill within 1e-10 (asserted by the reference itself), and the error message of every broken variant.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_spikingbrain_checkpoints as gen  # noqa: E402
import spikingbrain_reference as ref  # noqa: E402

GENERATE = 8
LOGIT_TOLERANCE = 1e-9
BROKEN_MESSAGES = {
    "missing_gk_proj": "tensor model.layers.0.attn.gk_proj.1.weight missing",
    "shape_mismatch": "tensor model.layers.1.attn.k_proj.weight has shape [48, 64], expected [32, 64]",
    "window_zero": "sliding_window must be a positive integer, got 0",
    "unknown_layer_type": "layer_types[2] = 'mamba': unknown layer type",
    "attn_layer_out_of_range": "attn_layers entry 4 outside [0, 4)",
    "truncated": "beyond the file's",
}


def file_hashes(d):
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def make(root):
    a, b = os.path.join(root, "a"), os.path.join(root, "b")
    gen.write_all(a, broken=True)
    gen.write_all(b, broken=False)
    for name in gen.CHECKPOINTS:
        ha, hb = file_hashes(os.path.join(a, name)), file_hashes(os.path.join(b, name))
        if ha != hb:
            raise AssertionError(f"{name}: two generations differ: {ha} vs {hb}")
    return a


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    ap.add_argument("--golden-dir", default=os.path.join(HERE, "..", "tests", "golden", "spikingbrain"))
    ap.add_argument("--keep", help="copy the generated checkpoints (and broken/) to this directory")
    args = ap.parse_args(argv)
    failures = []
    tokens = gen.prompt_tokens()
    with tempfile.TemporaryDirectory() as tmp:
        root = make(tmp)
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(root, args.keep)
        for name in gen.CHECKPOINTS:
            d = os.path.join(root, name)
            result = ref.run(d, tokens, GENERATE)
            result["files"] = file_hashes(d)
            result["made_by"] = "scripts/make_spikingbrain_checkpoints.py OUTDIR"
            result["reference_command"] = (f"scripts/spikingbrain_reference.py OUTDIR/{name} --tokens "
                                           f"{','.join(map(str, tokens))} --generate {GENERATE} --out {name}.json")
            path = os.path.join(args.golden_dir, name + ".json")
            if args.write:
                os.makedirs(args.golden_dir, exist_ok=True)
                with open(path, "w") as f:
                    json.dump(result, f, separators=(",", ":"))
                    f.write("\n")
                print(f"wrote {path}: tokens {result['generated_tokens']}, decode-prefill "
                      f"{result['decode_max_abs_diff_vs_prefill']:.2e}, greedy margin "
                      f"{result['min_greedy_margin']:.4f}")
                continue
            with open(path) as f:
                golden = json.load(f)
            before = len(failures)
            if golden["files"] != result["files"]:
                failures.append(f"{name}: checkpoint bytes differ from the golden's SHA-256 "
                                f"(generator changed or not deterministic)")
            if golden["tokens"] != result["tokens"]:
                failures.append(f"{name}: prompt differs")
            for key in ("prefill_logits", "generated_logits"):
                diff = float(np.max(np.abs(np.array(golden[key]) - np.array(result[key]))))
                if not diff <= LOGIT_TOLERANCE:
                    failures.append(f"{name}: {key} differ from the golden by {diff:.3e}")
            if golden["generated_tokens"] != result["generated_tokens"]:
                failures.append(f"{name}: greedy tokens {result['generated_tokens']} != golden "
                                f"{golden['generated_tokens']}")
            print(f"{name}: {'ok' if len(failures) == before else 'FAILED'}")
        for bname, message in BROKEN_MESSAGES.items():
            try:
                ref.run(os.path.join(root, "broken", bname), tokens[:4])
            except ref.CheckpointError as e:
                if message not in str(e):
                    failures.append(f"broken/{bname}: message {str(e)!r} lacks {message!r}")
                continue
            failures.append(f"broken/{bname}: accepted")
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    if args.check:
        n = len(gen.CHECKPOINTS) + len(BROKEN_MESSAGES)
        print(f"{n - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
