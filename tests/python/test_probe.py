"""spikesim.torch.probe on a hand-written Llama-shaped model: per-site counters equal `spikesim run` on the
same weights exported to safetensors; replace=True output equals the spike-decoded reference; errors."""
import os
import tempfile
import unittest

from common import BINARY, layer_differences, load_report, require_torch
from common import spikesim as spikesim_cli

require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import spikesim  # noqa: E402
import spikesim.torch  # noqa: E402
from tiny_llama import TinyLlama, export  # noqa: E402

TOKENS = [1, 17, 5, 42, 9, 33, 60, 2, 11, 28, 7, 50]


class ProbeMatchesRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory(prefix="spikesim-probe-test-")
        cls.model = TinyLlama(seed=3).eval()
        cls.ckpt = os.path.join(cls.tmp.name, "ckpt")
        export(cls.model, cls.ckpt)
        cls.tokens = os.path.join(cls.tmp.name, "tokens.txt")
        with open(cls.tokens, "w", encoding="utf-8") as f:
            f.write(" ".join(map(str, TOKENS)))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def compare(self, coding, sites_cli, sites_probe, k=3.0):
        out_cli = os.path.join(self.tmp.name, f"cli-{coding}-{sites_cli}")
        spikesim_cli("run", "--model", self.ckpt, "--tokens", self.tokens, "--coding", coding, "--k", k,
                 "--sites", sites_cli, "--out", out_cli, "-q", "--no-raster", "--hardware", "loihi")
        ids = torch.tensor([TOKENS])
        with torch.no_grad(), spikesim.torch.probe(self.model, sites=sites_probe, coding=coding, k=k,
                                                   hardware=["loihi"]) as p:
            self.model(ids)
        out_probe = os.path.join(self.tmp.name, f"probe-{coding}-{sites_cli}")
        probe_report = p.report(out_probe)
        cli_layers = {l["name"]: l for l in load_report(out_cli)["layers"]}
        probe_layers = {l["name"]: l for l in probe_report["layers"]}
        # Every synaptic site of the checkpoint is a site of the probe, with the same counters.
        synaptic = {n for n, l in cli_layers.items() if l["kind"] == "linear"}
        self.assertEqual(synaptic, set(probe_layers))
        for name in sorted(synaptic):
            diff = layer_differences(cli_layers[name], probe_layers[name])
            self.assertEqual(diff, [], f"site {name} ({coding}, sites {sites_cli})")
        return p, cli_layers, probe_layers

    def test_all_sites_ternary(self):
        p, cli, probe = self.compare("ternary", "all", None)
        self.assertEqual(p.members("layers.0.attn_in"), ["model.layers.0.self_attn.q_proj",
                                                         "model.layers.0.self_attn.k_proj",
                                                         "model.layers.0.self_attn.v_proj"])
        site = probe["layers.0.attn_in"]
        self.assertTrue(site["coded"])
        self.assertEqual(site["out_features"], 32 + 16 + 16)
        self.assertLess(site["effective_sops"], site["sops"])  # k_proj's zero columns are skipped
        self.assertGreater(site["spikes"], 0)
        self.assertEqual(site["tokens"], len(TOKENS))

    def test_comparison_detects_differences(self):
        # The comparison above can fail: a probe at another k differs from the CLI's run in every coded site.
        out_cli = os.path.join(self.tmp.name, "cli-k3")
        spikesim_cli("run", "--model", self.ckpt, "--tokens", self.tokens, "--coding", "ternary", "--k", 3,
                     "--sites", "all", "--out", out_cli, "-q", "--no-raster", "--hardware", "loihi")
        with torch.no_grad(), spikesim.torch.probe(self.model, coding="ternary", k=3.5, hardware="loihi") as p:
            self.model(torch.tensor([TOKENS]))
        probe = {l["name"]: l for l in p.report(os.path.join(self.tmp.name, "probe-k3.5"))["layers"]}
        for l in load_report(out_cli)["layers"]:
            if l["kind"] == "linear":
                self.assertNotEqual(layer_differences(l, probe[l["name"]]), [], l["name"])

    def test_spikingbrain_sites_bitwise(self):
        p, cli, probe = self.compare("bitwise", "default", "default")
        self.assertFalse(probe["layers.1.mlp_out"]["coded"])
        self.assertFalse(probe["lm_head"]["coded"])
        self.assertEqual(probe["layers.1.mlp_out"]["uncoded_macs"], len(TOKENS) * 48 * 32)
        self.assertIn("layers.0.mlp_in", p.sites)

    def test_pattern_sites_binary(self):
        self.compare("binary", "*.q_proj,layers.1.*", "*.q_proj,layers.1.*", k=2.5)

    def test_report_draws(self):
        p, _, _ = self.compare("ternary", "qkv,o", "qkv,o")
        out = os.path.join(self.tmp.name, "probe-ternary-qkv,o")
        if os.environ.get("SPIKESIM_SKIP_HTML") != "1":
            spikesim_cli("report", out, "-q")
            self.assertTrue(os.path.getsize(os.path.join(out, "report.html")) > 1000)
        self.assertEqual(set(p.counters["layers.0.attn_out"]), set(spikesim.counter_fields()))


