"""Shared by the Python tests: the built package on sys.path, the spikesim binary, report comparison."""
import json
import os
import subprocess
import sys

BINARY = os.environ.get("SPIKESIM_BINARY", "")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.environ.get("SPIKESIM_PYTHONPATH"):
    sys.path.insert(0, os.environ["SPIKESIM_PYTHONPATH"])

# Fields of a report layer that are floating-point sums (compared to a relative tolerance: the probe's
# inputs come from PyTorch's float32 arithmetic, the CLI's from its own kernels); all others must be equal.
FLOAT_FIELDS = {"reconstruction_rel_error", "output_rel_error"}
IGNORED = {"energy_pj", "mapping", "index"}


def spikesim(*args):
    """Runs the binary; returns stdout, raises with its stderr on failure."""
    r = subprocess.run([BINARY, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"spikesim {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def load_report(directory):
    with open(os.path.join(directory, "report.json"), encoding="utf-8") as f:
        return json.load(f)


def layer_differences(a, b, rel=1e-4):
    """Differences between two report.json layer entries (a list of strings, empty when they agree)."""
    out = []
    for key in sorted(set(a) | set(b)):
        if key in IGNORED:
            continue
        if key not in a or key not in b:
            out.append(f"{key}: only in {'first' if key in a else 'second'}")
            continue
        x, y = a[key], b[key]
        if key in FLOAT_FIELDS:
            if abs(x - y) > rel * max(abs(x), abs(y), 1e-12):
                out.append(f"{key}: {x} vs {y}")
        elif x != y:
            out.append(f"{key}: {x!r} vs {y!r}")
    return out


def require_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("SKIPPED: python3-torch not installed")
        sys.exit(77)
