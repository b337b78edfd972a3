#!/usr/bin/python3
"""Writes a random-weight Hugging Face checkpoint of a real model's shapes (config.json + model.safetensors)
for the memory and speed benchmarks (bench/hf_checkpoint.sh). Not committed: a 7B file is 15 GB.

    /usr/bin/python3 bench/make_hf_checkpoint.py qwen2.5-1.5b OUT_DIR [--dtype BF16]

Shapes are those of the released config.json files (Qwen/Qwen2.5-1.5B, Qwen/Qwen2.5-7B). Weights: N(0, 0.02)
(matrices, embeddings), norms 1, biases N(0, 0.02), written in chunks so memory stays small. Needs only numpy.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
                         max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6),
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False,
                       max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6),
}


def tensors(c):
    d, i, hd = c["hidden_size"], c["intermediate_size"], c["hidden_size"] // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    yield "model.embed_tokens.weight", (c["vocab_size"], d), "normal"
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", (d,), "ones"
        for name, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
            yield p + f"self_attn.{name}.weight", (rows, d), "normal"
            yield p + f"self_attn.{name}.bias", (rows,), "normal"
        yield p + "self_attn.o_proj.weight", (d, q), "normal"
        yield p + "post_attention_layernorm.weight", (d,), "ones"
        yield p + "mlp.gate_proj.weight", (i, d), "normal"
        yield p + "mlp.up_proj.weight", (i, d), "normal"
        yield p + "mlp.down_proj.weight", (d, i), "normal"
    yield "model.norm.weight", (d,), "ones"
    if not c["tie_word_embeddings"]:
        yield "lm_head.weight", (c["vocab_size"], d), "normal"


def encode(values, dtype):
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    bits = values.astype("<f4").view("<u4")
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()  # round to nearest even


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("out")
    ap.add_argument("--dtype", default="BF16", choices=["F32", "F16", "BF16"])
    args = ap.parse_args()
    c = SHAPES[args.shape]
    width = {"F32": 4, "F16": 2, "BF16": 2}[args.dtype]
    header, offset = {}, 0
    specs = list(tensors(c))
    for name, shape, _ in specs:
        n = int(np.prod(shape)) * width
        header[name] = {"dtype": args.dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    path = os.path.join(args.out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape, kind in specs:
            n = int(np.prod(shape))
            chunk = 1 << 24
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                v = np.ones(m, np.float32) if kind == "ones" else rng.standard_normal(m, np.float32) * 0.02
                f.write(encode(v, args.dtype))
    os.replace(path + ".tmp", path)
    cfg = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu",
               torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[args.dtype],
               bos_token_id=151643, eos_token_id=151643, use_sliding_window=False, **c)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{args.out}: {args.shape} {args.dtype}, {offset / 2**30:.2f} GiB of weights")


if __name__ == "__main__":
    sys.exit(main())
