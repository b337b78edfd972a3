#!/usr/bin/python3
"""Compares a result file with its golden: JSON structurally, CSV cell by cell, anything else byte for byte.
Integers and strings must be equal; floats within a relative 1e-6 (float32 arithmetic whose FMA contraction
and inlining differ between builds, e.g. -fPIC for the Python package, moves the last bits of error ratios and
energies; counts never move). Prints the first differences; exit status 1 when any.

    /usr/bin/python3 scripts/golden_diff.py GOLDEN RESULT
"""
import csv
import io
import json
import math
import sys

REL = 1e-6


def close(a, b):
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= REL * max(abs(a), abs(b)) + 1e-12)


def diff_json(a, b, path, out):
    if isinstance(a, bool) or isinstance(b, bool):
        if a is not b:
            out.append(f"{path}: {a!r} vs {b!r}")
    elif isinstance(a, int) and isinstance(b, int):
        if a != b:
            out.append(f"{path}: {a} vs {b}")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if not close(float(a), float(b)):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            out.append(f"{path}: keys {sorted(set(a) ^ set(b))} differ (or their order)")
        for k in a:
            if k in b:
                diff_json(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} elements")
        for i, (x, y) in enumerate(zip(a, b)):
            diff_json(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def number(s):
    try:
        return float(s)
    except ValueError:
        return None


def diff_csv(a, b, out):
    ra, rb = list(csv.reader(io.StringIO(a))), list(csv.reader(io.StringIO(b)))
    if len(ra) != len(rb):
        out.append(f"{len(ra)} vs {len(rb)} rows")
    for i, (x, y) in enumerate(zip(ra, rb)):
        if len(x) != len(y):
            out.append(f"row {i + 1}: {len(x)} vs {len(y)} cells")
            continue
        for j, (u, v) in enumerate(zip(x, y)):
            if u == v:
                continue
            nu, nv = number(u), number(v)
            integer = u.lstrip("-").isdigit() and v.lstrip("-").isdigit()
            if nu is None or nv is None or integer or not close(nu, nv):
                out.append(f"row {i + 1} column {j + 1}: {u!r} vs {v!r}")


def main():
    golden, result = sys.argv[1], sys.argv[2]
    a = open(golden, encoding="utf-8").read()
    b = open(result, encoding="utf-8").read()
    out = []
    if golden.endswith(".json"):
        diff_json(json.loads(a), json.loads(b), "$", out)
    elif golden.endswith(".csv"):
        diff_csv(a, b, out)
    elif a != b:
        out.append("contents differ")
    for line in out[:20]:
        print(f"{result}: {line}", file=sys.stderr)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
