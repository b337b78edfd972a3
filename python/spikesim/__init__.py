"""spikesim from Python: the spike coder, the energy model and the command line, thin over the C++ core.

    import numpy as np, spikesim
    c = spikesim.code(np.random.default_rng(0).standard_normal((4, 64), dtype=np.float32), coding="ternary")
    print(c.T, c.zero_fraction, c.counts.shape)
    e = spikesim.estimate(c.counters, spikesim.Profile.load("loihi"))
    print(e["spiking"]["total"]["nominal"], "pJ")

`spikesim.torch.probe(model)` counts any PyTorch model's linear / conv layers live (spikesim/torch.py).
Errors of the C++ core raise `spikesim.Error` (a ValueError) carrying its message.
"""
import json
import os
import tempfile

# An installed package (pip install .) carries the hardware profiles; a build tree's finds the source tree's.
_packaged_data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
if os.path.isdir(os.path.join(_packaged_data, "hardware")):
    os.environ.setdefault("SPIKESIM_DATA_DIR", _packaged_data)

from . import _spikesim  # noqa: E402
from ._spikesim import BreakEven, Error, InternalError, Profile, Range

__all__ = ["code", "Coded", "Profile", "estimate", "break_even", "run", "account", "cli", "Error",
           "InternalError", "Range", "BreakEven", "counter_fields", "data_dir"]


def counter_fields():
    """Names of every activity counter (base/counters.hpp), in the C++ core's order."""
    return list(_spikesim.counter_fields())


def data_dir():
    """The data/ directory the hardware profiles are read from ($SPIKESIM_DATA_DIR, else the source tree's)."""
    return _spikesim.data_dir()


class Coded:
    """What spikesim.code() returns: integer counts, thresholds, T, the spikes and every counter."""

    def __init__(self, result):
        self._r = result
        self._metrics = result.metrics

    counts = property(lambda self: self._r.counts, doc="int32 [rows][cols] neuron counts s = round(x / V_th)")
    values = property(lambda self: self._r.values, doc="int32 [rows][cols] values the spikes carry (s + zero point)")
    v_th = property(lambda self: self._r.v_th, doc="float32 [rows] threshold V_th of each row")
    zero_point = property(lambda self: self._r.zero_point, doc="int32 [rows] shift of binary / bitwise-unsigned")
    T = property(lambda self: self._r.T, doc="virtual time steps")
    coding = property(lambda self: self._r.coding, doc="coding scheme")
    reconstruction = property(lambda self: self._r.reconstruction, doc="float32 [rows][cols] x̂ = s · V_th")
    counters = property(lambda self: self._r.counters, doc="every counter of the coded tensor (dict)")
    metrics = property(lambda self: dict(self._metrics), doc="DESIGN §3 metrics, as in report.json")
    spikes = property(lambda self: self._metrics["spikes"], doc="events emitted (sum of |spike| over steps)")
    zero_fraction = property(lambda self: self._metrics["zero_fraction"], doc="share of counts equal to 0")
    count_histogram = property(lambda self: list(self._metrics["count_histogram"]),
                               doc="shares of counts with |s| = 0, 1, 2, >= 3")
    firing_rate = property(lambda self: self._metrics["firing_rate"], doc="spikes / (elements x T)")
    spikes_per_element = property(lambda self: self._metrics["spikes_per_element"], doc="spikes / elements")

    def spike_train(self):
        """int8 [T][rows][cols]: the spike (+1, -1 or 0) of every neuron at every step, MSB first for bitwise."""
        return self._r.spike_train()

    def __repr__(self):
        rows, cols = self.counts.shape
        return (f"<spikesim.Coded {self.coding} {rows}x{cols} T={self.T} zero_fraction={self.zero_fraction:.4f} "
                f"spikes={self.spikes}>")


def code(x, coding="bitwise", k=3.0, granularity="row", T=None, neuron="adaptive", saturate=False, v_th=None):
    """Spike-codes a 2-D float32 array x [rows][features] (DESIGN §2) through the C++ coder.

    coding: binary | ternary | bitwise | bitwise-unsigned | bitwise-twos; k: V_th = mean|x| / k;
    granularity: "row" (one threshold per row) or "tensor"; T: fixed number of steps (None: fewest that fit);
    neuron: adaptive | lif | ilif; v_th: a fixed threshold instead of the adaptive one. A C-contiguous float32
    array is read in place (other arrays are converted first).
    """
    import numpy as np
    if not isinstance(x, np.ndarray):
        raise TypeError(f"spikesim.code: x must be a numpy array, got {type(x).__name__}")
    return Coded(_spikesim.code(x, coding, float(k), granularity, T, neuron, bool(saturate), v_th))


def _counters_of(counters):
    if isinstance(counters, Coded):
        return counters.counters
    if hasattr(counters, "counters") and not isinstance(counters, dict):
        counters = counters.counters
    if not isinstance(counters, dict):
        raise TypeError(f"expected a counters dict (or spikesim.code's result), got {type(counters).__name__}")
    return counters


