#!/usr/bin/python3
"""Draw the figures of a spikesim report directory (report.json) into PNG files beside it.

    /usr/bin/python3 scripts/plot_report.py out/demo

Figures: per-layer zero fraction, the count histogram (SpikingBrain Fig. 9 style), and energy per term
(stacked, nominal) with the low-high range of the total, spiking vs dense, for every hardware profile.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TERMS = ["compute", "weight_memory", "state_memory", "routing", "static"]


def plot_sparsity(report, out_dir):
    layers = [l for l in report["layers"] if l.get("coded", True)]  # dense ops have no spike counts
    names = [l["name"] for l in layers]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names)), 3.5))
    ax.bar(range(len(names)), [l["zero_fraction"] for l in layers], color="#4477aa")
    ax.axhline(report["totals"]["zero_fraction"], color="k", ls="--", lw=1, label="all layers")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("zero fraction of spike counts")
    ax.set_ylim(0, 1)
    ax.set_title(f"{report['run'].get('coding')} coding, k = {report['run'].get('k')}")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "zero_fraction.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_histogram(report, out_dir):
    shares = report["totals"]["count_histogram"]
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    bars = ax.bar(["0", "1", "2", "≥3"], [100 * s for s in shares], color="#66ccee")
    for b, s in zip(bars, shares):
        ax.text(b.get_x() + b.get_width() / 2, 100 * s + 1, f"{100 * s:.2f}%", ha="center", fontsize=8)
    ax.set_xlabel("|spike count|")
    ax.set_ylabel("share of counts (%)")
    ax.set_ylim(0, 100)
    fig.tight_layout()
    path = os.path.join(out_dir, "count_histogram.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_energy(report, out_dir):
    entries = []
    for profile, sides in report["totals"]["energy_pj"].items():
        for side in ("spiking", "dense"):
            if side in sides:
                entries.append((f"{profile}\n{side}", sides[side]))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(entries)), 4))
    bottom = [0.0] * len(entries)
    colors = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#aa3377"]
    for term, color in zip(TERMS, colors):
        vals = [e[1][term]["nominal"] * 1e-6 for e in entries]
        ax.bar(range(len(entries)), vals, bottom=bottom, color=color, label=term)
        bottom = [b + v for b, v in zip(bottom, vals)]
    # max(0, ...): the stacked nominal terms and the reported total differ by float rounding.
    lo = [max(0.0, t - e[1]["total"]["low"] * 1e-6) for t, e in zip(bottom, entries)]
    hi = [max(0.0, e[1]["total"]["high"] * 1e-6 - t) for t, e in zip(bottom, entries)]
    ax.errorbar(range(len(entries)), bottom, yerr=[lo, hi], fmt="none", ecolor="k", capsize=3, lw=1)
    ax.set_xticks(range(len(entries)), [e[0] for e in entries], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("energy (µJ), nominal; bars: low-high")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out_dir, "energy.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_report.py REPORT_DIR")
    out_dir = sys.argv[1]
    with open(os.path.join(out_dir, "report.json")) as f:
        report = json.load(f)
    for path in (plot_sparsity(report, out_dir), plot_histogram(report, out_dir), plot_energy(report, out_dir)):
        print(path)


if __name__ == "__main__":
    main()
