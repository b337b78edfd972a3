#!/usr/bin/python3
"""Throughput of spikesim.torch.probe on a Qwen2.5-7B-shaped transformers model (random init, bf16, GPU).

Builds Qwen2ForCausalLM with Qwen2.5-7B's shapes (28 layers, hidden 3584, intermediate 18944, 28/4 heads,
vocab 152064), runs a plain forward of TOKENS tokens and the same forward inside a probe (SpikingBrain's
sites qkv, o, gateup; ternary, k = 3, replace=True), each timed over repeats after a warm-up, and prints
tokens/s and the probe's overhead; writes the probe's report to OUT (render it with `spikesim report OUT`).
A benchmark, not a test (BENCHMARKS.md).

Usage: PYTHONPATH=build/release/python bench/torch_probe_bench.py [--tokens 512] [--out DIR] [--layers N]
       ... --cpu [--hidden 1024 --intermediate 2816 --heads 16 --kv-heads 4 --vocab 8192]: the hand-written
       Llama of tests/python/tiny_llama.py (no transformers needed) in float32 on the CPU, a smaller shape.
"""
import argparse
import json
import os
import sys
import time

import torch


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--layers", type=int, default=28)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--probe-repeats", type=int, default=3)
    ap.add_argument("--out", default="torch_probe_bench_out")
    ap.add_argument("--sites", default="default")
    ap.add_argument("--cpu", action="store_true", help="hand-written Llama on the CPU, float32")
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--intermediate", type=int, default=2816)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=8192)
    args = ap.parse_args()

    import spikesim
    import spikesim.torch
    if args.cpu:
        return cpu_bench(args, spikesim)
    import transformers

    config = transformers.Qwen2Config(
        hidden_size=3584, intermediate_size=18944, num_hidden_layers=args.layers, num_attention_heads=28,
        num_key_value_heads=4, vocab_size=152064, max_position_embeddings=32768, rope_theta=1e6,
        rms_norm_eps=1e-6, tie_word_embeddings=False)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = transformers.Qwen2ForCausalLM(config).eval()
    torch.set_default_dtype(torch.float32)
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(0, config.vocab_size, (1, args.tokens), device="cuda")

    with torch.no_grad():
        model(ids)  # warm-up
        plain_s, plain_all = timed(lambda: model(ids), args.repeats)
        dense_logits = model(ids).logits.float()
        result = {}
        for moe in (True, False):
            t0 = time.perf_counter()
            p = spikesim.torch.probe(model, sites=args.sites, coding="ternary", k=3.0,
                                     hardware=["loihi", "h200-bf16-measured", "h100-bf16-memory"],
                                     measure_output_error=moe)
            setup_s = time.perf_counter() - t0
            with p:
                model(ids)  # warm-up (and the counters of one pass are reset below by a new probe)
            p = spikesim.torch.probe(model, sites=args.sites, coding="ternary", k=3.0,
                                     hardware=["loihi", "h200-bf16-measured", "h100-bf16-memory"],
                                     measure_output_error=moe)
            with p:
                probe_s, probe_all = timed(lambda: model(ids), args.probe_repeats)
                spiking_logits = model(ids).logits.float()
            agree = (dense_logits.argmax(-1) == spiking_logits.argmax(-1)).float().mean().item()
            result["with_output_error" if moe else "without_output_error"] = {
                "probe_s": probe_s, "probe_all_s": probe_all, "setup_s": setup_s,
                "tokens_per_s": args.tokens / probe_s, "overhead_x": probe_s / plain_s,
                "top1_agreement": agree}
            if moe:
                report = p.report(args.out)
    totals = report["totals"]
    summary = {
        "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "transformers": transformers.__version__,
        "cpu_threads": torch.get_num_threads(), "os_cpus": os.cpu_count(),
        "params": params, "layers": args.layers, "tokens": args.tokens, "model_build_s": build_s,
        "plain_s": plain_s, "plain_all_s": plain_all, "plain_tokens_per_s": args.tokens / plain_s,
        **result,
        "report": {"coded_sites": report["run"]["coded_sites"][:4], "zero_fraction": totals["zero_fraction"],
                   "spikes": totals["spikes"], "sops": totals["sops"], "dense_macs": totals["dense_macs"]},
    }
    print(json.dumps(summary, indent=1))
    with open(os.path.join(args.out, "bench.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return 0


def cpu_bench(args, spikesim):
    """The same measurement on the CPU with the hand-written Llama (module names as Hugging Face's)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
    from tiny_llama import TinyLlama
    config = {"hidden_size": args.hidden, "intermediate_size": args.intermediate, "num_hidden_layers": args.layers,
              "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads, "vocab_size": args.vocab,
              "max_position_embeddings": max(args.tokens, 64), "rms_norm_eps": 1e-6, "rope_theta": 1e6,
              "tie_word_embeddings": False}
    model = TinyLlama(config, seed=0).eval()
    ids = torch.randint(0, args.vocab, (1, args.tokens))

    def median(fn, repeats):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return sorted(times)[len(times) // 2]
    with torch.no_grad():
        model(ids)
        plain_s = median(lambda: model(ids), args.repeats)
        dense = model(ids)
        result = {}
        for moe in (True, False):
            p = spikesim.torch.probe(model, sites=args.sites, coding="ternary", k=3.0, measure_output_error=moe)
            with p:
                model(ids)
                probe_s = median(lambda: model(ids), args.probe_repeats)
                spiking = model(ids)
            result["with_output_error" if moe else "without_output_error"] = {
                "probe_s": probe_s, "tokens_per_s": args.tokens / probe_s, "overhead_x": probe_s / plain_s,
                "top1_agreement": (dense.argmax(-1) == spiking.argmax(-1)).float().mean().item()}
            if moe:
                report = p.report(args.out)
    summary = {"device": "cpu", "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
               "os_cpus": os.cpu_count(), "config": config, "params": sum(q.numel() for q in model.parameters()),
               "tokens": args.tokens, "plain_s": plain_s, "plain_tokens_per_s": args.tokens / plain_s, **result,
               "zero_fraction": report["totals"]["zero_fraction"], "sops": report["totals"]["sops"],
               "dense_macs": report["totals"]["dense_macs"]}
    print(json.dumps(summary, indent=1))
    with open(os.path.join(args.out, "bench.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
