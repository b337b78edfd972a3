#!/usr/bin/python3
"""Encoding throughput: spikesim vs numpy on the same array, and vs memory bandwidth, in one run.

    /usr/bin/python3 bench/encode_vs_numpy.py [--bin build/release/bench/spikesim_bench_encode]
        [--rows 4096] [--cols 3584] [--codings bitwise,ternary] [--rounds 5] [--threads N]

The array: rows x cols float32 activations from the outlier-channel generator of scripts/make_trace.py
(x = z * exp(2.25 u_c)), written to a file that both sides read.

numpy implements the same formulas (DESIGN §2, §3) on it, vectorised the numpy way:
    V_th[r]   = clip(bf16(mean_c |x[r, c]|) / k, 1e-5, 1e4)        (mean in float64, bf16 round-half-even)
    s[r, c]   = rint(x[r, c] / V_th[r])                            (float32 division, round half to even)
    T         = bitwise: bit_length(max |s|); ternary: max |s|
    counters  = count histogram |s| = 0 / 1 / 2 / >= 3, sum |s|, spikes (bitwise: popcount |s|; ternary: |s|),
                graded spikes (bitwise: popcount |s| - (|s| & 1)), ||x||^2 and ||x - s V_th||^2
spikesim (spikesim_bench_encode) computes the same in sim::code_site; the counts, T, histogram and spikes
must agree exactly (checked), then the times are compared. spikesim also times a STREAM-like copy of the
same array in the same process (4 B read + 4 B written per element, the least an encoder reading x and
writing one int32 count per element moves): the bandwidth bound. Target: encode within 2x of the copy.
numpy runs single-threaded; spikesim is timed with 1 thread and with --threads (default: all cores).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_trace import outlier_channel_activations  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def bf16_round(v):
    """float32 -> nearest bfloat16 (round half to even), returned as float32."""
    b = np.ascontiguousarray(v, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
    return b.astype(np.uint32).view(np.float32)


def popcount32(v):
    """Bits set in each element of a non-negative int64 array below 2^32 (SWAR, vectorised)."""
    v = v.astype(np.uint64)
    v = v - ((v >> 1) & 0x55555555)
    v = (v & 0x33333333) + ((v >> 2) & 0x33333333)
    v = (v + (v >> 4)) & 0x0F0F0F0F
    return ((v * 0x01010101) & 0xFFFFFFFF) >> 24


def numpy_encode(x, coding, k):
    mean_abs = np.abs(x).mean(axis=1, dtype=np.float64).astype(np.float32)
    v_th = np.clip(bf16_round(mean_abs) / np.float32(k), np.float32(1e-5), np.float32(1e4)).astype(np.float32)
    s = np.rint(x / v_th[:, None]).astype(np.int32)
    a = np.abs(s).astype(np.int64)
    max_abs = int(a.max())
    if coding == "bitwise":
        steps = max(1, max_abs.bit_length())
        spikes_each = popcount32(a)
        spikes = int(spikes_each.sum())
        graded = spikes - int((a & 1).sum())
    else:
        steps = max(1, max_abs)
        spikes = int(a.sum())
        graded = 0
    hist = [int((a == 0).sum()), int((a == 1).sum()), int((a == 2).sum()), int((a >= 3).sum())]
    x64 = x.astype(np.float64)
    err = x64 - s.astype(np.float64) * v_th.astype(np.float64)[:, None]
    return {"T": steps, "count_histogram": hist, "abs_count_sum": int(a.sum()), "spikes": spikes,
            "spikes_graded": graded, "input_sq_norm": float((x64 * x64).sum()),
            "reconstruction_sq_err": float((err * err).sum())}


def run_bin(args, path, threads, coding):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [args.bin, "--input", path, "--rows", str(args.rows), "--cols", str(args.cols), "--codings", coding,
           "--k", str(args.k), "--rounds", str(args.rounds), "--json", "1"]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "build/release/bench/spikesim_bench_encode"))
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--cols", type=int, default=3584)
    p.add_argument("--codings", default="bitwise,ternary")
    p.add_argument("--k", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=4)
    a = p.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not os.path.exists(a.bin):
        sys.exit(f"{a.bin}: not built (ninja -C build/release spikesim_bench_encode)")

    x = outlier_channel_activations(np.random.default_rng(a.seed), a.rows, a.cols)
    n = x.size
    workdir = tempfile.mkdtemp(prefix="spikesim_encode_")
    failed = False
    try:
        path = os.path.join(workdir, "x.f32")
        x.tofile(path)
        with open("/proc/loadavg") as f:
            load_before = " ".join(f.read().split()[:3])
        print("== encoding: spikesim vs numpy on the same array, and vs a copy of it (bandwidth)")
        print(f"{a.rows} x {a.cols} float32 ({x.nbytes / 1e6:.1f} MB), k = {a.k}, numpy {np.__version__} "
              f"(1 thread), spikesim with 1 and {a.threads} threads; load average before: {load_before}")
        for coding in a.codings.split(","):
            numpy_times = []
            one, many = [], []
            for _ in range(a.rounds):  # the sides alternate, so load changes hit both
                t0 = time.perf_counter()
                ref = numpy_encode(x, coding, a.k)
                numpy_times.append(time.perf_counter() - t0)
                one.append(run_bin(a, path, 1, coding))
                many.append(run_bin(a, path, a.threads, coding))
            got = one[0]
            for key in ("T", "count_histogram", "abs_count_sum", "spikes", "spikes_graded"):
                if got[key] != ref[key] or many[0][key] != ref[key]:
                    print(f"MISMATCH {coding} {key}: numpy {ref[key]} spikesim {got[key]}")
                    failed = True
            for key in ("input_sq_norm", "reconstruction_sq_err"):
                if abs(got[key] - ref[key]) > 1e-5 * abs(ref[key]):  # float lanes, double totals
                    print(f"MISMATCH {coding} {key}: numpy {ref[key]} spikesim {got[key]}")
                    failed = True
            t_np = float(np.median(numpy_times))
            t_1 = float(np.median([r["encode_s"] for r in one]))
            t_n = float(np.median([r["encode_s"] for r in many]))
            c_1 = float(np.median([r["copy_s"] for r in one]))
            c_n = float(np.median([r["copy_s"] for r in many]))
            cpu_e = float(np.median([r["encode_cpu_s"] for r in one]))
            cpu_c = float(np.median([r["copy_cpu_s"] for r in one]))
            zero = ref["count_histogram"][0] / n
            print(f"\n-- {coding}: T = {ref['T']}, zero fraction {zero:.4f}, spikes per element "
                  f"{ref['spikes'] / n:.4f} (counters identical in numpy and spikesim)")
            print(f"   numpy                 {t_np * 1e3:9.2f} ms  {n / t_np / 1e9:7.3f} G elements/s")
            print(f"   spikesim, 1 thread    {t_1 * 1e3:9.2f} ms  {n / t_1 / 1e9:7.3f} G elements/s  "
                  f"({t_np / t_1:.1f}x numpy); copy {c_1 * 1e3:.2f} ms = {8 * n / c_1 / 1e9:.1f} GB/s -> "
                  f"encode/copy {t_1 / c_1:.2f}")
            print(f"   spikesim, 1 thread, thread CPU time (not inflated by preemption): encode {cpu_e * 1e3:.2f} ms, "
                  f"copy {cpu_c * 1e3:.2f} ms -> encode/copy {cpu_e / cpu_c:.2f}")
            ratio = t_n / c_n
            verdict = "met" if ratio <= 2.0 else f"MISSED by {ratio / 2.0:.3f}x"
            print(f"   spikesim, {a.threads} threads  {t_n * 1e3:9.2f} ms  {n / t_n / 1e9:7.3f} G elements/s  "
                  f"({t_np / t_n:.1f}x numpy); copy {c_n * 1e3:.2f} ms = {8 * n / c_n / 1e9:.1f} GB/s -> "
                  f"encode/copy {ratio:.3f} [target <= 2 {verdict}]")
        with open("/proc/loadavg") as f:
            print(f"\nload average after: {' '.join(f.read().split()[:3])}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
