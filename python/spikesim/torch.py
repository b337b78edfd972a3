"""spikesim.torch.probe: spike-code and count a live PyTorch model's synaptic layers.

    import spikesim.torch
    with spikesim.torch.probe(model, sites="qkv,o,gateup", coding="ternary", k=3.0) as p:
        logits = model(ids)                  # the spiking model's output (replace=True)
    p.report("out")                          # report.json + layers.csv, as `spikesim run` writes them
    print(p.counters["layers.0.attn_in"]["sops"])

Sites. Every nn.Linear and nn.Conv2d is a synaptic site. Projections that read the same input are one site,
as `spikesim run` fuses them: in a Hugging Face decoder (module names `...layers.N.self_attn.q_proj`, ...,
`...layers.N.mlp.down_proj`) q|k|v form `layers.N.attn_in`, o `layers.N.attn_out`, gate|up `layers.N.mlp_in`,
down `layers.N.mlp_out` -- the CLI's site names. Any other layer is a site named by its module name.
`sites` is the CLI's --sites vocabulary (sim/plan/select.hpp): glob patterns over site or module names
(`*.q_proj`, `layers.1?.*`), `!PATTERN`, `default`, `all`, `none`, and qkv / o / gateup / down /
spikingbrain; `default` is SpikingBrain's set (qkv, o, gateup) for a decoder, every site otherwise; None codes
every site. Uncoded sites are still counted (dense MACs).

Per call of a coded site the input x [.., in] is flattened to rows (linear: tokens, coded together, one T per
call, as a token plan codes one call; conv: samples [C*H*W], each coded on its own, as a network plan does)
and coded by the C++ site pipeline (the one `spikesim run` uses): spikes, SOPs over the whole fan-out (the
real weights: effective SOPs skip zero weights), neuron updates, dense MACs, reconstruction error, and with
measure_output_error the layer's output error (one extra dense call of the layer). With replace=True the
layer computes on x̂ = count · V_th (in the layer's dtype: bf16 rounds x̂), so the model's output is the
spiking model's. CPU float32 inputs are read without copies; other inputs are converted on the host.

Known limit: layers outside the Hugging Face naming that read one tensor are counted as separate sites
(`spikesim run` fuses any projections sharing an input); members of one named site must read one input
(checked: an error names them otherwise).
"""
import json
import os
import re

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import Profile, _spikesim

__all__ = ["probe", "site_layout"]

_ATTN = re.compile(r"^(?:.*\.)?layers\.(\d+)\.(?:self_attn|attn|attention)\.(q_proj|k_proj|v_proj|o_proj)$")
_MLP = re.compile(r"^(?:.*\.)?layers\.(\d+)\.(?:mlp|feed_forward)\.(gate_proj|up_proj|down_proj)$")
_ROLE_SITE = {"q_proj": "attn_in", "k_proj": "attn_in", "v_proj": "attn_in", "o_proj": "attn_out",
              "gate_proj": "mlp_in", "up_proj": "mlp_in", "down_proj": "mlp_out"}


def _site_of(name):
    """(site name, short projection name as the CLI's plan names it, decoder naming?) of a module name."""
    m = _ATTN.match(name) or _MLP.match(name)
    if m:
        layer, role = m.group(1), m.group(2)
        return f"layers.{layer}.{_ROLE_SITE[role]}", f"layers.{layer}.{role}", True
    if name == "lm_head" or name.endswith(".lm_head"):
        return "lm_head", "lm_head", True
    return name, name, False


def site_layout(module):
    """[(site name, [(module name, module), ...])] of every nn.Linear / nn.Conv2d of `module`, in module
    order, projections of one site together; and whether the model follows the decoder naming."""
    order, groups, decoder = [], {}, False
    for name, m in module.named_modules():
        if not isinstance(m, (nn.Linear, nn.Conv2d)):
            continue
        site, _, is_decoder = _site_of(name)
        decoder = decoder or (is_decoder and site != "lm_head")
        if site not in groups:
            groups[site] = []
            order.append(site)
        groups[site].append((name, m))
    for site in order:
        kinds = {type(m) for _, m in groups[site]}
        if len(kinds) > 1 or (nn.Conv2d in kinds and len(groups[site]) > 1):
            raise _spikesim.Error(f"probe: site '{site}' groups {[n for n, _ in groups[site]]} of different kinds")
    return [(s, groups[s]) for s in order], decoder


