#!/usr/bin/python3
"""Checks the structure of the Hugging Face golden files that scripts/make_hf_goldens.py writes (numpy only,
Debian's python3-numpy is enough):

    /usr/bin/python3 scripts/check_hf_goldens.py [tests/golden/hf]

Per case: both config files parse and are of the style they claim, the safetensors files (single or sharded with
model.safetensors.index.json) have sound headers and hold every tensor the config implies, the weights are not
trivial (embedding spread, norm weights not all one), golden.json's logits have the shape [input length, vocab]
and are finite and spread, the greedy ids are in the vocabulary, MoE routing is well formed (k distinct experts
per token, several experts used, weights summing to 1 exactly when the family renormalises), sliding-window
masks match the config, and the other config style loaded to the same logits. Tokenizers: tokenizer.json parses,
test ids are in range, copies in case folders are identical. Exit status 1 on any failure.
"""

import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2)}
HF_DTYPE = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
MAX_TOTAL_BYTES = 6_500_000

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return cond


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def st_read(path):
    """{name: (dtype, shape, raw bytes)} of a safetensors file, checking its layout."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out, spans = {}, []
    for name, v in header.items():
        if name == "__metadata__":
            continue
        dt, shape, (a, b) = v["dtype"], v["shape"], v["data_offsets"]
        check(dt in DTYPES, f"{path}: {name} has dtype {dt}")
        check(b - a == int(np.prod(shape, dtype=np.int64)) * DTYPES.get(dt, (None, 1))[1],
              f"{path}: {name} byte span {b - a} != shape {shape} x {dt}")
        spans.append((a, b))
        out[name] = (dt, shape, data[a:b])
    spans.sort()
    end = 0
    for a, b in spans:
        check(a == end, f"{path}: tensor data not contiguous at {a}")
        end = b
    check(8 + n + end == size, f"{path}: file size {size} != 8 + header {n} + data {end}")
    return out


def as_array(dt, shape, raw):
    if dt == "BF16":
        u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
        return u.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=DTYPES[dt][0]).astype(np.float32).reshape(shape)


def case_tensors(case_dir):
    idx = os.path.join(case_dir, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(idx):
        wm = load_json(idx)["weight_map"]
        files = sorted(set(wm.values()))
        check(len(files) > 1, f"{case_dir}: index lists a single shard")
        for fn in files:
            check(os.path.exists(os.path.join(case_dir, fn)), f"{case_dir}: shard {fn} missing")
            part = st_read(os.path.join(case_dir, fn))
            for name in part:
                check(wm.get(name) == fn, f"{case_dir}: {name} is in {fn}, index says {wm.get(name)}")
            tensors.update(part)
        check(set(wm) == set(tensors), f"{case_dir}: index and shards name different tensors")
    else:
        path = os.path.join(case_dir, "model.safetensors")
        if check(os.path.exists(path), f"{case_dir}: no model.safetensors and no index"):
            tensors = st_read(path)
    return tensors


def check_case(root, entry, tokenizers):
    name = entry["name"]
    d = os.path.join(root, name)
    cfg = load_json(os.path.join(d, "config.json"))
    g = load_json(os.path.join(d, "golden.json"))
    other_name = [k for k in g["config_files"] if k != "config.json"][0]
    other = load_json(os.path.join(d, other_name))
    v5, legacy = (cfg, other) if "rope_parameters" in cfg else (other, cfg)
    check("rope_parameters" in v5 and "dtype" in v5 and "rope_theta" not in v5,
          f"{name}: transformers-5 style config lacks rope_parameters/dtype")
    check("rope_theta" in legacy and "torch_dtype" in legacy and "rope_parameters" not in legacy
          and "layer_types" not in legacy, f"{name}: legacy config is not rope_theta + torch_dtype style")
    rp = v5["rope_parameters"]
    rs = legacy.get("rope_scaling")
    check(rp.get("rope_theta") == legacy["rope_theta"], f"{name}: rope_theta differs between the styles")
    if rp.get("rope_type", "default") == "default":
        check(rs is None, f"{name}: legacy rope_scaling should be null for default rope")
    else:
        check(isinstance(rs, dict) and rs.get("rope_type", rs.get("type")) == rp["rope_type"],
              f"{name}: legacy rope_scaling type != {rp['rope_type']}")
        for k, v in rp.items():
            if k not in ("rope_theta", "rope_type"):
                check(rs.get(k) == v, f"{name}: legacy rope_scaling.{k} = {rs.get(k)} != {v}")
    check(v5["dtype"] == legacy["torch_dtype"] == g["weights_dtype"], f"{name}: dtype fields disagree")
    check(cfg["architectures"] == [entry["architecture"]], f"{name}: architectures {cfg['architectures']}")

    tensors = case_tensors(d)
    want_dt = HF_DTYPE[g["weights_dtype"]]
    check(all(t[0] == want_dt for t in tensors.values()), f"{name}: not every tensor is {want_dt}")
    check(g["sharded"] == os.path.exists(os.path.join(d, "model.safetensors.index.json")), f"{name}: sharded flag")
    V, H, L = cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]
    emb = tensors.get("model.embed_tokens.weight")
    if check(emb is not None, f"{name}: no model.embed_tokens.weight"):
        check(emb[1] == [V, H], f"{name}: embed_tokens shape {emb[1]} != [{V}, {H}]")
        check(float(as_array(*emb).std()) > 0.1, f"{name}: embedding nearly constant")
    tied = cfg.get("tie_word_embeddings", False)
    check(("lm_head.weight" in tensors) != tied, f"{name}: lm_head.weight present={'lm_head.weight' in tensors}, "
          f"tie_word_embeddings={tied}")
    for li in range(L):
        n = f"model.layers.{li}.input_layernorm.weight"
        if check(n in tensors, f"{name}: {n} missing"):
            check(float(np.abs(as_array(*tensors[n]) - 1).max()) > 0.01, f"{name}: {n} is all ones")
        for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
            check(f"model.layers.{li}.self_attn.{p}.weight" in tensors, f"{name}: layer {li} {p} missing")
    check(len(tensors) == len(g["tensors"]), f"{name}: golden.json lists {len(g['tensors'])} tensors, files hold "
          f"{len(tensors)}")

    ids = g["input_ids"]
    check(len(ids) >= 48 and all(0 <= i < V for i in ids), f"{name}: input ids (len {len(ids)}) out of range")
    lg = g["logits"]
    check(lg["shape"] == [len(ids), V], f"{name}: logits shape {lg['shape']}")
    vals = np.array(lg["values"], dtype=np.float64)
    check(vals.shape == (len(lg["positions"]), V), f"{name}: logits values shape {vals.shape}")
    check(all(0 <= p < len(ids) for p in lg["positions"]) and lg["positions"][0] == 0 and
          lg["positions"][-1] == len(ids) - 1, f"{name}: logits positions {lg['positions']}")
    check(bool(np.isfinite(vals).all()) and float(vals.std()) > 0.5, f"{name}: logits not finite or not spread")
    la = g["logits_all_positions"]
    check(len(la["argmax"]) == len(ids), f"{name}: argmax over all positions has {len(la['argmax'])} entries")
    check([la["argmax"][p] for p in lg["positions"]] == vals.argmax(axis=1).tolist(), f"{name}: argmax disagrees")
    lse = np.log(np.exp(vals - vals.max(axis=1, keepdims=True)).sum(axis=1)) + vals.max(axis=1)
    check(np.allclose(lse, [la["logsumexp"][p] for p in lg["positions"]], atol=1e-6), f"{name}: logsumexp")

    gr = g["greedy"]
    check(len(gr["generated_ids"]) == gr["max_new_tokens"] and all(0 <= i < V for i in gr["generated_ids"] +
                                                                    gr["prompt_ids"]), f"{name}: greedy ids")
    check(min(gr["step_margins"]) >= 1e-3, f"{name}: a greedy step has a margin below 1e-3")
    for k in ("no_cache_matches", "full_forward_argmax_matches", "generate_api_matches"):
        if k in gr:
            check(gr[k] or (k == "generate_api_matches" and gr["generate_api_ids"] ==
                            gr["generated_ids"][:len(gr["generate_api_ids"])]), f"{name}: greedy {k} false")
    oc = g.get("other_config_style_check")
    if check(oc is not None, f"{name}: no check of the other config style"):
        check(oc["max_abs_logit_diff"] == 0.0, f"{name}: {oc['file']} gives other logits")

    sw = cfg.get("sliding_window") if (cfg.get("use_sliding_window", True)) else None
    for m in g["attention_masks"]:
        sliding = sw and (m.get("layer_type") in (None, "sliding_attention"))
        if sliding:
            check(m["max_keys_per_query"] == sw and m["pattern"].startswith("sliding"),
                  f"{name}: layer {m['layer']} mask is {m['pattern']}, window {m['max_keys_per_query']} != {sw}")
        else:
            check(m["pattern"] == "causal", f"{name}: layer {m['layer']} mask is {m['pattern']}, expected causal")
    if "window_probe" in g:
        check(g["window_probe"]["attended_keys_observed"] == sw, f"{name}: window probe saw "
              f"{g['window_probe']['attended_keys_observed']} keys, config window {sw}")

    if "moe" in g:
        layers = g["moe"]["sparse_layers"]
        check(len(layers) >= 1, f"{name}: no sparse layer recorded")
        renorm = cfg.get("norm_topk_prob", True) if "num_local_experts" not in cfg else True
        for sl in layers:
            idx = np.array(sl["topk_indices"])
            E, k = sl["num_experts"], sl["top_k"]
            check(idx.shape == (len(ids), k), f"{name}: layer {sl['layer']} routing shape {idx.shape}")
            check(all(len(set(r)) == k for r in idx.tolist()) and idx.min() >= 0 and idx.max() < E,
                  f"{name}: layer {sl['layer']} routing indices malformed")
            check(sum(1 for c in sl["expert_counts"] if c > 0) >= min(E, 3), f"{name}: routing uses few experts")
            check(sl["float64_topk_agrees"] and sl["min_margin_kth_vs_next"] >= 1e-4,
                  f"{name}: layer {sl['layer']} routing is close to a tie")
            w = np.array(sl["topk_weights"])
            probs = np.array(sl["router_probs_float64"])
            sums = w.sum(axis=1)
            if renorm:
                check(np.allclose(sums, 1.0, atol=1e-6), f"{name}: top-k weights do not sum to 1")
            else:
                check(bool((sums < 1 - 1e-3).all()), f"{name}: norm_topk_prob false but weights sum to 1")
                check(np.allclose(w, np.take_along_axis(probs, idx, 1), atol=1e-5),
                      f"{name}: un-normalised weights are not the softmax probabilities")
            check(np.allclose(probs.sum(axis=1), 1.0, atol=1e-6), f"{name}: router probabilities do not sum to 1")

    tk = g.get("tokenizer")
    if tk:
        src = os.path.join(root, "tokenizers", tk, "tokenizer.json")
        with open(src, "rb") as a, open(os.path.join(d, "tokenizer.json"), "rb") as b:
            check(a.read() == b.read(), f"{name}: tokenizer.json differs from tokenizers/{tk}")
        info = tokenizers.get(tk)
        if info:
            check(V >= info["vocab_size_with_added"], f"{name}: vocab {V} < tokenizer's {info['vocab_size_with_added']}")
        check("e2e" in g and g["e2e"]["prompt_ids"] == gr["prompt_ids"], f"{name}: e2e record missing")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden",
                                                              "hf")
    versions = load_json(os.path.join(root, "versions.json"))
    for k in ("transformers", "tokenizers", "torch", "safetensors"):
        check(bool(versions.get(k)), f"versions.json lacks {k}")
    manifest = load_json(os.path.join(root, "manifest.json"))
    check(not manifest["errors"], f"manifest.json records {len(manifest['errors'])} error(s)")
    tokenizers = {}
    for t in manifest["tokenizers"]:
        tj = load_json(os.path.join(root, "tokenizers", t, "tokenizer.json"))
        info = load_json(os.path.join(root, "tokenizers", t, "tests.json"))
        tokenizers[t] = info
        check(tj.get("model", {}).get("type") == "BPE", f"tokenizer {t}: model is not BPE")
        n = info["vocab_size_with_added"]
        check(len(info["tests"]) >= 30, f"tokenizer {t}: only {len(info['tests'])} test strings")
        for tt in info["tests"]:
            check(all(0 <= i < n for i in tt["ids"] + tt["ids_with_special"]), f"tokenizer {t}: ids out of range "
                  f"for {tt['text']!r}")
            check(len(tt["ids"]) == len(tt["tokens"]), f"tokenizer {t}: ids/tokens lengths differ")
        check(any(tt["text"] == "" for tt in info["tests"]), f"tokenizer {t}: no empty-string test")
    names = []
    for entry in manifest["cases"]:
        names.append(entry["name"])
        if not check(entry["status"] == "ok", f"{entry['name']}: status {entry['status']}"):
            continue
        try:
            check_case(root, entry, tokenizers)
        except Exception as e:  # noqa: BLE001
            check(False, f"{entry['name']}: {type(e).__name__}: {e}")
    total = 0
    for r, _, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(r, f)) for f in files)
    check(total <= MAX_TOTAL_BYTES, f"golden folder is {total} bytes (> {MAX_TOTAL_BYTES})")
    print(f"{len(names)} cases, {len(tokenizers)} tokenizers, {total / 1e6:.2f} MB")
    for f in failures:
        print("FAIL:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