def decode(c):
    """x̂ from the spike train the coder emits: sum_t spike_t * step weight, minus the zero point, times V_th."""
    train = c.spike_train().astype(np.int64)
    T = c.T
    if c.coding.startswith("bitwise"):
        w = np.array([2 ** (T - 1 - t) for t in range(T)], dtype=np.int64)
        if c.coding == "bitwise-twos":
            w[0] = -w[0]
    else:
        w = np.ones(T, dtype=np.int64)
    values = np.tensordot(w, train, axes=1)
    counts = values - c.zero_point[:, None]
    return counts.astype(np.float32) * c.v_th[:, None]


class ReplaceFeedsSpikes(unittest.TestCase):
    def reference(self, model, ids, coding, k):
        """The model run with every linear input replaced by x̂ decoded from its spikes (q|k|v and gate|up
        share one coded input, as one site)."""
        handles, last = [], {}

        def hook(m, args):
            x = args[0]  # the same tensor object (kept alive here, so never a recycled one) = the same site
            if last.get("x") is not x:
                c = spikesim.code(x.reshape(-1, x.shape[-1]).numpy(), coding=coding, k=k)
                last["x"], last["x_hat"] = x, torch.from_numpy(decode(c)).reshape(x.shape)
            return (last["x_hat"],)
        for _, m in model.named_modules():
            if isinstance(m, nn.Linear):
                handles.append(m.register_forward_pre_hook(hook))
        try:
            return model(ids)
        finally:
            for h in handles:
                h.remove()

    def test_replace_equals_decoded_spikes(self):
        model = TinyLlama(seed=5).eval()
        ids = torch.tensor([TOKENS])
        with torch.no_grad():
            dense = model(ids)
            for coding in ("ternary", "bitwise", "binary", "bitwise-twos"):
                with spikesim.torch.probe(model, coding=coding, k=3.0) as p:
                    spiking = model(ids)
                ref = self.reference(model, ids, coding, 3.0)
                self.assertTrue(torch.equal(spiking, ref), coding)
                self.assertFalse(torch.equal(spiking, dense), coding)
                with spikesim.torch.probe(model, coding=coding, replace=False):
                    self.assertTrue(torch.equal(model(ids), dense))
                self.assertGreater(p.counters["layers.1.mlp_out"]["spikes"], 0)
            # Hooks are gone after the block.
            self.assertTrue(torch.equal(model(ids), dense))


class OtherDtypes(unittest.TestCase):
    def test_bf16_model_codes_the_float32_copy(self):
        # Tensors that are not CPU float32 (bf16 here, CUDA on a GPU) are coded through a float32 host copy and
        # x̂ goes back in the layer's dtype.
        model = TinyLlama(seed=2).eval().to(torch.bfloat16)
        ids = torch.tensor([TOKENS])
        seen = {}

        def grab(_m, args):
            seen.setdefault("x", args[0].detach().clone())
        with torch.no_grad(), spikesim.torch.probe(model, coding="ternary") as p:
            # registered after the probe's hook: sees what the layer receives
            h = model.model.layers[0].self_attn.q_proj.register_forward_pre_hook(grab)
            y = model(ids)
        h.remove()
        self.assertEqual(y.dtype, torch.bfloat16)
        self.assertTrue(torch.isfinite(y.float()).all())
        c = p.counters["layers.0.attn_in"]
        self.assertEqual(c["tokens"], len(TOKENS))
        self.assertEqual(seen["x"].dtype, torch.bfloat16)
        with torch.no_grad():
            x = model.model.layers[0].input_layernorm(model.model.embed_tokens(ids))
        coded = spikesim.code(x.reshape(len(TOKENS), -1).float().numpy(), coding="ternary")
        self.assertEqual(c["spikes"], coded.spikes)
        torch.testing.assert_close(seen["x"].reshape(len(TOKENS), -1),
                                   torch.from_numpy(coded.reconstruction).to(torch.bfloat16), rtol=0, atol=0)


