#!/usr/bin/python3
"""Figures and one static HTML page from spikesim output. `spikesim report DIR` runs this script.

    /usr/bin/python3 scripts/spikesim_report.py DIR [--compare CDIR] [--out FILE.html] [--quiet]

DIR is a `spikesim run --out DIR` directory (report.json, layers.csv, raster.json) and/or a
`spikesim compare --out DIR` directory (compare.json, cells/). Writes DIR/figures/*.png and DIR/report.html
(or --out): every figure is embedded as a data URI, so the page is one self-contained file with no network
resources. Each figure function returns a matplotlib Figure, so notebooks/ can draw the same figures.

Figures: per-layer zero fraction; spike-count histogram (SpikingBrain Fig. 9 style); energy per term as
stacked bars with low-high ranges; spike raster of one token at one site; break-even spikes per synapse;
fidelity vs energy across a compare sweep; break-even across the sweep.
"""
import argparse
import base64
import html
import io
import json
import math
import os
import sys

import matplotlib
import matplotlib.pyplot as plt

TERMS = ["compute", "weight_memory", "state_memory", "routing", "static"]
TERM_COLORS = {"compute": "#4477aa", "weight_memory": "#ee6677", "state_memory": "#228833",
               "routing": "#ccbb44", "static": "#aa3377"}
COUNT_LABELS = ["0", "1", "2", "≥3"]
COUNT_COLORS = ["#bbbbbb", "#66ccee", "#4477aa", "#222255"]
# SpikingBrain-7B, k = 3 (arXiv 2509.05276, Fig. 9): shares of counts 0 / 1 / 2 / >=3, drawn for reference.
SPIKINGBRAIN_FIG9 = [0.6915, 0.1930, 0.0969, 0.0185]


# --------------------------------------------------------------------------------------------- loading
def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def load_run(directory):
    """report.json (required) and raster.json (optional) of a run directory."""
    report = load_json(os.path.join(directory, "report.json"))
    if report.get("spikesim_report") is None or "layers" not in report:
        raise ValueError(f"{directory}/report.json: not a spikesim report")
    raster_path = os.path.join(directory, "raster.json")
    raster = load_json(raster_path) if os.path.exists(raster_path) else None
    return report, raster


def load_compare(directory):
    data = load_json(os.path.join(directory, "compare.json"))
    if data.get("spikesim_compare") is None:
        raise ValueError(f"{directory}/compare.json: not a spikesim compare summary")
    return data


def title_of(report):
    run = report.get("run", {})
    src = os.path.basename(str(run.get("source", "")))
    return f"{src}: {run.get('coding', '?')} coding, k = {run.get('k', '?')}"


