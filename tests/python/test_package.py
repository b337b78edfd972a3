"""spikesim.code / Profile / estimate / break_even / run / account against the CLI on the same inputs."""
import json
import os
import tempfile
import unittest

import h5py
import numpy as np

from common import BINARY, layer_differences, load_report, spikesim as spikesim_cli

import spikesim

SCHEMES = ["binary", "ternary", "bitwise", "bitwise-unsigned", "bitwise-twos"]


def outlier_rows(rows, cols, seed):
    """Student-t rows with a few outlier channels (DESIGN §3: what LLM activations look like)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, size=(rows, cols)).astype(np.float32)
    x[:, rng.choice(cols, 3, replace=False)] *= 20.0
    return x


def write_trace(path, layers):
    with h5py.File(path, "w") as f:
        for i, (name, x, w) in enumerate(layers):
            g = f.create_group(f"layers/{name}")
            g.attrs["index"] = i
            g["input"] = x
            g["weight"] = w


def read_counts(events_file, name):
    """Counts, V_th and T of one layer of a `spikesim encode` event file, decoded from its events."""
    with h5py.File(events_file, "r") as f:
        g = f[f"layers/{name}"]
        T, rows, cols = int(g.attrs["steps"]), int(g.attrs["rows"]), int(g.attrs["cols"])
        coding = g.attrs["coding"]
        coding = coding.decode() if isinstance(coding, bytes) else str(coding)
        offsets, neuron, sign = g["step_offset"][()], g["neuron"][()], g["sign"][()].astype(np.int64)
        scale, zp = g["scale"][()], g["zero_point"][()]
    values = np.zeros(rows * cols, dtype=np.int64)
    for t in range(T):
        if coding.startswith("bitwise"):
            w = 2 ** (T - 1 - t)
            if coding == "bitwise-twos" and t == 0:
                w = -w
        else:
            w = 1
        sl = slice(offsets[t], offsets[t + 1])
        np.add.at(values, neuron[sl].astype(np.int64), sign[sl] * w)
    return values.reshape(rows, cols) - zp[:, None], scale, T


class CodeMatchesCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="spikesim-py-test-")
        cls.x = outlier_rows(24, 96, seed=7)
        cls.w = np.random.default_rng(8).standard_normal((40, 96)).astype(np.float32)
        cls.w[:, :10] = 0.0
        cls.trace = os.path.join(cls.tmp.name, "trace.h5")
        write_trace(cls.trace, [("fc", cls.x, cls.w)])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_counts_equal_encode(self):
        for scheme in SCHEMES:
            for k in (2.0, 3.0):
                events = os.path.join(self.tmp.name, f"events-{scheme}-{k}.h5")
                spikesim_cli("encode", "--trace", self.trace, "--coding", scheme, "--k", k, "--out", events, "-q")
                counts, scale, T = read_counts(events, "fc")
                c = spikesim.code(self.x, coding=scheme, k=k)
                self.assertEqual(c.counts.dtype, np.int32)
                np.testing.assert_array_equal(c.counts, counts, err_msg=f"{scheme} k={k}")
                np.testing.assert_array_equal(c.v_th, scale)
                self.assertEqual(c.T, T)
                # the spike train decodes to the values, and x̂ = count * V_th
                np.testing.assert_array_equal(c.reconstruction, c.counts.astype(np.float32) * c.v_th[:, None])
                self.assertEqual(int(np.abs(c.spike_train()).sum()), c.spikes)

    def test_counters_equal_run(self):
        out = os.path.join(self.tmp.name, "run-bitwise")
        spikesim_cli("run", "--model", self.trace, "--coding", "bitwise", "--out", out, "-q", "--no-raster")
        layer = load_report(out)["layers"][0]
        c = spikesim.code(self.x, coding="bitwise")
        for key in ("zero_fraction", "count_histogram", "spikes", "spikes_graded", "firing_rate",
                    "spikes_per_element", "neuron_updates", "T", "elements", "tokens"):
            self.assertEqual(c.metrics[key], layer[key], key)
        self.assertEqual(c.zero_fraction, layer["zero_fraction"])
        self.assertEqual(c.count_histogram, layer["count_histogram"])
        self.assertAlmostEqual(c.metrics["reconstruction_rel_error"], layer["reconstruction_rel_error"], places=12)
        # run() mirrors the CLI: the same report (the run object names the same source).
        report = spikesim.run(self.trace, coding="bitwise", no_raster=True)
        self.assertEqual(layer_differences(report["layers"][0], layer), [])
        self.assertEqual(report["run"]["coding"], "bitwise")

    def test_options_and_layout(self):
        c = spikesim.code(self.x, coding="ternary", k=3.0, granularity="tensor")
        self.assertEqual(len(set(c.v_th.tolist())), 1)
        c = spikesim.code(self.x, coding="bitwise", T=8)
        self.assertEqual(c.T, 8)
        # a non-contiguous / float64 array is converted, with the same result as its float32 copy
        xt = np.asfortranarray(self.x.astype(np.float64))
        np.testing.assert_array_equal(spikesim.code(xt).counts, spikesim.code(self.x).counts)
        hist = spikesim.code(self.x, coding="ternary").count_histogram
        self.assertAlmostEqual(sum(hist), 1.0, places=12)

    def test_errors_carry_the_cpp_message(self):
        with self.assertRaisesRegex(spikesim.Error, r"2-D array.*got 1-D shape \(96\)"):
            spikesim.code(self.x[0])
        with self.assertRaisesRegex(spikesim.Error, r"3-D"):
            spikesim.code(self.x.reshape(2, 12, 96))
        bad = self.x.copy()
        bad[3, 5] = np.nan
        with self.assertRaisesRegex(spikesim.Error, r"element \[3, 5\] = nan is not finite"):
            spikesim.code(bad)
        with self.assertRaisesRegex(spikesim.Error, r"unknown coding 'morse' \(expected binary, ternary"):
            spikesim.code(self.x, coding="morse")
        with self.assertRaisesRegex(spikesim.Error, "granularity|'column'"):
            spikesim.code(self.x, granularity="column")
        with self.assertRaisesRegex(spikesim.Error, "k = -1"):
            spikesim.code(self.x, k=-1)
        with self.assertRaisesRegex(spikesim.Error, "T = 0"):
            spikesim.code(self.x, T=0)
        with self.assertRaisesRegex(spikesim.Error, r"(?i)fixed|steps|T"):
            spikesim.code(self.x * 1000, coding="bitwise", T=1, v_th=1e-3)
        with self.assertRaisesRegex(TypeError, "numpy array"):
            spikesim.code([[1.0, 2.0]])
        self.assertTrue(issubclass(spikesim.Error, ValueError))


class Energy(unittest.TestCase):
    def test_profiles_and_estimate(self):
        loihi = spikesim.Profile.load("loihi")
        self.assertEqual(loihi.name, "loihi")
        self.assertTrue(loihi.has_spiking)
        self.assertEqual(spikesim.Profile.load(loihi.file).name, "loihi")
        with self.assertRaisesRegex(spikesim.Error, "nosuchchip"):
            spikesim.Profile.load("nosuchchip")
        c = spikesim.code(outlier_rows(16, 64, 1), coding="ternary")
        counters = dict(c.counters)
        counters["sops"] = counters["effective_sops"] = counters["spikes"] * 128
        counters["weight_words_read"] = counters["effective_sops"]
        counters["dense_macs"] = 16 * 64 * 128
        e = spikesim.estimate(counters, loihi)
        terms = ["compute", "weight_memory", "state_memory", "routing", "static"]
        sp = e["spiking"]
        self.assertGreater(sp["total"]["nominal"], 0)
        for bound in ("low", "nominal", "high"):
            total = sum(sp[t][bound] for t in terms if t in sp)
            self.assertAlmostEqual(total, sp["total"][bound], delta=1e-9 * abs(total))
        self.assertLessEqual(sp["total"]["low"], sp["total"]["nominal"])
        # twice the spike-driven counters cost more
        more = dict(counters, spikes=2 * counters["spikes"], sops=2 * counters["sops"])
        self.assertGreater(spikesim.estimate(more, "loihi")["spiking"]["total"]["nominal"], sp["total"]["nominal"])
        with self.assertRaisesRegex(spikesim.Error, "unknown field 'spokes'"):
            spikesim.estimate({"spokes": 1}, loihi)

    def test_break_even(self):
        c = spikesim.code(outlier_rows(16, 64, 2), coding="ternary")
        counters = dict(c.counters)
        counters["sops"] = counters["effective_sops"] = counters["weight_words_read"] = counters["spikes"] * 128
        counters["dense_macs"] = 16 * 64 * 128
        counters["dense_weight_words"] = 64 * 128
        s = counters["sops"] / counters["dense_macs"]
        checked_line = 0
        for spiking, dense in (("loihi", "h100-bf16-compute"), ("horowitz45-int8", "horowitz45-int8")):
            b = spikesim.break_even(counters, spiking, dense)
            self.assertAlmostEqual(b["s_measured"], s)
            E, F, D = (b[k]["nominal"] for k in ("spiking_pj", "spiking_fixed_pj", "dense_pj"))
            self.assertAlmostEqual(E, spikesim.estimate(counters, spiking)["spiking"]["total"]["nominal"], delta=1e-9 * E)
            self.assertAlmostEqual(D, spikesim.estimate(counters, dense)["dense"]["total"]["nominal"], delta=1e-9 * D)
            s_star = b["s_star"]["nominal"]
            self.assertIsNotNone(s_star)
            if s_star > 0:  # E(s*) = D on the line through (0, F) and the measured point (s, E)
                self.assertAlmostEqual(F + (E - F) * s_star / s, D, delta=1e-9 * D)
                checked_line += 1
            else:  # spiking costs more than dense even without a spike
                self.assertGreaterEqual(F, D)
            self.assertEqual(b["spiking_cheaper"], E < D)
            raw = spikesim.break_even(s_measured=s, spiking_pj=b["spiking_pj"],
                                      spiking_fixed_pj=b["spiking_fixed_pj"], dense_pj=b["dense_pj"])
            self.assertEqual(raw["s_star"], b["s_star"])
        self.assertEqual(checked_line, 1)
        self.assertEqual(spikesim.break_even(s_measured=1.0, spiking_pj=(2, 2, 2), spiking_fixed_pj=(0, 0, 0),
                                             dense_pj=(1, 1, 1))["s_star"]["nominal"], 0.5)
        with self.assertRaisesRegex(spikesim.Error, "'loihi' has no dense side"):
            spikesim.break_even(counters, "loihi", "loihi")


class RunAccount(unittest.TestCase):
    def test_account_mirrors_cli(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "config.json")
            with open(cfg, "w") as f:
                json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
                           "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                           "num_key_value_heads": 2, "vocab_size": 128, "max_position_embeddings": 256}, f)
            out_cli = os.path.join(tmp, "cli")
            spikesim_cli("account", "--config", cfg, "--tokens", 64, "--chunk", 32, "--out", out_cli, "-q")
            report = spikesim.account(cfg, tokens=64, chunk=32, threads=1)
            cli = load_report(out_cli)
            self.assertEqual(len(report["layers"]), len(cli["layers"]))
            for a, b in zip(report["layers"], cli["layers"]):
                self.assertEqual(layer_differences(a, b, rel=0), [], a["name"])
            out = os.path.join(tmp, "kept")
            spikesim.account(cfg, out=out, tokens=32, chunk=32, coding="bitwise", hardware=["loihi", "h100-bf16-compute"])
            self.assertEqual(sorted(load_report(out)["hardware"]), ["h100-bf16-compute", "loihi"])
            with self.assertRaisesRegex(spikesim.Error, r"spikesim account: .*--bogus"):
                spikesim.account(cfg, bogus=1)
            with self.assertRaisesRegex(spikesim.Error, "no-such-file"):
                spikesim.run(os.path.join(tmp, "no-such-file.h5"))


if __name__ == "__main__":
    assert BINARY, "set SPIKESIM_BINARY"
    unittest.main(verbosity=2)
