#!/usr/bin/python3
"""Write spikesim HDF5 activation traces from numpy arrays (numpy + h5py only).

As a library:
    from make_trace import write_trace
    write_trace("trace.h5", [("q_proj", x, W, b), ("up_proj", x2, W2, None)])
    # x: [tokens, in_features], W: [out_features, in_features], b: [out_features] or None;
    # the list order becomes each layer's `index` (execution order).

As a command, it writes a synthetic trace whose activations model LLM outlier channels:
    /usr/bin/python3 scripts/make_trace.py --out data/traces/synthetic_llm_block.h5

Synthetic activations: x[t, c] = z[t, c] * s[c], z ~ N(0, 1), channel scales s[c] = exp(sigma * u[c]),
u ~ N(0, 1), sigma = 2.25, fixed per layer across tokens. A few channels then dominate mean|x| as outlier
channels do in LLMs; at k = 3 about 69 % of the counts are zero (SpikingBrain-7B: 69.15 %), with a weak
k dependence like SpikingBrain's Table 11. Weights ~ N(0, 1/in_features).
"""
import argparse
import os
import sys

import h5py
import numpy as np


def write_trace(path, layers):
    """layers: iterable of (name, input [tokens, in], weight [out, in], bias [out] or None)."""
    tmp = str(path) + ".partial"
    with h5py.File(tmp, "w") as f:
        group = f.create_group("layers")
        for index, (name, x, w, b) in enumerate(layers):
            x = np.asarray(x, dtype=np.float32)
            w = np.asarray(w, dtype=np.float32)
            if x.ndim != 2 or w.ndim != 2 or w.shape[1] != x.shape[1]:
                raise ValueError(f"layer {name}: input {x.shape} and weight {w.shape} do not match "
                                 "([tokens, in] and [out, in])")
            g = group.create_group(name)
            g.attrs["index"] = np.int64(index)
            g.create_dataset("input", data=x)
            g.create_dataset("weight", data=w)
            if b is not None:
                b = np.asarray(b, dtype=np.float32)
                if b.shape != (w.shape[0],):
                    raise ValueError(f"layer {name}: bias {b.shape} does not match out_features {w.shape[0]}")
                g.create_dataset("bias", data=b)
    os.replace(tmp, path)


def outlier_channel_activations(rng, tokens, features, sigma=2.25):
    scales = np.exp(sigma * rng.standard_normal(features)).astype(np.float32)
    return (rng.standard_normal((tokens, features)).astype(np.float32) * scales).astype(np.float32)


def synthetic_llm_block(tokens, dim, hidden, seed, sigma):
    """Inputs of the six projections SpikingBrain codes in one Llama block (q, k, v, o, gate, up)."""
    rng = np.random.default_rng(seed)

    def weight(out, inp):
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    attn_in = outlier_channel_activations(rng, tokens, dim, sigma)
    attn_out = outlier_channel_activations(rng, tokens, dim, sigma)
    mlp_in = outlier_channel_activations(rng, tokens, dim, sigma)
    return [
        ("q_proj", attn_in, weight(dim, dim), None),
        ("k_proj", attn_in, weight(dim, dim), None),
        ("v_proj", attn_in, weight(dim, dim), None),
        ("o_proj", attn_out, weight(dim, dim), None),
        ("gate_proj", mlp_in, weight(hidden, dim), None),
        ("up_proj", mlp_in, weight(hidden, dim), None),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--hidden", type=int, default=688)
    p.add_argument("--sigma", type=float, default=2.25, help="log-std of the channel scales")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    write_trace(a.out, synthetic_llm_block(a.tokens, a.dim, a.hidden, a.seed, a.sigma))
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
