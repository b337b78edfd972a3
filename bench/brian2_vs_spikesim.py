#!/usr/bin/python3
"""The same event raster delivered into the same synapses by Brian2 and by spikesim, in one run.

    /usr/bin/python3 bench/brian2_vs_spikesim.py [--bin build/release/bench/spikesim_bench_events]
        [--tokens 8] [--in 3584] [--out 512] [--coding bitwise|ternary] [--threads N] [--rounds 5]

What is compared (nothing else differs):
  - activations x [tokens, in] from the outlier-channel generator of scripts/make_trace.py (numpy), weights
    W [out, in] ~ N(0, 1/in); spikesim codes x (adaptive threshold, k = 3) and writes the coded values; the
    raster Brian2 replays is built from exactly those values (bitwise: a spike at step t for every set bit
    2^(T-1-t) of |value|, MSB first; ternary: |value| unit spikes at steps 0 .. |value| - 1).
  - the synapses: token r's presynaptic neuron j reaches its postsynaptic neurons r*out + o with weight
    sign(value) * V_th[r] * W[o, j] (one block of synapses per token, so every token has its own outputs and
    all tokens run in the same T steps). Brian2: SpikeGeneratorGroup -> Synapses(on_pre='v_post += w') ->
    NeuronGroup('v : 1'); for bitwise the postsynaptic potentials double at the start of every step, so
    after T steps v = sum_t 2^(T-1-t) (events of step t) exactly as spikesim's step weights.
  - the work: both deliver the same events into the same number of synapses: synaptic events = events x out
    (spikesim's SOPs). spikesim's fast engine merges one neuron's spikes of one token into one accumulate of
    its coded value (that is its design); its reference engine makes one update per spike and synapse, like
    Brian2. Both ratios are printed.
  - timing: Brian2's own timer around its simulation loop (cpp_standalone: Network::run, excluding code
    generation, compilation and synapse creation); spikesim: event_forward / event_forward_reference
    (including building its event batches). Medians over --rounds runs, the two sides alternating.
  - check: Brian2's v, spikesim's outputs and W x_hat computed in float64 must agree.
Brian2 device: cpp_standalone (fastest), else cython, else numpy -- the one used is printed.
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


def raster(values, steps, coding, n_in):
    """(indices, step numbers) of every spike: index r * n_in + j, as spikesim's event streams."""
    flat = values.reshape(-1)
    nz = np.nonzero(flat)[0]
    mag = np.abs(flat[nz]).astype(np.int64)
    idx, when = [], []
    if coding == "bitwise":
        for t in range(steps):
            bit = steps - 1 - t
            fire = ((mag >> bit) & 1).astype(bool)
            idx.append(nz[fire])
            when.append(np.full(int(fire.sum()), t))
    else:  # ternary: unit spikes at steps 0 .. |value| - 1
        for t in range(int(mag.max()) if mag.size else 0):
            fire = mag > t
            idx.append(nz[fire])
            when.append(np.full(int(fire.sum()), t))
    return np.concatenate(idx), np.concatenate(when)


def build_brian2(device, workdir, threads, values, scale, weight_matrix, steps, coding, n_tokens, n_in, n_out):
    import brian2 as b2

    b2.prefs.logging.console_log_level = "ERROR"
    if device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=os.path.join(workdir, "brian2"), build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    else:
        b2.prefs.codegen.target = device
    b2.defaultclock.dt = 1 * b2.ms
    idx, when = raster(values, steps, coding, n_in)
    gen = b2.SpikeGeneratorGroup(n_tokens * n_in, idx, when * b2.ms, name="raster")
    post = b2.NeuronGroup(n_tokens * n_out, "v : 1", name="outputs")
    if coding == "bitwise":
        post.run_regularly("v = 2 * v", when="start")  # MSB first: earlier steps weigh twice as much
    syn = b2.Synapses(gen, post, "w : 1", on_pre="v_post += w", name="synapses")
    syn.connect(j=f"(i // {n_in}) * {n_out} + k for k in range({n_out})")
    # synapse order: presynaptic i ascending, then k ascending
    sign = np.sign(values).astype(np.float64)  # [tokens, in]
    wt = weight_matrix.astype(np.float64).T  # [in, out]
    weights = (sign * scale.astype(np.float64)[:, None])[:, :, None] * wt[None, :, :]
    syn.w = weights.reshape(-1)
    net = b2.Network(gen, post, syn)
    return b2, net, post, int(idx.size)