def _profile_of(profile):
    return profile if isinstance(profile, Profile) else Profile.load(str(profile))


def estimate(counters, profile):
    """Energy of counters on a hardware profile: {"spiking": {term: {low, nominal, high}, ..., "total": ...,
    "uncharged": [...]}, "dense": {...}} in pJ, as report.json's energy of one layer (no core mapping).
    counters: a dict (spikesim.counter_fields() names; missing fields are 0) or a spikesim.code result;
    profile: a Profile or a name / file for Profile.load."""
    return _spikesim.estimate(_counters_of(counters), _profile_of(profile))


def _range(r, what):
    if isinstance(r, Range):
        return r
    if isinstance(r, dict):
        return Range(float(r["low"]), float(r["nominal"]), float(r["high"]))
    try:
        low, nominal, high = r
    except (TypeError, ValueError):
        raise TypeError(f"break_even: {what} must be (low, nominal, high) or a dict with those keys") from None
    return Range(float(low), float(nominal), float(high))


def break_even(counters=None, spiking=None, dense=None, *, s_measured=None, spiking_pj=None,
               spiking_fixed_pj=None, dense_pj=None):
    """Break-even spikes per synapse between a spiking and a dense estimate (energy/break_even.hpp).

    break_even(counters, spiking_profile, dense_profile): from counters (the spiking profile's spiking side
    against the dense profile's dense side; the same profile may be both);
    break_even(s_measured=, spiking_pj=, spiking_fixed_pj=, dense_pj=): from energies, each (low, nominal,
    high). Returns a dict: s_measured, s_star {low, nominal, high} (None where undefined), the energies and
    spiking_cheaper."""
    if counters is not None:
        if spiking is None:
            raise TypeError("break_even(counters, spiking, dense): the spiking profile is missing")
        sp = _profile_of(spiking)
        b = _spikesim.break_even_counters(_counters_of(counters), sp, _profile_of(dense) if dense is not None else sp)
    else:
        if None in (s_measured, spiking_pj, spiking_fixed_pj, dense_pj):
            raise TypeError("break_even: give counters and profiles, or s_measured, spiking_pj, spiking_fixed_pj "
                            "and dense_pj")
        b = _spikesim.break_even(float(s_measured), _range(spiking_pj, "spiking_pj"),
                                 _range(spiking_fixed_pj, "spiking_fixed_pj"), _range(dense_pj, "dense_pj"))

    def rng(r):
        return {"low": r.low, "nominal": r.nominal, "high": r.high}
    return {"s_measured": b.s_measured, "s_star": {"low": b.s_low, "nominal": b.s_nominal, "high": b.s_high},
            "spiking_pj": rng(b.spiking_pj), "spiking_fixed_pj": rng(b.spiking_fixed_pj), "dense_pj": rng(b.dense_pj),
            "spiking_cheaper": b.spiking_cheaper}


def _option_args(options):
    """Keyword arguments as CLI options: max_tokens=8 -> --max-tokens 8, T=4 -> --T 4, True -> a flag,
    False / None -> left out, a list -> the option repeated."""
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [flag, _option_value(v)]
        else:
            args += [flag, _option_value(value)]
    return args


def _option_value(v):
    return repr(v) if isinstance(v, float) else os.fspath(v) if isinstance(v, os.PathLike) else str(v)


def cli(*args):
    """Runs `spikesim ARGS...` in-process (the same parser and code as the binary); raises spikesim.Error."""
    _spikesim.cli([os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args])


def _run_command(command, model_option, model, out, options):
    options = dict(options)
    threads = options.pop("threads", None)  # an option of the program, before the command
    before = [] if threads is None else ["--threads", str(int(threads))]

    def go(directory):
        cli(*before, command, model_option, model, "--out", directory, "-q", *_option_args(options))
        with open(os.path.join(directory, "report.json"), encoding="utf-8") as f:
            return json.load(f)
    if out is not None:
        return go(os.fspath(out))
    with tempfile.TemporaryDirectory(prefix=f"spikesim-{command}-") as tmp:
        return go(os.path.join(tmp, "out"))


def run(model, out=None, **options):
    """`spikesim run --model MODEL --out OUT [options]`, returning report.json as a dict.

    Every option of `spikesim run --help` is a keyword: coding="bitwise", k=3, hardware=["loihi", "h100"],
    sites="qkv,o", prompt="Once", tokens="ids.txt", max_tokens=16, images=..., no_raster=True, ...
    out=None writes into a temporary directory that is removed afterwards. threads=N is the program's
    --threads: it sets OpenMP's thread count for the rest of the process (results do not depend on it)."""
    return _run_command("run", "--model", model, out, options)


def account(config, out=None, **options):
    """`spikesim account --config CONFIG --out OUT [options]` (7B-scale accounting from a config.json),
    returning report.json as a dict: tokens=4096, chunk=256, coding=..., sites=..., hardware=[...], ..."""
    return _run_command("account", "--config", config, out, options)
