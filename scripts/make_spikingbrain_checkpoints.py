#!/usr/bin/python3
"""Tiny random SpikingBrain-7B-layout checkpoints (GLAswaForCausalLM, model_type gla_swa), numpy only.

Usage:
  make_spikingbrain_checkpoints.py OUTDIR [--broken]

Writes OUTDIR/<name>/config.json + model.safetensors (or model.safetensors.index.json and two shards) for:
  sb_f32_default    F32, one file, no `attn_layers` in config.json (the release's default rule: odd layers are
                    SWA), release window 4096 (longer than any test sequence), release eps 1e-6
  sb_bf16_w16       BF16, one file, attn_layers [1, 3] stored as in the released config.json, window 16
  sb_f16_sharded    F16, index json + 2 shards, non-default attn_layers [0, 3], window 8, norm_eps 1e-5,
                    rope_theta 1e4, one key/value head (GQA 4:1)
All three: hidden 64, 4 heads x 16, intermediate 128, vocab 256, 4 layers, gk_proj low-rank dim 16 (the
release's hard-coded gate_low_rank_dim), tensor names of hf_7B_model/ (see data/configs/SPIKINGBRAIN.md).
With --broken also OUTDIR/broken/<name>/ for loader error tests: missing_gk_proj, shape_mismatch, window_zero,
unknown_layer_type, attn_layer_out_of_range, truncated.

Determinism: every value comes from a counter-based hash (SplitMix64 of seed, a CRC-32 of the tensor name and
the element index) turned into uniforms with exact arithmetic, so the bytes are identical on every run, machine
and numpy version (numpy's Generator streams carry no such promise across versions, NEP 19). The goldens in
tests/golden/spikingbrain/ record the SHA-256 of every file written here.
"""
import argparse
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np

SEED = 20250915
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)

BASE = {
    "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
    "vocab_size": 256, "num_hidden_layers": 4,
}
GATE_LOW_RANK_DIM = 16  # gla_attention.py:49 (not a config field)

CHECKPOINTS = {
    "sb_f32_default": {"dtype": "F32", "shards": 1, "config": {}},
    "sb_bf16_w16": {"dtype": "BF16", "shards": 1, "config": {"attn_layers": [1, 3], "sliding_window": 16}},
    # seed chosen among SEED..SEED+7 for a clear greedy margin (>= 0.02 logits at every position)
    "sb_f16_sharded": {"dtype": "F16", "shards": 2, "seed": 20250921,
                       "config": {"attn_layers": [0, 3], "sliding_window": 8, "norm_eps": 1e-5,
                                  "rope_theta": 10000.0, "num_key_value_heads": 1}},
}