def run_spikesim(args, workdir, threads, rounds):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [args.bin, "--x", os.path.join(workdir, "x.f32"), "--w", os.path.join(workdir, "w.f32"),
           "--tokens", str(args.tokens), "--in", str(args.n_in), "--out", str(args.n_out), "--coding", args.coding,
           "--rounds", str(rounds), "--dump", workdir]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "build/release/bench/spikesim_bench_events"))
    p.add_argument("--tokens", type=int, default=8)
    p.add_argument("--in", dest="n_in", type=int, default=3584)
    p.add_argument("--out", dest="n_out", type=int, default=512)
    p.add_argument("--coding", choices=["bitwise", "ternary"], default="bitwise")
    p.add_argument("--threads", type=int, default=1, help="threads for both sides (Brian2: OpenMP)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--device", choices=["auto", "cpp_standalone", "cython", "numpy"], default="auto")
    a = p.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not os.path.exists(a.bin):
        sys.exit(f"{a.bin}: not built (ninja -C build/release spikesim_bench_events)")

    rng = np.random.default_rng(a.seed)
    x = outlier_channel_activations(rng, a.tokens, a.n_in)
    weights = (rng.standard_normal((a.n_out, a.n_in)) / np.sqrt(a.n_in)).astype(np.float32)
    workdir = tempfile.mkdtemp(prefix="spikesim_brian2_")
    try:
        x.tofile(os.path.join(workdir, "x.f32"))
        weights.tofile(os.path.join(workdir, "w.f32"))
        first = run_spikesim(a, workdir, a.threads, 1)
        values = np.fromfile(os.path.join(workdir, "values.i32"), dtype=np.int32).reshape(a.tokens, a.n_in)
        scale = np.fromfile(os.path.join(workdir, "scale.f32"), dtype=np.float32)
        y_fast = np.fromfile(os.path.join(workdir, "y_fast.f32"), dtype=np.float32).reshape(a.tokens, a.n_out)
        y_ref = np.fromfile(os.path.join(workdir, "y_reference.f32"), dtype=np.float32).reshape(a.tokens, a.n_out)
        steps = int(first["T"])

        devices = ["cpp_standalone", "cython", "numpy"] if a.device == "auto" else [a.device]
        for device in devices:
            try:
                b2, net, post, n_spikes = build_brian2(device, workdir, a.threads, values, scale, weights, steps, a.coding,
                                                       a.tokens, a.n_in, a.n_out)
                duration = steps * b2.ms
                brian_times = []
                spikesim_runs = []
                if device == "cpp_standalone":
                    net.run(duration)
                    b2.device.build(directory=os.path.join(workdir, "brian2"), compile=True, run=False)
                    for _ in range(a.rounds):
                        b2.device.run(os.path.join(workdir, "brian2"), False, [])
                        brian_times.append(b2.device._last_run_time)
                        spikesim_runs.append(run_spikesim(a, workdir, a.threads, 3))
                    v = np.asarray(post.v[:])
                else:  # runtime devices: compile in a first run, then time whole runs of a fresh network
                    net.store("start")
                    net.run(duration)
                    for _ in range(a.rounds):
                        net.restore("start")
                        t0 = time.perf_counter()
                        net.run(duration)
                        brian_times.append(time.perf_counter() - t0)
                        spikesim_runs.append(run_spikesim(a, workdir, a.threads, 3))
                    v = np.asarray(post.v[:])
                break
            except Exception as e:  # noqa: BLE001 -- try the next device, say why
                print(f"brian2 device {device} failed: {e}", file=sys.stderr)
                if device == devices[-1]:
                    raise
                import brian2 as b2
                b2.device.reinit()
                b2.set_device("runtime")

        # Outputs: Brian2's v, spikesim's fast and reference outputs, float64 W x_hat.
        exact = (values.astype(np.float64) * scale[:, None]) @ weights.astype(np.float64).T
        norm = np.linalg.norm(exact)
        err_brian = np.linalg.norm(v.reshape(a.tokens, a.n_out) - exact) / norm
        err_fast = np.linalg.norm(y_fast - exact) / norm
        err_ref = np.linalg.norm(y_ref - exact) / norm
        syn_events = int(first["synaptic_events"])
        if n_spikes != int(first["events"]):
            sys.exit(f"raster has {n_spikes} spikes, spikesim counted {first['events']}")

        t_brian = float(np.median(brian_times))
        t_fast = float(np.median([r["fast_s"] for r in spikesim_runs]))
        t_ref = float(np.median([r["reference_s"] for r in spikesim_runs]))
        print("== Brian2 vs spikesim: the same event raster into the same synapses")
        print(f"machine: {first['cpu']}, {os.cpu_count()} logical CPUs, {a.threads} thread(s) per side; "
              f"load average (1/5/15 min) before: {first['load']}, after: {spikesim_runs[-1]['load']}")
        print(f"{a.tokens} tokens x {a.n_in} inputs -> {a.n_out} outputs per token ({a.tokens * a.n_in * a.n_out} "
              f"synapses), {a.coding} coding, T = {steps}, zero fraction {first['zero_fraction']:.4f}")
        print(f"events {first['events']}, synaptic events {syn_events} (events x fan-out), "
              f"non-zero coded values {first['nonzero_values']}")
        print(f"brian2 {b2.__version__} device {device}: {t_brian * 1e3:9.3f} ms  "
              f"{syn_events / t_brian / 1e6:10.1f} M synaptic events/s  (rel. error vs float64 {err_brian:.2e})")
        print(f"spikesim fast engine:            {t_fast * 1e3:9.3f} ms  {syn_events / t_fast / 1e6:10.1f} M "
              f"synaptic events/s  (rel. error {err_fast:.2e})")
        print(f"spikesim reference engine:       {t_ref * 1e3:9.3f} ms  {syn_events / t_ref / 1e6:10.1f} M "
              f"synaptic events/s  (rel. error {err_ref:.2e}; one update per spike, like Brian2)")
        ratio = t_brian / t_fast
        verdict = "met" if ratio >= 20 else f"MISSED by {20 / ratio:.2f}x"
        print(f"ratio spikesim/brian2 synaptic events per second: fast engine {ratio:.1f}x [target >= 20x {verdict}], "
              f"reference engine {t_brian / t_ref:.1f}x")
        if max(err_brian, err_fast, err_ref) > 1e-4:
            sys.exit("outputs disagree: the two simulators did not compute the same thing")
        return 0 if ratio >= 20 else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
