#!/usr/bin/python3
"""Measure a GPU's energy per MAC and per weight byte for the dense projections of one decoder block.

For users with a CUDA GPU, PyTorch and nvidia-ml-py (module `pynvml`); spikesim, its demo and its tests never
need it. For a model config.json's shapes (default: Qwen2.5-7B, data/configs/qwen2.5-7b.json) it times the
seven projections of one decoder block (q, k, v, o, gate, up, down; biases where the model has them) at each
tokens per call (default 1, 2, 4, ..., 8192) and reads the board's energy from NVML's total-energy counter:

  * idle power first (the context created, nothing running), and again at the end (drift);
  * per point: a warm-up, then `--repeats` timed windows of at least `--repeat-s` seconds each (together
    >= 10 s by default); nominal = the median window, low / high = the spread across the windows;
  * `--copies` copies of the block's weights, used in turn, so that batch-1 calls stream the weights from HBM
    rather than L2 (one Qwen2.5-7B block is 466 MB of bf16 weights);
  * clocks, power limits, temperature and throttle reasons are read and recorded, never changed.

It writes a hardware profile (data/hardware/README.md, "Measured dense side") with one point per tokens per
call, and a raw log of every window (JSON lines). Energies are whole-board (idle included) unless
`--excludes-idle`, which subtracts the idle power measured first.

    python3 scripts/measure_gpu_energy.py --out h200-bf16-measured.json --log h200-bf16-measured.jsonl
    /usr/bin/python3 scripts/measure_gpu_energy.py --dry-run --out /tmp/p.json --log /tmp/p.jsonl
        # CPU, shapes / 32, a fake energy reader: exercises every code path without a GPU (not a measurement)

The profile is rewritten after every point, so a run stopped early (or `--deadline-s`) keeps what it measured.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import threading
import time

DEFAULT_TOKENS = [2**i for i in range(14)]  # 1 ... 8192


# ----------------------------------------------------------------------------------------------- shapes
def block_shapes(config, scale=1):
    """The dense projections of one decoder block as (name, in_features, out_features, bias)."""
    hidden = int(config["hidden_size"]) // scale
    inter = int(config["intermediate_size"]) // scale
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads", heads))
    head_dim = int(config.get("head_dim", int(config["hidden_size"]) // heads)) // scale
    if head_dim < 1 or hidden < 1 or inter < 1:
        raise ValueError(f"--scale {scale} leaves no features")
    qwen2 = config.get("model_type") == "qwen2"
    qkv_bias = qwen2 or bool(config.get("attention_bias", False))
    o_bias = bool(config.get("attention_bias", False)) and not qwen2  # Qwen2 has no o_proj bias
    mlp_bias = bool(config.get("mlp_bias", False))
    return [
        ("q_proj", hidden, heads * head_dim, qkv_bias),
        ("k_proj", hidden, kv_heads * head_dim, qkv_bias),
        ("v_proj", hidden, kv_heads * head_dim, qkv_bias),
        ("o_proj", heads * head_dim, hidden, o_bias),
        ("gate_proj", hidden, inter, mlp_bias),
        ("up_proj", hidden, inter, mlp_bias),
        ("down_proj", inter, hidden, mlp_bias),
    ]


def weights_of(shapes):
    return sum(i * o for _, i, o, _ in shapes)


# ------------------------------------------------------------------------------------------ energy readers
class NvmlReader:
    """Board energy and power through NVML (read-only: nothing here sets a clock or a limit)."""

    def __init__(self, index):
        import pynvml

        self.nv = pynvml
        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.method = "nvmlDeviceGetTotalEnergyConsumption"
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except pynvml.NVMLError as e:  # older boards: integrate sampled power instead
            self.method = f"integrated nvmlDeviceGetPowerUsage samples (total-energy counter: {e})"
        self._integrated_j = 0.0
        self._last = None
        self._lock = threading.Lock()

    def energy_j(self):
        if self.method.startswith("nvmlDeviceGetTotalEnergyConsumption"):
            return self.nv.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3  # mJ
        with self._lock:
            return self._integrated_j

    def power_w(self):
        return self.nv.nvmlDeviceGetPowerUsage(self.handle) / 1e3  # mW

    def on_sample(self, t, power_w):  # power integration (fallback only)
        with self._lock:
            if self._last is not None:
                t0, p0 = self._last
                self._integrated_j += 0.5 * (p0 + power_w) * (t - t0)
            self._last = (t, power_w)

    def state(self):
        """Clocks (MHz), temperature (C) and throttle reasons (bitmask) now."""
        nv, h = self.nv, self.handle
        s = {}
        for key, fn in (
            ("sm_clock_mhz", lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
            ("mem_clock_mhz", lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)),
            ("temperature_c", lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
            ("throttle_reasons", lambda: self._reasons()),
        ):
            s[key] = safe(fn)
        return s

    def _reasons(self):
        nv, h = self.nv, self.handle
        fn = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nv, "nvmlDeviceGetCurrentClocksThrottleReasons")
        return fn(h)

    def info(self):
        nv, h = self.nv, self.handle

        def text(v):
            return v.decode() if isinstance(v, bytes) else v

        limits = safe(lambda: nv.nvmlDeviceGetPowerManagementLimitConstraints(h))
        return {
            "gpu": safe(lambda: text(nv.nvmlDeviceGetName(h))),
            "driver": safe(lambda: text(nv.nvmlSystemGetDriverVersion())),
            "nvml": safe(lambda: text(nv.nvmlSystemGetNVMLVersion())),
            "memory_total_bytes": safe(lambda: nv.nvmlDeviceGetMemoryInfo(h).total),
            "power_limit_w": safe(lambda: nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1e3),
            "power_limit_default_w": safe(lambda: nv.nvmlDeviceGetPowerManagementDefaultLimit(h) / 1e3),
            "power_limit_range_w": [limits[0] / 1e3, limits[1] / 1e3] if isinstance(limits, (list, tuple))
            else limits,
            "max_sm_clock_mhz": safe(lambda: nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM)),
            "max_mem_clock_mhz": safe(lambda: nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_MEM)),
            "applications_sm_clock_mhz": safe(lambda: nv.nvmlDeviceGetApplicationsClock(h, nv.NVML_CLOCK_SM)),
            "applications_mem_clock_mhz": safe(lambda: nv.nvmlDeviceGetApplicationsClock(h, nv.NVML_CLOCK_MEM)),
            "persistence_mode": safe(lambda: nv.nvmlDeviceGetPersistenceMode(h)),
            "performance_state": safe(lambda: nv.nvmlDeviceGetPerformanceState(h)),
            "energy_method": self.method,
        }


class FakeReader:
    """--dry-run: made-up energy of a made-up board, so that the profile's numbers look like a GPU's: idle power
    x time plus 2 pJ per MAC and 150 pJ per weight byte of the work done (the work objects count it)."""

    method = "fake (dry run: not a measurement)"
    e_mac_j, e_byte_j = 2e-12, 150e-12

    def __init__(self, idle_w=1e-3):
        self.idle_w = idle_w
        self.works = []
        self._t0 = time.perf_counter()

    def energy_j(self):
        work = sum(w.macs_done * self.e_mac_j + w.bytes_done * self.e_byte_j for w in self.works)
        return self.idle_w * (time.perf_counter() - self._t0) + work

    def power_w(self):
        return self.idle_w

    def on_sample(self, t, power_w):
        pass

    def state(self):
        return {"sm_clock_mhz": None, "mem_clock_mhz": None, "temperature_c": None, "throttle_reasons": None}

    def info(self):
        return {"gpu": "dry run (CPU, fake energy)", "driver": "none", "power_limit_w": None,
                "energy_method": self.method}


def safe(fn):
    try:
        return fn()
    except Exception as e:  # an NVML query this board or driver does not support
        return f"unavailable ({type(e).__name__})"


class Sampler:
    """Samples power, clocks, temperature and throttle reasons every `period_s` in a thread."""

    def __init__(self, reader, period_s):
        self.reader, self.period_s = reader, period_s
        self.samples = []  # (t, power_w, state)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            t = time.perf_counter()
            try:
                p = self.reader.power_w()
                self.reader.on_sample(t, p)
                self.samples.append((t, p, self.reader.state()))
            except Exception as e:  # keep sampling: one failed query must not end the measurement
                self.samples.append((t, None, {"error": repr(e)}))
            self._stop.wait(self.period_s)

    def summary(self, t0, t1):
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        powers = [s[1] for s in inside if isinstance(s[1], (int, float))]
        out = {"samples": len(inside)}
        if powers:
            out.update(power_mean_w=statistics.fmean(powers), power_min_w=min(powers), power_max_w=max(powers))
        for key in ("sm_clock_mhz", "mem_clock_mhz", "temperature_c"):
            vals = [s[2].get(key) for s in inside if isinstance(s[2].get(key), (int, float))]
            if vals:
                out[key] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}
        reasons = 0
        for s in inside:
            r = s[2].get("throttle_reasons")
            if isinstance(r, int):
                reasons |= r
        out["throttle_reasons_any"] = hex(reasons)
        return out


# -------------------------------------------------------------------------------------------- the work
class Block:
    """`copies` copies of one block's projection weights; call(i) runs the block on copy i % copies."""

    def __init__(self, torch, shapes, copies, dtype, device, seed):
        self.torch, self.shapes = torch, shapes
        gen = torch.Generator(device=device)
        gen.manual_seed(seed)
        self.copies = []
        for _ in range(copies):
            layers = []
            for _, n_in, n_out, bias in shapes:
                # Random weights of a trained layer's scale (never zeros: they run faster than real data).
                w = torch.randn(n_out, n_in, generator=gen, device=device, dtype=torch.float32).mul_(
                    1.0 / math.sqrt(n_in)).to(dtype)
                b = torch.randn(n_out, generator=gen, device=device, dtype=torch.float32).mul_(0.02).to(
                    dtype) if bias else None
                layers.append((w, b))
            self.copies.append(layers)
        self.inputs = {}
        self.tokens = 0
        self.macs_done = self.bytes_done = 0  # work issued (the dry run's fake energy counts it)

    def set_tokens(self, tokens, seed):
        torch = self.torch
        w0 = self.copies[0][0][0]
        gen = torch.Generator(device=w0.device)
        gen.manual_seed(seed)
        self.inputs = {}
        self.tokens = tokens
        for _, n_in, _, _ in self.shapes:
            if n_in not in self.inputs:
                self.inputs[n_in] = torch.randn(tokens, n_in, generator=gen, device=w0.device,
                                                dtype=torch.float32).to(w0.dtype)

    def call(self, i):
        f = self.torch.nn.functional.linear
        weights = weights_of(self.shapes)
        self.macs_done += self.tokens * weights
        self.bytes_done += weights * self.copies[0][0][0].element_size()
        out = None
        for (_, n_in, _, _), (w, b) in zip(self.shapes, self.copies[i % len(self.copies)]):
            out = f(self.inputs[n_in], w, b)
        return out

    def check(self):
        """bf16 projections against a float64 reference on the same inputs (METHOD: correct first)."""
        torch = self.torch
        worst = 0.0
        for (name, n_in, _, _), (w, b) in zip(self.shapes, self.copies[0]):
            x = self.inputs[n_in][:4]
            y = torch.nn.functional.linear(x, w, b).double()
            ref = x.double() @ w.double().t() + (b.double() if b is not None else 0.0)
            err = float((y - ref).norm() / ref.norm())
            if not math.isfinite(err) or err > 2e-2:
                raise RuntimeError(f"{name}: relative error {err} of the {w.dtype} projection vs float64")
            worst = max(worst, err)
        return worst