class _Site:
    """One site: its modules, its C++ ProbeSite, and the state of the call in progress."""

    def __init__(self, name, index, members, coded):
        self.name = name
        self.index = index
        self.members = members  # [(module name, module)]
        self.coded = coded
        self.conv = isinstance(members[0][1], nn.Conv2d)
        self.cpp = None
        self.call_x = None  # input of the call in progress (sites of several projections)
        self.call_version = 0
        self.call_seen = set()
        self.x = None      # the call's input (as the layer received it)
        self.x_hat = None  # its reconstruction, in the layer's dtype and device
        if not self.conv:
            w = [m.weight for _, m in members]
            ins = {t.shape[1] for t in w}
            if len(ins) != 1:
                raise _spikesim.Error(f"probe: site '{name}' projections {[n for n, _ in members]} have different "
                                      f"input sizes {sorted(ins)}")
            with torch.no_grad():
                nonzero = sum((t != 0).sum(dim=0, dtype=torch.int64) for t in w)
            self.cpp = _spikesim.ProbeSite.linear(
                name, index, coded, int(w[0].shape[1]), int(sum(t.shape[0] for t in w)),
                any(m.bias is not None for _, m in members), nonzero.cpu().tolist())

    def conv_site(self, x):
        """The ProbeSite of a convolution, made for the first input's C x H x W."""
        m = self.members[0][1]
        _, c, h, w = x.shape
        if self.cpp is not None:
            g = self.geometry
            if (c, h, w) != g:
                raise _spikesim.Error(f"probe: conv site '{self.name}' input changed from {list(g)} to [{c}, {h}, "
                                      f"{w}] (a site's shape is fixed)")
            return self.cpp
        if m.padding_mode != "zeros":
            raise _spikesim.Error(f"probe: conv site '{self.name}': padding_mode '{m.padding_mode}' is not "
                                  "supported (zeros only)")
        if isinstance(m.padding, str):
            pad = (0, 0) if m.padding == "valid" else tuple(d * (k - 1) // 2 for d, k in zip(m.dilation, m.kernel_size))
            if m.padding == "same" and any((d * (k - 1)) % 2 for d, k in zip(m.dilation, m.kernel_size)):
                raise _spikesim.Error(f"probe: conv site '{self.name}': padding 'same' with an even kernel "
                                      "(asymmetric) is not supported")
        else:
            pad = tuple(m.padding)
        geometry = [c, h, w, m.out_channels, m.kernel_size[0], m.kernel_size[1], m.stride[0], m.stride[1],
                    pad[0], pad[1], m.dilation[0], m.dilation[1], m.groups]
        weight = m.weight.detach().to(torch.float32).cpu().contiguous().numpy()
        bias = m.bias.detach().to(torch.float32).cpu().contiguous().numpy() if m.bias is not None else None
        self.cpp = _spikesim.ProbeSite.conv(self.name, self.index, self.coded, geometry, weight.reshape(-1), bias)
        self.geometry = (c, h, w)
        return self.cpp


def _host_f32(x2d):
    """x [rows][in] as a C-contiguous float32 NumPy array: a view of CPU float32 tensors, else a copy."""
    t = x2d.detach()
    if t.device.type != "cpu" or t.dtype != torch.float32:
        t = t.to(device="cpu", dtype=torch.float32)
    return t.contiguous().numpy()


class probe:  # noqa: N801 (a context manager used like a function, as torch.no_grad)
    """Context manager: spike-codes and counts the synaptic layers of `module` while it runs.

    sites: the CLI's --sites vocabulary (None: every site); coding, k, granularity, T, neuron, saturate,
    v_th: as `spikesim run`; replace: feed x̂ to the layers (the spiking model) instead of x; hardware:
    profile names / files for report() (None: the default set); measure_output_error: also run each coded
    projection on the other input (x or x̂) for the output error."""

    def __init__(self, module, sites=None, coding="ternary", k=3.0, replace=True, hardware=None,
                 granularity="row", T=None, neuron="adaptive", saturate=False, v_th=None,
                 measure_output_error=True):
        if not isinstance(module, nn.Module):
            raise TypeError(f"probe: expected a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.replace = bool(replace)
        self.spec = "all" if sites is None else str(sites)
        self.config = _spikesim.SiteConfig(coding, float(k), granularity, T, neuron, bool(saturate), v_th,
                                           bool(measure_output_error))
        self.hardware = [] if hardware is None else ([hardware] if isinstance(hardware, str) else list(hardware))
        for h in self.hardware:  # a bad profile fails here, before any work
            Profile.load(h)
        layout, self.decoder = site_layout(module)
        if not layout:
            raise _spikesim.Error(f"probe: {type(module).__name__} has no nn.Linear or nn.Conv2d layer")
        described = []
        for site, members in layout:
            names = [n for n, _ in members]
            names += [_site_of(n)[1] for n in names if _site_of(n)[1] != n]
            described.append((site, names))
        coded = _spikesim.select_sites(self.spec, described, self.decoder, type(module).__name__)
        self._sites = [_Site(s, i, members, c) for i, ((s, members), c) in enumerate(zip(layout, coded))]
        self._handles = []

    # --- context manager ---
    def __enter__(self):
        for site in self._sites:
            for name, m in site.members:
                self._handles.append(m.register_forward_pre_hook(self._pre_hook(site, name, m)))
                if site.coded and self.config.measure_output_error:
                    self._handles.append(m.register_forward_hook(self._post_hook(site, m)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        for site in self._sites:
            site.x = site.x_hat = site.call_x = None
            site.call_seen = set()
        return False

    # --- hooks ---
    def _pre_hook(self, site, name, m):
        def hook(_module, args):
            x = args[0]
            members = len(site.members)
            # The same tensor object (held by the site, so never a recycled address), unchanged in place, read
            # by a projection of the site that has not run in this call: the site's call goes on.
            if site.call_x is x and site.call_version == x._version and name not in site.call_seen:
                site.call_seen.add(name)
            else:
                if site.call_x is not None and len(site.call_seen) < members:
                    missing = [n for n, _ in site.members if n not in site.call_seen]
                    raise _spikesim.Error(
                        f"probe: site '{site.name}': {name} reads another input than {sorted(site.call_seen)} "
                        f"before {missing} ran: projections of one site must read one tensor")
                self._new_call(site, x, m)
                site.call_x = x if members > 1 else None
                site.call_version = x._version
                site.call_seen = {name}
            if site.coded and self.replace:
                return (site.x_hat,) + tuple(args[1:])
            return None
        return hook

    def _new_call(self, site, x, m):
        if site.conv:
            if x.dim() != 4:
                raise _spikesim.Error(f"probe: conv site '{site.name}' expects [N][C][H][W] input, got shape "
                                      f"{list(x.shape)}")
            cpp = site.conv_site(x)
            rows = x.shape[0]
        else:
            cpp = site.cpp
            rows = x.numel() // x.shape[-1] if x.dim() > 0 else 0
        if not site.coded:
            cpp.add_dense(int(rows))
            site.x = site.x_hat = None
            return
        x2d = x.reshape(rows, -1)
        x_hat = cpp.code(self.config, _host_f32(x2d), f"probe: site '{site.name}' input (call of {type(m).__name__})")
        site.x = x
        site.x_hat = torch.from_numpy(x_hat).to(device=x.device, dtype=x.dtype).reshape(x.shape)

    def _post_hook(self, site, m):
        def hook(_module, _args, output):
            with torch.no_grad():
                if self.replace:
                    y_spiking, y_dense = output, self._dense_call(m, site.x)
                else:
                    y_spiking, y_dense = self._dense_call(m, site.x_hat), output
                if y_dense.device.type == "cpu":
                    site.cpp.add_output_error(_host_f32(y_spiking.reshape(-1, 1)), _host_f32(y_dense.reshape(-1, 1)))
                else:  # on the device: the two sums, in float64, without moving the outputs to the host
                    d = y_dense.to(torch.float64)
                    site.cpp.add_output_sums(float((d * d).sum()), float(((y_spiking.to(torch.float64) - d) ** 2).sum()))
            return None
        return hook

    @staticmethod
    def _dense_call(m, x):
        if isinstance(m, nn.Conv2d):
            return m._conv_forward(x, m.weight, m.bias)
        return F.linear(x, m.weight, m.bias)

    # --- results ---
    @property
    def sites(self):
        """Names of the coded sites, in module order."""
        return [s.name for s in self._sites if s.coded]

    @property
    def dense_sites(self):
        """Names of the sites left dense (counted as dense MACs)."""
        return [s.name for s in self._sites if not s.coded]

    def members(self, site):
        """Module names of a site's projections."""
        for s in self._sites:
            if s.name == site:
                return [n for n, _ in s.members]
        raise KeyError(f"probe: no site '{site}' (sites: {[s.name for s in self._sites]})")

    @property
    def counters(self):
        """{site: counters dict} of every site that ran (coded and dense), as report.json's records."""
        return {s.name: s.cpp.counters for s in self._sites if s.cpp is not None}

    @property
    def metrics(self):
        """{site: DESIGN §3 metrics}, as report.json's layers."""
        return {s.name: s.cpp.metrics for s in self._sites if s.cpp is not None}

    def run_json(self):
        """The report's run object."""
        run = {"command": "probe", "model_kind": "torch", "source": type(self.module).__name__}
        run.update(self.config.run_json())
        run["engine"] = "fast"
        run["replace"] = self.replace
        run["sites"] = self.spec
        run["coded_sites"] = self.sites
        run["dense_sites"] = self.dense_sites
        ran = [s for s in self._sites if s.cpp is not None and s.cpp.counters["calls"] > 0]
        if not ran:
            raise _spikesim.Error("probe.report: no site ran (call the model inside the `with probe(...)` block)")
        # Rows per call of the first coded site (linear: the tokens of a forward pass; conv: 1, per sample).
        first = next((s for s in ran if s.coded), ran[0]).cpp.counters
        run["tokens_per_call"] = first["tokens"] / first["calls"]
        return run

    def report(self, directory):
        """Writes DIR/report.json and DIR/layers.csv (the writer of `spikesim run`, with the energy of every
        requested profile) and returns report.json as a dict."""
        directory = os.fspath(directory)
        run = self.run_json()
        sites = [s.cpp for s in self._sites if s.cpp is not None]
        _spikesim.write_report(directory, sites, run, self.hardware)
        with open(os.path.join(directory, "report.json"), encoding="utf-8") as f:
            return json.load(f)