def _splitmix64(x):
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def uniforms(stream, n, seed=SEED):
    """n uniforms in [0, 1), each k * 2^-53, from hash(seed, stream, index)."""
    with np.errstate(over="ignore"):
        key = _splitmix64(np.array([seed], dtype=np.uint64) * np.uint64(0x100000001B3) + np.uint64(stream))
        x = _splitmix64(key ^ _splitmix64(np.arange(n, dtype=np.uint64)))
    return (x >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


def values(name, shape, std, mean=0.0, seed=SEED):
    """Irwin-Hall(3) values, mean `mean`, standard deviation `std`: 2 * std * (u0 + u1 + u2 - 1.5)."""
    n = int(np.prod(shape))
    u = uniforms(zlib.crc32(name.encode()), 3 * n, seed).reshape(n, 3)
    return (mean + 2.0 * std * ((u[:, 0] + u[:, 1]) + u[:, 2] - 1.5)).reshape(shape)


def prompt_tokens(n=40, vocab=256):
    return [int(t) for t in np.floor(uniforms(zlib.crc32(b"prompt"), n) * vocab).astype(np.int64)]


def config_for(spec):
    cfg = {
        "architectures": ["GLAswaForCausalLM"], "model_type": "gla_swa", "attn_mode": "chunk",
        "attention_dropout": 0.0, "conv_size": 4, "elementwise_affine": True, "hidden_act": "swish",
        "max_position_embeddings": 131072, "norm_eps": 1e-6, "rope_theta": 1000000.0, "sliding_window": 4096,
        "tie_word_embeddings": False, "use_cache": True, "use_short_conv": False, "torch_dtype": "float32",
        "bos_token_id": 1, "eos_token_id": 2,
    }
    cfg.update(BASE)
    cfg.update(spec["config"])
    cfg["torch_dtype"] = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[spec["dtype"]]
    return dict(sorted(cfg.items()))


def tensors_for(cfg, seed=SEED):
    """{name: float64 array} in the release's layout; weights of std 0.15, biases 0.1, norms 1 +- 0.1,
    gk_proj.1.bias around -2 (gate logsigmoid(gk)/16 ~ -0.13: decay ~0.88 per token)."""
    E, H, Hkv, F, V, L = (cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
                          cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"])
    D = E // H
    attn = cfg.get("attn_layers", list(range(1, L, 2)))
    t = {"model.embeddings.weight": values("model.embeddings.weight", (V, E), 1.0, seed=seed),
         "model.norm.weight": values("model.norm.weight", (E,), 0.1, 1.0, seed=seed),
         "lm_head.weight": values("lm_head.weight", (V, E), 0.15, seed=seed)}
    for i in range(L):
        p = f"model.layers.{i}."
        a = p + "attn."
        shapes = {
            p + "attn_norm.weight": ((E,), 0.1, 1.0), p + "mlp_norm.weight": ((E,), 0.1, 1.0),
            p + "mlp.gate_proj.weight": ((F, E), 0.15, 0.0), p + "mlp.up_proj.weight": ((F, E), 0.15, 0.0),
            p + "mlp.down_proj.weight": ((E, F), 0.1, 0.0),
            a + "q_proj.weight": ((H * D, E), 0.15, 0.0), a + "q_proj.bias": ((H * D,), 0.1, 0.0),
            a + "k_proj.weight": ((Hkv * D, E), 0.15, 0.0), a + "k_proj.bias": ((Hkv * D,), 0.1, 0.0),
            a + "v_proj.weight": ((Hkv * D, E), 0.15, 0.0), a + "v_proj.bias": ((Hkv * D,), 0.1, 0.0),
            a + "o_proj.weight": ((E, H * D), 0.15, 0.0),
        }
        if i not in attn:
            shapes.update({
                a + "gk_proj.0.weight": ((GATE_LOW_RANK_DIM, E), 0.15, 0.0),
                a + "gk_proj.1.weight": ((Hkv * D, GATE_LOW_RANK_DIM), 0.2, 0.0),
                a + "gk_proj.1.bias": ((Hkv * D,), 1.0, -2.0),
                a + "g_norm.weight": ((D,), 0.1, 1.0),
            })
        for name, (shape, std, mean) in shapes.items():
            t[name] = values(name, shape, std, mean, seed)
    return t


def encode(x, dtype):
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        return x.astype("<f2").tobytes()
    if dtype == "BF16":  # float64 -> float32 (RNE) -> bfloat16 (RNE on the top 16 bits)
        b = x.astype("<f4").view(np.uint32).astype(np.uint64)
        b = (b + np.uint64(0x7FFF) + ((b >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
        return b.astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype, shape_override=None):
    """tensors: {name: float64 array}; names sorted, header padded with spaces to a multiple of 8."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        raw = encode(tensors[name], dtype)
        shape = list((shape_override or {}).get(name, tensors[name].shape))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_checkpoint(outdir, cfg, tensors, dtype, shards, shape_override=None):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    if shards == 1:
        write_safetensors(os.path.join(outdir, "model.safetensors"), tensors, dtype, shape_override)
        return
    names = sorted(tensors)
    # shard 1: embeddings and the first half of the layers; shard 2: the rest (as HF splits by size)
    half = cfg["num_hidden_layers"] // 2
    first = [n for n in names if n.startswith("model.embeddings.")
             or any(n.startswith(f"model.layers.{i}.") for i in range(half))]
    parts = [first, [n for n in names if n not in first]]
    weight_map, total = {}, 0
    for k, part in enumerate(parts):
        fname = f"model-{k + 1:05d}-of-{len(parts):05d}.safetensors"
        write_safetensors(os.path.join(outdir, fname), {n: tensors[n] for n in part}, dtype, shape_override)
        for n in part:
            weight_map[n] = fname
            total += len(encode(tensors[n], dtype))
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f,
                  indent=2)
        f.write("\n")


def write_all(outdir, broken=False):
    made = []
    for name, spec in CHECKPOINTS.items():
        cfg = config_for(spec)
        write_checkpoint(os.path.join(outdir, name), cfg, tensors_for(cfg, spec.get("seed", SEED)),
                         spec["dtype"], spec["shards"])
        made.append(name)
    if broken:
        base = CHECKPOINTS["sb_f32_default"]
        bdir = os.path.join(outdir, "broken")

        def variant(vname, cfg_change=None, drop=None, shape_override=None):
            cfg = config_for(base)
            cfg.update(cfg_change or {})
            t = tensors_for(config_for(base))
            for n in drop or []:
                del t[n]
            if shape_override:
                for n, shape in shape_override.items():
                    t[n] = values(n, shape, 0.15)
            write_checkpoint(os.path.join(bdir, vname), cfg, t, "F32", 1)
            made.append("broken/" + vname)

        variant("missing_gk_proj", drop=["model.layers.0.attn.gk_proj.1.weight"])
        variant("shape_mismatch", shape_override={"model.layers.1.attn.k_proj.weight": (48, 64)})
        variant("window_zero", {"sliding_window": 0})
        variant("unknown_layer_type", {"layer_types": ["gla", "swa", "mamba", "swa"]})
        variant("attn_layer_out_of_range", {"attn_layers": [1, 4]})
        variant("truncated")
        p = os.path.join(bdir, "truncated", "model.safetensors")
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.truncate(size - 100)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--broken", action="store_true", help="also write the broken variants under OUTDIR/broken/")
    args = ap.parse_args(argv)
    for name in list(CHECKPOINTS) + (["broken"] if args.broken else []):
        shutil.rmtree(os.path.join(args.outdir, name), ignore_errors=True)
    for name in write_all(args.outdir, args.broken):
        print(os.path.join(args.outdir, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