class Attention:
    """--attention: scaled-dot-product attention of `tokens` queries over a KV context (GQA)."""

    def __init__(self, torch, config, context, dtype, device, scale):
        self.torch = torch
        heads = int(config["num_attention_heads"])
        kv_heads = int(config.get("num_key_value_heads", heads))
        self.heads, self.kv_heads = heads, kv_heads
        self.head_dim = int(config.get("head_dim", int(config["hidden_size"]) // heads)) // scale
        self.context, self.dtype, self.device = context, dtype, device
        shape = (1, heads, context, self.head_dim)  # K/V already repeated to the query heads
        self.k = torch.randn(shape, device=device, dtype=torch.float32).to(dtype)
        self.v = torch.randn(shape, device=device, dtype=torch.float32).to(dtype)

    def set_tokens(self, tokens, seed):
        torch = self.torch
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        self.tokens = min(tokens, self.context)
        self.q = torch.randn((1, self.heads, self.tokens, self.head_dim), generator=gen, device=self.device,
                             dtype=torch.float32).to(self.dtype)

    macs_done = bytes_done = 0

    def call(self, i):
        self.macs_done += self.macs()
        # `tokens` queries attend to the whole context (no causal mask: the MACs are counted in full).
        f = getattr(self.torch.nn.functional, "scaled_dot_product_attention", None)
        if f is not None:
            return f(self.q, self.k, self.v)
        scores = (self.q @ self.k.transpose(-1, -2)) * (self.head_dim ** -0.5)  # torch < 2.0
        return scores.softmax(-1) @ self.v

    def macs(self):
        return 2 * self.heads * self.head_dim * self.context * self.tokens  # QK^T and AV (no causal saving)


def sync(torch, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_calls(work, n, first):
    for i in range(n):
        work.call(first + i)
    return first + n


def time_calls(torch, device, work, n, first):
    sync(torch, device)
    t0 = time.perf_counter()
    run_calls(work, n, first)
    sync(torch, device)
    return time.perf_counter() - t0


def measure_point(torch, args, device, reader, sampler, work, tokens, macs_per_call, bytes_per_call, idle_w,
                  log):
    """Warm-up, calibration and `repeats` timed windows at one tokens per call; returns the point summary."""
    if isinstance(reader, FakeReader) and work not in reader.works:
        reader.works.append(work)
    return timed_windows(torch, args, device, reader, sampler, work, tokens, macs_per_call, bytes_per_call, idle_w,
                         log)


def timed_windows(torch, args, device, reader, sampler, work, tokens, macs_per_call, bytes_per_call, idle_w,
                  log):
    # Calibrate: double the calls until one batch takes >= 0.2 s (also the start of the warm-up).
    n, i = 1, 0
    while True:
        dt = time_calls(torch, device, work, n, i)
        i += n
        if dt >= min(0.2, args.warmup_s) or n >= 1 << 24:
            break
        n *= 2
    per_call_s = dt / n
    warm_n = max(1, int(args.warmup_s / per_call_s))
    time_calls(torch, device, work, warm_n, i)
    i += warm_n
    n_calls = max(1, math.ceil(args.repeat_s / per_call_s))
    windows = []
    for r in range(args.repeats):
        sync(torch, device)
        t0 = time.perf_counter()
        e0 = reader.energy_j()
        i = run_calls(work, n_calls, i)
        sync(torch, device)
        e1 = reader.energy_j()
        t1 = time.perf_counter()
        dt, energy_j = t1 - t0, e1 - e0
        if not (energy_j > 0 and dt > 0):
            raise RuntimeError(f"tokens {tokens} window {r}: energy {energy_j} J over {dt} s")
        net_j = energy_j - idle_w * dt
        macs = n_calls * macs_per_call
        wbytes = n_calls * bytes_per_call
        window = {
            "record": "window", "tokens_per_call": tokens, "repeat": r, "calls": n_calls, "seconds": dt,
            "energy_j": energy_j, "energy_net_of_idle_j": net_j, "macs": macs, "weight_bytes": wbytes,
            "power_w": energy_j / dt, "tflops": 2 * macs / dt / 1e12, "weight_tb_per_s": wbytes / dt / 1e12,
            "e_mac_pj": energy_j / macs * 1e12, "e_weight_byte_pj": energy_j / wbytes * 1e12 if wbytes else None,
            "e_mac_net_pj": net_j / macs * 1e12, "sampled": sampler.summary(t0, t1),
        }
        log(window)
        windows.append(window)
    return windows


def summarize(windows, excludes_idle, idle_w):
    """nominal: the median window (by energy per MAC); low / high: the least and most of all windows."""
    key = "e_mac_net_pj" if excludes_idle else "e_mac_pj"
    ordered = sorted(windows, key=lambda w: w[key])
    median = ordered[(len(ordered) - 1) // 2]
    tokens = median["tokens_per_call"]

    def per_mac(w):
        return w[key]

    def per_byte(w):
        return per_mac(w) * w["macs"] / w["weight_bytes"]

    def rng(f):
        vals = [f(w) for w in windows]
        return {"low": sig(min(vals)), "nominal": sig(f(median)), "high": sig(max(vals))}

    power = median["power_w"] - (idle_w if excludes_idle else 0.0)
    return {
        "tokens_per_call": tokens,
        "e_mac_pj": rng(per_mac),
        "e_weight_byte_pj": rng(per_byte),
        "power_w": sig(power),
        "tflops": sig(median["tflops"]),
        "weight_tb_per_s": sig(median["weight_tb_per_s"]),
        "repeats": len(windows),
        "seconds": sig(sum(w["seconds"] for w in windows)),
    }


def sig(x, digits=4):
    """x rounded to `digits` significant digits (the profile's numbers; the raw log keeps full precision)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def measure_idle(reader, sampler, seconds, log, label):
    time.sleep(min(2.0, seconds / 4))  # let the board settle after the previous work
    t0 = time.perf_counter()
    e0 = reader.energy_j()
    time.sleep(seconds)
    e1 = reader.energy_j()
    t1 = time.perf_counter()
    rec = {"record": label, "seconds": t1 - t0, "energy_j": e1 - e0, "power_w": (e1 - e0) / (t1 - t0),
           "sampled": sampler.summary(t0, t1)}
    log(rec)
    return rec


def counter_period(reader, seconds=0.5):
    """How often the energy counter changes (its resolution in time), polled for `seconds`."""
    t_end = time.perf_counter() + seconds
    last, changes = reader.energy_j(), 0
    while time.perf_counter() < t_end:
        e = reader.energy_j()
        if e != last:
            changes, last = changes + 1, e
        time.sleep(0.001)
    return seconds / changes if changes else None


# ---------------------------------------------------------------------------------------------- profile
def profile_json(args, info, shapes, points, idle, idle_after, software, bits):
    gpu = info.get("gpu") or "unknown GPU"
    boundary = "net of idle" if args.excludes_idle else "whole board, idle included"
    log_ref = args.log_as or args.log or "(no log written)"
    source = (f"measured: {gpu}, driver {info.get('driver')}, {software}, NVML "
              f"{info.get('energy_method')}, {boundary}; {len(points)} points, each the median of its "
              f"windows, low/high = the spread across windows; scripts/measure_gpu_energy.py, raw log "
              f"{log_ref} [P]")
    if args.dry_run:
        source = "DRY RUN: fake energy reader on the CPU, not a measurement [U]"
    shape_list = [{"name": n, "in_features": i, "out_features": o, "bias": b} for n, i, o, b in shapes]
    measurement = {
        "source": source,
        "gpu": gpu,
        "driver": str(info.get("driver")),
        "software": software,
        "dtype": args.dtype,
        "date": args.date,
        "command": args.command,
        "model_config": args.config,
        "shapes": shape_list,
        "weight_copies": args.copies,
        "idle_power_w": sig(idle["power_w"]),
        "idle_power_after_w": sig(idle_after["power_w"]) if idle_after else None,
        "energy_counter": str(info.get("energy_method")),
        "log": log_ref,
    }
    if isinstance(info.get("power_limit_w"), (int, float)):
        measurement["power_limit_w"] = sig(info["power_limit_w"])
    clocks = {k: info[k] for k in ("max_sm_clock_mhz", "max_mem_clock_mhz", "applications_sm_clock_mhz",
                                   "applications_mem_clock_mhz") if isinstance(info.get(k), (int, float))}
    if clocks:
        measurement["clocks_mhz"] = clocks
    if measurement["idle_power_after_w"] is None:
        del measurement["idle_power_after_w"]
    tokens = [p["tokens_per_call"] for p in points]
    return {
        "name": args.name,
        "description": (f"{gpu} {args.dtype} dense projections of one {os.path.basename(args.config)} "
                        f"block, measured ({boundary}) at {tokens[0]}-{tokens[-1]} tokens per call; "
                        f"interpolated in log(tokens per call)") if points else "no points measured",
        "weight_bits": bits,
        "dense": {"excludes_idle": bool(args.excludes_idle), "measured": points, "measurement": measurement},
        "notes": ("Written by scripts/measure_gpu_energy.py. spikesim prices a run's dense MACs at the energy "
                  "per MAC interpolated between these points in log(tokens per call), clamped at the ends. "
                  "The figure is all-in (compute, weight streaming and, unless excludes_idle, idle power)."),
    }


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------- main
def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=os.path.relpath(os.path.join(here, "..", "data", "configs",
                                                                    "qwen2.5-7b.json")),
                   help="Hugging Face config.json with the block's shapes (default: %(default)s)")
    p.add_argument("--tokens", default=",".join(map(str, DEFAULT_TOKENS)),
                   help="tokens per call, comma-separated (default: 1,2,4,...,8192)")
    p.add_argument("--repeats", type=int, default=5, help="timed windows per point (>= 3; default 5)")
    p.add_argument("--repeat-s", type=float, default=2.4, help="seconds per window (default 2.4)")
    p.add_argument("--warmup-s", type=float, default=1.5, help="warm-up seconds per point (default 1.5)")
    p.add_argument("--idle-s", type=float, default=10.0, help="idle measurement before the points (s)")
    p.add_argument("--idle-after-s", type=float, default=5.0, help="idle measurement after them (s; 0: none)")
    p.add_argument("--copies", type=int, default=4, help="copies of the block's weights, used in turn")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--excludes-idle", action="store_true",
                   help="subtract the idle power from every window (default: whole-board energy)")
    p.add_argument("--attention", type=int, default=0, metavar="CONTEXT",
                   help="also measure attention over a KV context of CONTEXT positions (raw log only)")
    p.add_argument("--name", default=None, help="profile name (default: GPU-dtype-measured)")
    p.add_argument("--out", help="hardware profile JSON to write")
    p.add_argument("--log", help="raw log (JSON lines: every window, idle, clocks) to write")
    p.add_argument("--log-as", help="path of the raw log to record in the profile (default: --log)")
    p.add_argument("--sample-s", type=float, default=0.05, help="power/clock sampling period (s)")
    p.add_argument("--deadline-s", type=float, default=0,
                   help="stop starting new points after this many seconds (0: no deadline)")
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, shapes / --scale, fake energy: tests the script, measures nothing")
    p.add_argument("--scale", type=int, default=None, help="divide the shapes (default 1; dry run 32)")
    args = p.parse_args(argv)
    args.tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    if not args.tokens or any(t < 1 for t in args.tokens) or args.tokens != sorted(set(args.tokens)):
        p.error("--tokens: ascending distinct positive integers")
    if args.repeats < 3:
        p.error("--repeats: at least 3 (low/high are the spread across repeats)")
    if args.copies < 1:
        p.error("--copies: at least 1")
    if args.scale is None:
        args.scale = 32 if args.dry_run else 1
    if args.dry_run:
        args.device = "cpu"
    args.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    args.command = " ".join(["scripts/measure_gpu_energy.py"] + list(argv))
    return args


def main(argv):
    args = parse_args(argv)
    start = time.perf_counter()
    import torch

    log_file = open(args.log, "w") if args.log else None

    def log(rec):
        rec = dict(rec, t_s=round(time.perf_counter() - start, 3))
        if log_file:
            log_file.write(json.dumps(rec) + "\n")
            log_file.flush()

    with open(args.config) as f:
        config = json.load(f)
    shapes = block_shapes(config, args.scale)
    dtype = getattr(torch, args.dtype)
    bits = {"bfloat16": 16, "float16": 16, "float32": 32}[args.dtype]
    weights = weights_of(shapes)
    device = args.device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("measure_gpu_energy: no CUDA device (use --dry-run to test the script on a CPU)")
        torch.cuda.set_device(device)
        torch.zeros(1, device=device)  # create the context before the idle measurement
        index = torch.cuda.current_device()
        reader = NvmlReader(index)
        props = torch.cuda.get_device_properties(index)
        l2 = getattr(props, "L2_cache_size", None)
        info_props = str(props)
    else:
        info_props = "cpu"
        reader = FakeReader()
        l2 = None
    info = reader.info()
    software = (f"torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if torch.version.cuda else "")
                + f", Python {platform.python_version()}")
    if args.name is None:
        gpu = str(info.get("gpu", "gpu")).lower().replace("nvidia", "").strip().split()[0] if not args.dry_run \
            else "dry-run"
        args.name = f"{gpu}-{'bf16' if args.dtype == 'bfloat16' else args.dtype}-measured"
    block_bytes = weights * bits // 8
    log({"record": "start", "command": args.command, "argv": sys.argv, "date": args.date, "info": info,
         "software": software, "shapes": shapes, "weights_per_block": weights, "block_bytes": block_bytes,
         "copies": args.copies, "l2_bytes": l2, "state": reader.state(), "dtype": args.dtype,
         "scale": args.scale, "device_properties": info_props})
    print(f"{info.get('gpu')} | driver {info.get('driver')} | {software} | energy: {info.get('energy_method')}")
    print(f"power limit {info.get('power_limit_w')} W (default {info.get('power_limit_default_w')}), "
          f"max clocks SM {info.get('max_sm_clock_mhz')} / mem {info.get('max_mem_clock_mhz')} MHz, "
          f"L2 {l2} B; state now {reader.state()}")
    print(f"block: {len(shapes)} projections, {weights} weights = {block_bytes / 1e6:.1f} MB x {args.copies} "
          f"copies ({args.dtype}); tokens per call {args.tokens}")
    if l2 and block_bytes * args.copies < 4 * l2:
        print(f"warning: weights ({block_bytes * args.copies} B) < 4 x L2 ({l2} B): decode may hit L2")

    with Sampler(reader, args.sample_s) as sampler:
        period = counter_period(reader)
        log({"record": "energy_counter", "update_period_s": period})
        print(f"energy counter updates every {period} s" if period else "energy counter did not change in 0.5 s")
        idle = measure_idle(reader, sampler, args.idle_s, log, "idle_before")
        idle_w = idle["power_w"]
        print(f"idle: {idle_w:.1f} W over {idle['seconds']:.1f} s (sampled mean "
              f"{idle['sampled'].get('power_mean_w')})")
        block = Block(torch, shapes, args.copies, dtype, device, args.seed)
        attention = Attention(torch, config, args.attention, dtype, device, args.scale) if args.attention else None
        points = []
        print(f"{'tokens':>6} {'calls':>7} {'s':>5} {'TFLOP/s':>8} {'TB/s w':>7} {'W':>6} "
              f"{'pJ/MAC [low-high]':>24} {'pJ/wbyte':>9} {'SM MHz':>7} {'thr':>6}")
        for n, tokens in enumerate(args.tokens):
            if args.deadline_s and time.perf_counter() - start > args.deadline_s:
                print(f"deadline: {args.deadline_s} s passed, skipping tokens per call {args.tokens[n:]}")
                log({"record": "deadline", "skipped": args.tokens[n:]})
                break
            try:
                block.set_tokens(tokens, args.seed + tokens)
                if n == 0:
                    err = block.check()
                    log({"record": "check", "max_rel_error_vs_float64": err})
                    print(f"check: {args.dtype} projections vs float64, worst relative error {err:.2e}")
                windows = measure_point(torch, args, device, reader, sampler, block, tokens, tokens * weights,
                                        block_bytes, idle_w, log)
            except Exception as e:  # e.g. out of memory: keep the points measured so far
                log({"record": "error", "tokens_per_call": tokens, "error": repr(e)})
                print(f"{tokens:>6} failed: {e!r}")
                continue
            point = summarize(windows, args.excludes_idle, idle_w)
            log(dict(point, record="point"))
            points.append(point)
            med = sorted(windows, key=lambda w: w["e_mac_pj"])[(len(windows) - 1) // 2]
            e = point["e_mac_pj"]
            clock = med["sampled"].get("sm_clock_mhz", {}).get("median") if isinstance(
                med["sampled"].get("sm_clock_mhz"), dict) else None
            print(f"{tokens:>6} {med['calls']:>7} {point['seconds']:>5.1f} {point['tflops']:>8.1f} "
                  f"{point['weight_tb_per_s']:>7.3f} {med['power_w']:>6.1f} "
                  f"{e['nominal']:>9.4g} [{e['low']:.4g}-{e['high']:.4g}] "
                  f"{point['e_weight_byte_pj']['nominal']:>9.4g} {str(clock):>7} "
                  f"{med['sampled'].get('throttle_reasons_any')}")
            if attention:
                try:
                    attention.set_tokens(tokens, args.seed + tokens)
                    aw = measure_point(torch, args, device, reader, sampler, attention, tokens, attention.macs(),
                                       0, idle_w, log)
                    log({"record": "attention_point", "tokens_per_call": tokens, "context": args.attention,
                         "e_mac_pj": statistics.median(w["e_mac_pj"] for w in aw)})
                except Exception as e:
                    log({"record": "error", "attention_tokens": tokens, "error": repr(e)})
            if args.out:
                write_json(args.out, profile_json(args, info, shapes, points, idle, None, software, bits))
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        del block
        idle_after = None
        if args.idle_after_s > 0:
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
            idle_after = measure_idle(reader, sampler, args.idle_after_s, log, "idle_after")
            print(f"idle after: {idle_after['power_w']:.1f} W over {idle_after['seconds']:.1f} s")
    if args.out:
        write_json(args.out, profile_json(args, info, shapes, points, idle, idle_after, software, bits))
        print(f"profile: {args.out} ({len(points)} points)")
    log({"record": "end", "points": len(points), "state": reader.state(), "info_after": reader.info()})
    if log_file:
        log_file.close()
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0 if points else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