def _short(v, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if math.isinf(v) or math.isnan(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v)


def range_text(r, scale=1.0):
    if r is None or r.get("nominal") is None:
        return "n/a"
    n = r["nominal"] * scale
    lo = r["low"] * scale if r.get("low") is not None else n
    hi = r["high"] * scale if r.get("high") is not None else n
    if lo == n and hi == n:
        return _short(n)
    return f"{_short(n)} [{_short(lo)}–{_short(hi)}]"


# --------------------------------------------------------------------------------------------- figures
def fig_zero_fraction(report):
    layers = [l for l in report["layers"] if l.get("coded", True)]  # ops left dense have no spike counts
    names = [l["name"] for l in layers]
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 0.35 * len(names) + 2)), 3.6))
    ax.bar(range(len(names)), [l["zero_fraction"] for l in layers], color="#4477aa")
    ax.axhline(report["totals"]["zero_fraction"], color="k", ls="--", lw=1,
               label=f"all layers: {report['totals']['zero_fraction']:.3f}")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("zero fraction of spike counts")
    ax.set_ylim(0, 1)
    ax.set_title(title_of(report), fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def fig_count_histogram(report):
    """SpikingBrain Fig. 9 style: share of integer spike counts 0 / 1 / 2 / >=3, all layers and per layer."""
    shares = report["totals"]["count_histogram"]
    layers = [l for l in report["layers"] if l.get("coded", True)]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.6]})
    x = range(4)
    bars = ax.bar([i - 0.2 for i in x], [100 * s for s in shares], width=0.4, color=COUNT_COLORS,
                  edgecolor="k", lw=0.5, label="this run")
    ax.bar([i + 0.2 for i in x], [100 * s for s in SPIKINGBRAIN_FIG9], width=0.4, color="none",
           edgecolor="#aa3377", hatch="//", lw=0.8, label="SpikingBrain-7B, k=3 (Fig. 9)")
    for b, s in zip(bars, shares):
        ax.text(b.get_x() + b.get_width() / 2, 100 * s + 1.5, f"{100 * s:.2f}%", ha="center", fontsize=7)
    ax.set_xticks(list(x), COUNT_LABELS)
    ax.set_xlabel("|spike count| per neuron and token")
    ax.set_ylabel("share of counts (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    ax.set_title("all layers", fontsize=9)
    bottom = [0.0] * len(layers)
    for i, (label, color) in enumerate(zip(COUNT_LABELS, COUNT_COLORS)):
        vals = [100 * l["count_histogram"][i] for l in layers]
        ax2.bar(range(len(layers)), vals, bottom=bottom, color=color, label=label, edgecolor="k", lw=0.3)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax2.set_xticks(range(len(layers)), [l["name"] for l in layers], rotation=60, ha="right", fontsize=7)
    ax2.set_ylabel("share of counts (%)")
    ax2.set_ylim(0, 100)
    ax2.legend(title="|count|", fontsize=7, title_fontsize=7, loc="lower right")
    ax2.set_title("per layer", fontsize=9)
    fig.suptitle(title_of(report), fontsize=9)
    fig.tight_layout()
    return fig


def _energy_entries(energy_pj):
    entries = []
    for profile, sides in energy_pj.items():
        for side in ("spiking", "dense"):
            if side in sides:
                entries.append((profile, side, sides[side]))
    return entries


def fig_energy_terms(report):
    """Energy per term, stacked (nominal), with the low-high range of the total; one panel per profile."""
    by_profile = {}
    for profile, side, b in _energy_entries(report["totals"]["energy_pj"]):
        by_profile.setdefault(profile, []).append((side, b))
    n = len(by_profile)
    cols = min(4, max(1, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows + 0.6), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (profile, sides) in zip(axes.flat, by_profile.items()):
        bottom = [0.0] * len(sides)
        for term in TERMS:
            vals = [b[term]["nominal"] * 1e-6 for _, b in sides]
            ax.bar(range(len(sides)), vals, bottom=bottom, color=TERM_COLORS[term], label=term, width=0.6)
            bottom = [x + v for x, v in zip(bottom, vals)]
        lo = [max(0.0, t - b["total"]["low"] * 1e-6) for t, (_, b) in zip(bottom, sides)]
        hi = [max(0.0, b["total"]["high"] * 1e-6 - t) for t, (_, b) in zip(bottom, sides)]
        ax.errorbar(range(len(sides)), bottom, yerr=[lo, hi], fmt="none", ecolor="k", capsize=4, lw=1)
        labels = []
        for side, b in sides:
            label = side
            if b.get("uncharged"):
                label += "*"
            labels.append(label)
        ax.set_xticks(range(len(sides)), labels, fontsize=8)
        ax.set_title(profile, fontsize=8)
        ax.set_ylabel("µJ", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlim(-0.7, len(sides) - 0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=5, fontsize=8, frameon=False)
    fig.text(0.5, 0.005, "bars: nominal per term; whiskers: low-high of the total; * some counters uncharged "
             "(see the energy table)", ha="center", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    return fig


def fig_raster(raster):
    """Spike raster of one token at one site: every event (step, presynaptic neuron), coloured by sign."""
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    neurons, steps, signs = raster["neuron"], raster["step"], raster["sign"]
    pos = [(n, s) for n, s, g in zip(neurons, steps, signs) if g > 0]
    neg = [(n, s) for n, s, g in zip(neurons, steps, signs) if g < 0]
    size = 4 if raster["events"] < 4000 else 1
    if pos:
        ax.scatter([p[0] for p in pos], [p[1] for p in pos], s=size, marker="s", color="#4477aa", label="+1")
    if neg:
        ax.scatter([p[0] for p in neg], [p[1] for p in neg], s=size, marker="s", color="#ee6677", label="−1")
    ax.set_ylabel("virtual step t")
    ax.set_ylim(-0.5, max(1, raster["T"]) - 0.5)
    ax.invert_yaxis()
    weight = "step weight 2^(T-1-t)" if raster["scheme"].startswith("bitwise") else "each spike worth V_th"
    ax.set_title(f"site {raster['site']}, token {raster['token']}: {raster['scheme']} coding, T = {raster['T']}, "
                 f"{raster['events']} events, V_th = {raster['v_th']:.4g} ({weight})", fontsize=8)
    if pos or neg:
        ax.legend(fontsize=7, loc="upper right", markerscale=3)
    ax2.bar(range(raster["neurons"]), raster["count"], width=1.0, color="#222255")
    ax2.set_ylabel("count", fontsize=8)
    ax2.set_xlabel("presynaptic neuron")
    ax2.set_xlim(-0.5, raster["neurons"] - 0.5)
    fig.tight_layout()
    return fig


def _pairs(report):
    return [p for p in report.get("break_even", {}).get("pairs", []) if "total" in p]


def fig_break_even(report):
    """Left: break-even s* for every (spiking, dense) pair, per layer and in total, as a table coloured by
    log10(s* / measured s) (green: spiking cheaper, red: dense cheaper). Right: the whole run's spiking energy
    as a function of s, E(s) = F + (E - F) s / s_measured, against each dense estimate; dots mark s*."""
    pairs = _pairs(report)
    n = max(1, len(pairs))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 1.6 + 0.32 * n), gridspec_kw={"width_ratios": [1.25, 1]})
    if not pairs:
        for a in (ax, ax2):
            a.text(0.5, 0.5, "no (spiking, dense) profile pair in this report", ha="center", va="center")
            a.axis("off")
        return fig
    layer_names = [l["name"] for l in pairs[0]["layers"]] + ["total"]
    grid, text = [], []
    for p in pairs:
        row, trow = [], []
        for l in p["layers"] + [p["total"]]:
            s_star, s_m = l["s_star"]["nominal"], l["s_measured"]
            if s_star is None or not s_m:
                row.append(float("nan"))
                trow.append("n/a")
            else:
                row.append(max(-2.0, min(2.0, math.log10(max(s_star, 1e-12) / s_m))))
                trow.append("0" if s_star == 0 else f"{s_star:.2g}")
        grid.append(row)
        text.append(trow)
    im = ax.imshow(grid, cmap="RdYlGn", vmin=-2, vmax=2, aspect="auto")
    for i, trow in enumerate(text):
        for j, t in enumerate(trow):
            ax.text(j, i, t, ha="center", va="center", fontsize=6.5)
    ax.set_xticks(range(len(layer_names)), [f"{n}\ns={l['s_measured']:.2g}" for n, l in
                                           zip(layer_names, pairs[0]["layers"] + [pairs[0]["total"]])],
                  fontsize=6.5)
    ax.set_yticks(range(len(pairs)), [f"{p['spiking']} vs {p['dense']}" for p in pairs], fontsize=6.5)
    ax.axvline(len(layer_names) - 1.5, color="k", lw=1)
    ax.set_title("break-even spikes per synapse s* (text) per layer; colour: log10(s* / measured s)", fontsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    cb.ax.tick_params(labelsize=6)
    # Right: energy of the whole run against s.
    s_m = pairs[0]["total"]["s_measured"]
    cmap = plt.get_cmap("tab20")
    if s_m and s_m > 0:
        stars = [p["total"]["s_star"]["nominal"] for p in pairs if p["total"]["s_star"]["nominal"]]
        lo = min([s_m] + stars) / 10
        hi = max([s_m] + stars) * 10
        xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        for i, p in enumerate(pairs):
            t = p["total"]
            e, f, d = t["spiking_pj"]["nominal"], t["spiking_fixed_pj"]["nominal"], t["dense_pj"]["nominal"]
            color = cmap(i % 20)
            ax2.plot(xs, [(f + (e - f) * x / s_m) * 1e-6 for x in xs], color=color, lw=1,
                     label=f"{p['spiking']} vs {p['dense']}")
            ax2.plot([lo, hi], [d * 1e-6, d * 1e-6], color=color, lw=0.8, ls=":")
            if t["s_star"]["nominal"]:
                ax2.plot([t["s_star"]["nominal"]], [d * 1e-6], "o", color=color, ms=4)
        ax2.axvline(s_m, color="k", lw=1, ls="--")
        ax2.text(s_m, 1.0, f" measured s = {s_m:.3g}", transform=ax2.get_xaxis_transform(), fontsize=7,
                 va="top")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("spikes per synapse s")
        ax2.set_ylabel("energy of the whole run (µJ)")
        ax2.set_title("spiking E(s) (solid) vs dense (dotted); dots: s*", fontsize=8)
        ax2.legend(fontsize=5.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def _cells_label(cell):
    return f"{cell['coding']} k={cell['k']:g}"


def fig_fidelity_energy(compare, metric="output_rel_error"):
    """Fidelity (y) against spiking energy (x) for every cell of a sweep, one panel per spiking profile."""
    cells = compare["cells"]
    profiles = []
    for c in cells:
        for p, sides in c["energy_pj"].items():
            if "spiking" in sides and p not in profiles:
                profiles.append(p)
    n = max(1, len(profiles))
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows + 0.5), squeeze=False)
    for ax in axes.flat[len(profiles):]:
        ax.axis("off")
    codings = sorted({c["coding"] for c in cells})
    models = sorted({c["model"] for c in cells})
    markers = "osD^v<>ph*"
    cmap = plt.get_cmap("tab10")
    for ax, profile in zip(axes.flat, profiles):
        for c in cells:
            b = c["energy_pj"].get(profile, {}).get("spiking")
            y = c["metrics"].get(metric) if metric in c["metrics"] else c.get("extra", {}).get(metric)
            if b is None or y is None:
                continue
            x = b["total"]["nominal"] * 1e-6
            xerr = [[x - b["total"]["low"] * 1e-6], [b["total"]["high"] * 1e-6 - x]]
            color = cmap(codings.index(c["coding"]) % 10)
            ax.errorbar([x], [y], xerr=xerr, fmt=markers[models.index(c["model"]) % len(markers)], color=color,
                        ms=5, capsize=2, lw=0.8)
            ax.annotate(f"k={c['k']:g}", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        dense = [c["energy_pj"][profile]["dense"]["total"]["nominal"] * 1e-6 for c in cells
                 if "dense" in c["energy_pj"].get(profile, {})]
        if dense:
            ax.axvline(dense[0], color="k", ls=":", lw=1, label="dense, same silicon")
            ax.legend(fontsize=6)
        ax.set_xscale("log")
        ax.set_title(profile, fontsize=8)
        ax.set_xlabel("spiking energy (µJ)", fontsize=8)
        ax.set_ylabel(metric.replace("_", " "), fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], color=cmap(i % 10), marker="o", ls="", label=c) for i, c in enumerate(codings)]
    handles += [plt.Line2D([], [], color="gray", marker=markers[i % len(markers)], ls="",
                           label=os.path.basename(m)) for i, m in enumerate(models)]
    fig.legend(handles=handles, loc="upper center", ncol=min(6, len(handles)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def fig_break_even_sweep(compare):
    """Measured spikes per synapse of every cell against the break-even s* of every pair."""
    cells = compare["cells"]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.7 * len(cells) + 3), 4.2))
    labels = [f"{os.path.basename(c['model']).rsplit('.', 1)[0]}\n{_cells_label(c)}" for c in cells]
    pair_names = []
    for c in cells:
        for p in c["break_even"]:
            name = f"{p['spiking']} vs {p['dense']}"
            if name not in pair_names:
                pair_names.append(name)
    cmap = plt.get_cmap("tab20")
    floor = 1e-4
    for i, name in enumerate(pair_names):
        xs, ys, never = [], [], []
        for j, c in enumerate(cells):
            for p in c["break_even"]:
                if f"{p['spiking']} vs {p['dense']}" != name or p["total"]["s_star"]["nominal"] is None:
                    continue
                if p["total"]["s_star"]["nominal"] > 0:
                    xs.append(j)
                    ys.append(p["total"]["s_star"]["nominal"])
                else:
                    never.append(j)
        ax.plot(xs, ys, "o-", ms=3, lw=0.8, color=cmap(i % 20), label=name)
        if never:  # s* = 0: fixed costs alone exceed the dense estimate
            ax.plot(never, [floor * 1.6 ** i] * len(never), "x", ms=5, color=cmap(i % 20))
    ax.plot(range(len(cells)), [c["metrics"]["spikes_per_synapse"] for c in cells], "k_", ms=18, mew=2,
            label="measured s")
    ax.set_yscale("log")
    ax.set_xticks(range(len(cells)), labels, fontsize=6, rotation=60, ha="right")
    ax.set_ylabel("spikes per synapse")
    ax.set_title("break-even s* per cell; spiking wins where measured s lies below a pair's s*;\n"
                 "x at the bottom: s* = 0 (the spiking side's fixed costs alone exceed the dense estimate)", fontsize=8)
    ax.legend(fontsize=6, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- HTML
CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; line-height: 1.35; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
h3 { font-size: 1.0em; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; vertical-align: top; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; }
.note { font-size: 0.85em; color: #555; } code { font-size: 0.9em; }
nav a { margin-right: 1em; font-size: 0.9em; }
"""


def _table(headers, rows, left=1):
    """An HTML table; the first `left` columns and every text cell align left, numbers right."""
    out = ["<table><tr>"]
    for i, h in enumerate(headers):
        out.append(f"<th class='{'l' if i < left else ''}'>{html.escape(str(h))}</th>")
    out.append("</tr>")
    for r in rows:
        out.append("<tr>")
        for i, v in enumerate(r):
            text = v if isinstance(v, str) else _short(v)
            numeric = not isinstance(v, str) or _is_number(v)
            out.append(f"<td class='{'l' if i < left or not numeric else ''}'>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _is_number(text):
    try:
        float(text.split(" ")[0])
        return True
    except ValueError:
        return False


class Page:
    def __init__(self, out_dir, quiet):
        self.parts = []
        self.figures = []  # (file, title)
        self.fig_dir = os.path.join(out_dir, "figures")
        self.quiet = quiet

    def add(self, text):
        self.parts.append(text)

    def figure(self, fig, name, caption):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        data = buf.getvalue()
        os.makedirs(self.fig_dir, exist_ok=True)
        path = os.path.join(self.fig_dir, name + ".png")
        tmp = path + ".partial"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        self.figures.append(path)
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        self.add(f"<figure id='fig-{name}'><img src='{uri}' alt='{html.escape(caption)}'>"
                 f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def html(self, title):
        body = "\n".join(self.parts)
        return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def run_section(page, report, raster, heading):
    run = report.get("run", {})
    t = report["totals"]
    page.add(f"<h2 id='run'>{html.escape(heading)}</h2>")
    page.add(_table(["setting", "value"], [[k, json.dumps(v) if not isinstance(v, str) else v]
                                          for k, v in run.items()]))
    page.add("<h3>Activity (all layers)</h3>")
    keys = ["layers", "tokens", "T", "zero_fraction", "spikes_per_element", "spikes_per_synapse", "firing_rate",
            "spikes", "sops", "effective_sops", "dense_macs", "reconstruction_rel_error", "output_rel_error"]
    page.add(_table(["metric", "value", "definition"],
                    [[k, t.get(k), report.get("definitions", {}).get(k, "")] for k in keys if k in t], left=1))
    page.figure(fig_zero_fraction(report), "zero_fraction",
                "Share of integer spike counts equal to 0, per layer (dashed: all layers).")
    page.figure(fig_count_histogram(report), "count_histogram",
                "Distribution of |spike count| (0 / 1 / 2 / ≥3) in the style of SpikingBrain's Fig. 9; hatched: "
                "SpikingBrain-7B at k = 3 (69.15 / 19.30 / 9.69 / 1.85 %) for reference.")
    if report.get("layer_types"):  # SpikingBrain GLAswa: coded sites by the type of their layer
        page.add("<h3>By layer type (GLA vs sliding-window attention layers)</h3>")
        rows = [[t, s["zero_fraction"], s["coded_elements"], s["spikes"], s["sops"], s["dense_macs_of_coded_sites"]]
                for t, s in sorted(report["layer_types"].items())]
        page.add(_table(["layer type", "zero fraction", "coded elements", "spikes", "SOPs",
                         "dense MACs of those sites"], rows))
    memory = report.get("run", {}).get("state_memory")
    if memory:
        page.add("<h3>Recurrent state and KV cache per sequence</h3>")
        page.add(_table(["GLA state bytes", "KV-cache bytes", "if every layer were full attention", "tokens"],
                        [[memory["gla_state_bytes"], memory["kv_cache_bytes"],
                          memory["full_attention_kv_cache_bytes"], memory["tokens"]]]))
        page.add(f"<p class='note'>{html.escape(memory.get('note', ''))}</p>")
    if raster is not None:
        page.figure(fig_raster(raster), "raster",
                    f"Spike raster of token {raster['token']} at site {raster['site']}: every event by virtual "
                    "step and presynaptic neuron; below, the integer count each neuron carries.")
    else:
        page.add("<p class='note'>No raster.json in this directory (run without --no-raster to get one).</p>")

    # Energy
    page.add("<h2 id='energy'>Energy per term</h2>")
    page.figure(fig_energy_terms(report), "energy_terms",
                "Energy of the whole run per hardware profile, spiking vs dense, stacked by term (nominal), "
                "whiskers: low–high of the total.")
    rows = []
    for profile, side, b in _energy_entries(t["energy_pj"]):
        row = [profile, side] + [range_text(b[term], 1e-6) for term in TERMS] + [range_text(b["total"], 1e-6)]
        row.append(range_text(b["latency_ns"], 1e-3) if "latency_ns" in b and b["latency_ns"]["nominal"] else "")
        row.append("; ".join(b.get("uncharged", [])))
        rows.append(row)
    page.add(_table(["profile", "run"] + TERMS + ["total", "latency (µs)", "uncharged"], rows, left=2))
    page.add("<p class='note'>µJ, nominal [low–high]. Uncharged: counters the profile has no constant for; they "
             "are left out of the total, never silently.</p>")

    # Break-even
    pairs = _pairs(report)
    page.add("<h2 id='break-even'>Break-even</h2>")
    page.add(f"<p class='note'>{html.escape(report.get('break_even', {}).get('definition', ''))}</p>")
    if pairs:
        page.figure(fig_break_even(report), "break_even",
                    "Break-even spikes per synapse s* per layer and pair (left) and the total energy as a function "
                    "of s against the dense estimate (right).")
        rows = [[p["spiking"], p["dense"], _short(p["total"]["s_measured"]), range_text(p["total"]["s_star"]),
                 "yes" if p["total"]["spiking_cheaper"] else "no"] for p in pairs]
        page.add(_table(["spiking profile", "dense profile", "measured s", "s* (nominal [low–high])",
                         "spiking cheaper now"], rows, left=2))

    # Mapping
    mapping = t.get("mapping", {})
    if mapping:
        page.add("<h2 id='mapping'>Mapping onto chip cores</h2>")
        rows = [[p, m["routing"], m["cores"], m["cores_per_chip"], m["chips"],
                 "yes" if m["fits_on_one_chip"] else "no", _short(m["synaptic_bytes"] / 2**20)]
                for p, m in mapping.items()]
        page.add(_table(["profile", "routing", "cores", "cores per chip", "chips", "fits one chip",
                         "synaptic MiB"], rows))
        rows = []
        for l in report["layers"]:
            for p, m in l.get("mapping", {}).items():
                if m.get("placed"):
                    rows.append([l["name"], p, m["source_cores"], m["target_cores"], m["neurons_per_target_core"],
                                 _short(m["spike_packets"]), _short(m["hops_ew"]), _short(m["hops_ns"]),
                                 _short(m["hops_per_spike"]), _short(m["chip_crossings"])])
        page.add(_table(["layer", "profile", "source cores", "target cores", "neurons / target core",
                         "spike packets", "E-W hops", "N-S hops", "hops / spike", "chip crossings"], rows, left=2))

    # Layers
    page.add("<h2 id='layers'>Layers</h2>")
    keys = ["kind", "coded", "in_features", "out_features", "tokens", "T", "zero_fraction", "spikes_per_synapse",
            "firing_rate", "sops", "dense_macs", "reconstruction_rel_error", "output_rel_error"]
    page.add(_table(["layer"] + keys, [[l["name"]] + [l.get(k) for k in keys] for l in report["layers"]]))

    # Hardware
    page.add("<h2 id='hardware'>Hardware profiles and sources</h2>")
    for name, hw in report.get("hardware", {}).items():
        page.add(f"<h3>{html.escape(name)}</h3><p class='note'>{html.escape(hw.get('description', ''))} "
                 f"(<code>{html.escape(hw.get('file', ''))}</code>)</p>")
        rows = []
        for side in ("spiking", "dense"):
            for key, c in hw.get(side, {}).items():
                rows.append([side, key, _short(c["low"]), _short(c["nominal"]), _short(c["high"]),
                             c["source"] + (f" — {c['note']}" if c.get("note") else "")])
        for key, c in hw.get("chip", {}).items():
            if isinstance(c, dict):
                rows.append(["chip", key, "", _short(c["value"]), "", c["source"]])
        page.add(_table(["side", "key", "low", "nominal", "high", "source"], rows, left=2))


def compare_section(page, compare):
    cells = compare["cells"]
    axes = compare["axes"]
    page.add("<h2 id='sweep'>Sweep (spikesim compare)</h2>")
    page.add(f"<p class='note'>{len(cells)} cells: models {html.escape(', '.join(axes['models']))}; codings "
             f"{html.escape(', '.join(axes['codings']))}; k {html.escape(', '.join(_short(k) for k in axes['k']))}."
             "</p>")
    page.figure(fig_fidelity_energy(compare), "fidelity_energy",
                "Fidelity against energy across the sweep: output relative error of the spiking run vs its energy "
                "on each spiking profile (whiskers: low–high).")
    page.figure(fig_break_even_sweep(compare), "break_even_sweep",
                "Measured spikes per synapse of every cell against the break-even s* of every (spiking, dense) "
                "pair.")
    rows = []
    for c in cells:
        m = c["metrics"]
        rows.append([os.path.basename(c["model"]), c["coding"], _short(c["k"]), m["T"], m["zero_fraction"],
                     m["spikes_per_synapse"], m["reconstruction_rel_error"], m["output_rel_error"]])
    page.add(_table(["model", "coding", "k", "T max", "zero fraction", "spikes / synapse", "reconstruction error",
                     "output error"], rows, left=3))
    typed = [c for c in cells if "layer_types.gla.zero_fraction" in c.get("extra", {})]
    if typed:  # SpikingBrain GLAswa cells: zero fraction by layer type
        page.add("<h3>Zero fraction by layer type (GLA / sliding-window attention layers)</h3>")
        page.add(_table(["model", "coding", "k", "GLA layers", "SWA layers"],
                        [[os.path.basename(c["model"]), c["coding"], _short(c["k"]),
                          c["extra"]["layer_types.gla.zero_fraction"], c["extra"].get("layer_types.swa.zero_fraction")]
                         for c in typed], left=3))
    profiles = axes["profiles"]
    rows = []
    for c in cells:
        row = [os.path.basename(c["model"]), c["coding"], _short(c["k"])]
        for p in profiles:
            sides = c["energy_pj"].get(p, {})
            row.append(" / ".join(range_text(sides[s]["total"], 1e-6) for s in ("spiking", "dense") if s in sides))
        rows.append(row)
    page.add("<h3>Energy (µJ, spiking / dense, nominal [low–high])</h3>")
    page.add(_table(["model", "coding", "k"] + profiles, rows, left=3))


def build(directory, compare_dir=None, out=None, quiet=False):
    out = out or os.path.join(directory, "report.html")
    out_dir = os.path.dirname(os.path.abspath(out))
    page = Page(out_dir, quiet)
    have_run = os.path.exists(os.path.join(directory, "report.json"))
    compare_dir = compare_dir or (directory if os.path.exists(os.path.join(directory, "compare.json")) else None)
    compare = load_compare(compare_dir) if compare_dir else None
    title = "spikesim report"
    page.add(f"<h1>{title}</h1>")
    page.add("<nav><a href='#run'>run</a><a href='#energy'>energy</a><a href='#break-even'>break-even</a>"
             "<a href='#mapping'>mapping</a><a href='#layers'>layers</a><a href='#hardware'>hardware</a>"
             + ("<a href='#sweep'>sweep</a>" if compare else "") + "</nav>")
    if have_run:
        report, raster = load_run(directory)
        run_section(page, report, raster, "Run: " + title_of(report))
    elif compare and compare["cells"]:
        cell = compare["cells"][0]
        cell_dir = os.path.join(compare_dir, cell["dir"])
        report, raster = load_run(cell_dir)
        run_section(page, report, raster, f"Run details of the first cell ({cell['id']})")
    if compare:
        compare_section(page, compare)
    text = page.html(title)
    tmp = out + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)
    if not quiet:
        print(f"spikesim report: {len(page.figures)} figures -> {out}")
    return out, page.figures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="spikesim run or compare output directory")
    ap.add_argument("--compare", help="a spikesim compare directory to include")
    ap.add_argument("--out", help="HTML file (default DIR/report.html)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    matplotlib.use("Agg")  # files only; notebooks keep their own backend
    try:
        build(a.dir, a.compare, a.out, a.quiet)
    except (OSError, ValueError) as e:
        print(f"spikesim report: error: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"spikesim report: error: {a.dir}: report is missing the field {e} (written by another version?)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