class Conv(unittest.TestCase):
    def test_conv_counts_and_replace(self):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=True), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 5))
        with torch.no_grad():
            net[0].weight[0, 1] = 0.0
        x = torch.randn(4, 2, 6, 6)
        with torch.no_grad(), spikesim.torch.probe(net, coding="ternary", k=3.0) as p:
            y = net(x)
        self.assertEqual(p.sites, ["0", "3"])
        c = p.counters["0"]
        self.assertEqual(c["calls"], 4)  # each sample coded on its own
        spikes_per_input = np.zeros(2 * 6 * 6)
        x_hat = []
        for n in range(4):
            coded = spikesim.code(x[n].reshape(1, -1).numpy(), coding="ternary", k=3.0)
            spikes_per_input += np.abs(coded.counts[0])
            x_hat.append(coded.reconstruction.reshape(2, 6, 6))
        # Fan-out of each input neuron: outputs x kernel taps reaching it (all weights / non-zero weights).
        ones = torch.ones(1, 3, 6, 6)
        fanout = F.conv_transpose2d(ones, torch.ones_like(net[0].weight), padding=1).reshape(-1).numpy()
        nonzero = F.conv_transpose2d(ones, (net[0].weight != 0).float(), padding=1).reshape(-1).numpy()
        self.assertEqual(c["spikes"], int(spikes_per_input.sum()))
        self.assertEqual(c["sops"], int((spikes_per_input * fanout).sum()))
        self.assertEqual(c["effective_sops"], int((spikes_per_input * nonzero).sum()))
        self.assertLess(c["effective_sops"], c["sops"])
        self.assertEqual(c["dense_macs"], 4 * 3 * 6 * 6 * 2 * 9)
        self.assertEqual(c["bias_adds"], 4 * 3 * 6 * 6)
        with torch.no_grad():
            h = F.relu(net[0](torch.from_numpy(np.stack(x_hat)))).flatten(1)
            lin = spikesim.code(h.numpy(), coding="ternary", k=3.0)
            ref = net[3](torch.from_numpy(lin.reconstruction))
        self.assertTrue(torch.equal(y, ref))


class Errors(unittest.TestCase):
    def test_errors_name_the_thing(self):
        model = TinyLlama(seed=1)
        with self.assertRaisesRegex(spikesim.Error, r"site selection '\*\.nope' matches no synaptic site"):
            spikesim.torch.probe(model, sites="*.nope")
        with self.assertRaisesRegex(spikesim.Error, "unknown coding 'morse'"):
            spikesim.torch.probe(model, coding="morse")
        with self.assertRaisesRegex(spikesim.Error, "nosuchchip"):
            spikesim.torch.probe(model, hardware=["nosuchchip"])
        with self.assertRaisesRegex(TypeError, "nn.Module"):
            spikesim.torch.probe(object())
        with self.assertRaisesRegex(spikesim.Error, "no site ran"):
            spikesim.torch.probe(model).report(tempfile.mkdtemp())
        # q|k|v named as one site but reading different tensors (cross-attention): an error, not wrong counts
        cross = nn.Module()
        cross.layers = nn.ModuleList([nn.Module()])
        cross.layers[0].self_attn = nn.Module()
        for n in ("q_proj", "k_proj", "v_proj"):
            setattr(cross.layers[0].self_attn, n, nn.Linear(8, 8))
        a = cross.layers[0].self_attn
        with self.assertRaisesRegex(spikesim.Error, r"site 'layers.0.attn_in': layers.0.self_attn.k_proj reads "
                                                    r"another input .* before \['layers.0.self_attn.k_proj'"):
            with torch.no_grad(), spikesim.torch.probe(cross):
                a.q_proj(torch.randn(3, 8))
                a.k_proj(torch.randn(3, 8))
        nan = torch.tensor([TOKENS])
        model.model.embed_tokens.weight.data[17, 0] = float("nan")
        with self.assertRaisesRegex(spikesim.Error, r"site 'layers.0.attn_in' input .*element \[1, 0\] = nan"):
            with torch.no_grad(), spikesim.torch.probe(model):
                model(nan)


if __name__ == "__main__":
    assert BINARY, "set SPIKESIM_BINARY"
    unittest.main(verbosity=2)
