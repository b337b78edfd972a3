#!/usr/bin/python3
"""Independent float64 numpy reference of the SpikingBrain-7B forward (GLAswaForCausalLM, model_type gla_swa).

Written from the released Hugging Face code and the technical report, not from spikesim's C++:
  BICLab/SpikingBrain-7B @ ef99987167cf7386ab3348312c8c7aa00a6696ee, hf_7B_model/
    (configuration_gla_swa.py, modeling_gla_swa.py, gla_attention.py, window_attention.py, cache.py)
  fla-org/flash-linear-attention v0.1.0 = cb0d1bb0d1ebd850e0c55befd0ffb04062f5007c (the `fla` package that
    requirements.txt pins as flash-linear-attention==0.1): fla/ops/gla/naive.py, fla/modules/layernorm.py
  SpikingBrain technical report (arXiv 2509.05276), SpikingBrain_Report_Eng.pdf in that repository, §2.2.
The full specification with line citations is data/configs/SPIKINGBRAIN.md.

Usage:
  spikingbrain_reference.py CHECKPOINT_DIR --tokens 1,2,3 [--generate N] [--swa-window flash|sdpa] --out result.json

CHECKPOINT_DIR holds config.json and either model.safetensors or model.safetensors.index.json plus its shards
(F32, F16 or BF16 tensors, read here with numpy: u64 header length, JSON header, raw little-endian data).
Prefill runs the parallel (attention-matrix) form of every layer; decode runs token by token with the recurrent
GLA state and a sliding KV window; the script asserts that both give the same logits within 1e-10.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

SCHEMA = "spikesim.spikingbrain_reference.v1"
DECODE_TOLERANCE = 1e-10


class CheckpointError(Exception):
    """A checkpoint that cannot be read as a gla_swa model; the message names the file/tensor/field."""


# ----------------------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------------------

def _bf16_to_f64(raw):
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).astype(np.float64)


_DTYPES = {
    "F64": (8, lambda raw: np.frombuffer(raw, dtype="<f8").astype(np.float64)),
    "F32": (4, lambda raw: np.frombuffer(raw, dtype="<f4").astype(np.float64)),
    "F16": (2, lambda raw: np.frombuffer(raw, dtype="<f2").astype(np.float64)),
    "BF16": (2, _bf16_to_f64),
}


def read_safetensors(path):
    """Returns ({name: float64 array}, {name: dtype string}) of one .safetensors file."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror}") from None
    if len(blob) < 8:
        raise CheckpointError(f"{path}: {len(blob)} bytes, too short for a safetensors header")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise CheckpointError(f"{path}: header length {header_len} exceeds the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: header is not JSON: {e}") from None
    data = memoryview(blob)[8 + header_len:]
    tensors, dtypes = {}, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype")
        if dtype not in _DTYPES:
            raise CheckpointError(f"{path}: tensor {name}: dtype {dtype} not supported (F32, F16, BF16, F64)")
        shape = [int(d) for d in info["shape"]]
        begin, end = (int(o) for o in info["data_offsets"])
        itemsize, decode = _DTYPES[dtype]
        want = itemsize * math.prod(shape)
        if end - begin != want:
            raise CheckpointError(f"{path}: tensor {name}: {end - begin} bytes for shape {shape} {dtype} "
                                  f"(expected {want})")
        if end > len(data) or begin < 0:
            raise CheckpointError(f"{path}: tensor {name}: data [{begin}, {end}) beyond the file's "
                                  f"{len(data)} data bytes (truncated file?)")
        tensors[name] = decode(data[begin:end]).reshape(shape)
        dtypes[name] = dtype
    return tensors, dtypes


def read_checkpoint_tensors(ckpt_dir):
    """All tensors of a checkpoint directory: model.safetensors, or the index json and its shards."""
    index_path = os.path.join(ckpt_dir, "model.safetensors.index.json")
    single_path = os.path.join(ckpt_dir, "model.safetensors")
    tensors, dtypes = {}, {}
    if os.path.exists(index_path):
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        for shard in sorted(set(weight_map.values())):
            t, d = read_safetensors(os.path.join(ckpt_dir, shard))
            for name in t:
                if weight_map.get(name) != shard:
                    raise CheckpointError(f"{shard}: tensor {name} is not listed for this shard in {index_path}")
            tensors.update(t)
            dtypes.update(d)
        for name, shard in weight_map.items():
            if name not in tensors:
                raise CheckpointError(f"{shard}: tensor {name} listed in {index_path} is missing")
    elif os.path.exists(single_path):
        tensors, dtypes = read_safetensors(single_path)
    else:
        raise CheckpointError(f"{ckpt_dir}: neither model.safetensors nor model.safetensors.index.json")
    return tensors, dtypes


# ----------------------------------------------------------------------------------------------------------
# config.json (defaults: hf_7B_model/configuration_gla_swa.py:29-75)
# ----------------------------------------------------------------------------------------------------------

class Config:
    def __init__(self, raw, path="config.json"):
        def get(key, default):
            return raw[key] if key in raw and raw[key] is not None else default

        mt = raw.get("model_type", "gla_swa")
        if mt != "gla_swa":
            raise CheckpointError(f"{path}: model_type {mt!r}, expected 'gla_swa'")
        self.vocab_size = int(get("vocab_size", 152064))
        self.hidden_size = int(get("hidden_size", 3584))
        self.num_layers = int(get("num_hidden_layers", 28))
        self.num_heads = int(get("num_attention_heads", 28))
        # configuration_gla_swa.py:62: None -> num_attention_heads
        self.num_kv_heads = int(get("num_key_value_heads", self.num_heads))
        self.intermediate_size = int(get("intermediate_size", 18944))
        self.hidden_act = get("hidden_act", "swish")
        self.sliding_window = get("sliding_window", 4096)
        self.norm_eps = float(get("norm_eps", 1e-6))
        self.rope_theta = float(get("rope_theta", 1e6))
        self.use_short_conv = bool(get("use_short_conv", False))
        self.attn_mode = get("attn_mode", "chunk")
        self.tie_word_embeddings = bool(get("tie_word_embeddings", False))
        # Not config fields of the release: GatedLinearAttention's constructor defaults (gla_attention.py:48-49),
        # never passed by HybridBlock (modeling_gla_swa.py:75-85). Optional spikesim extensions here.
        self.gate_logit_normalizer = float(get("gate_logit_normalizer", 16))
        self.gate_low_rank_dim = raw.get("gate_low_rank_dim")
        # configuration_gla_swa.py:75 sets odd layers; PretrainedConfig.__init__(**kwargs) then sets a stored
        # `attn_layers` over it, so a list in config.json wins.
        default_attn = list(range(1, self.num_layers, 2))
        attn_layers = raw.get("attn_layers", default_attn)
        if not isinstance(attn_layers, list) or not all(isinstance(i, int) for i in attn_layers):
            raise CheckpointError(f"{path}: attn_layers must be a list of layer indices, got {attn_layers!r}")
        for i in attn_layers:
            if not 0 <= i < self.num_layers:
                raise CheckpointError(f"{path}: attn_layers entry {i} outside [0, {self.num_layers})")
        self.attn_layers = sorted(set(attn_layers))
        self.layer_types = ["swa" if i in self.attn_layers else "gla" for i in range(self.num_layers)]
        if "layer_types" in raw:  # spikesim schema (data/configs/README.md): must agree with attn_layers
            lt = raw["layer_types"]
            if not isinstance(lt, list) or len(lt) != self.num_layers:
                raise CheckpointError(f"{path}: layer_types must list {self.num_layers} layer types")
            for i, t in enumerate(lt):
                if t not in ("gla", "swa"):
                    raise CheckpointError(f"{path}: layer_types[{i}] = {t!r}: unknown layer type for gla_swa "
                                          f"(known: 'gla', 'swa')")
            if lt != self.layer_types and "attn_layers" in raw:
                raise CheckpointError(f"{path}: layer_types {lt} disagrees with attn_layers {attn_layers}")
            self.layer_types = list(lt)
            self.attn_layers = [i for i, t in enumerate(lt) if t == "swa"]

        if self.hidden_size % self.num_heads:
            raise CheckpointError(f"{path}: hidden_size {self.hidden_size} not divisible by "
                                  f"num_attention_heads {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise CheckpointError(f"{path}: num_attention_heads {self.num_heads} not divisible by "
                                  f"num_key_value_heads {self.num_kv_heads}")
        self.head_dim = self.hidden_size // self.num_heads  # gla_attention.py:66, window_attention.py:111
        if self.head_dim % 2:
            raise CheckpointError(f"{path}: head_dim {self.head_dim} is odd; RoPE needs an even head_dim")
        if self.hidden_act not in ("swish", "silu"):
            raise CheckpointError(f"{path}: hidden_act {self.hidden_act!r} not supported (swish/silu)")
        if self.use_short_conv:
            raise CheckpointError(f"{path}: use_short_conv=true is not supported (the release uses false; its "
                                  f"short-conv decode path never stores updated conv states, gla_attention.py:125-127, :162)")
        if self.attn_mode not in ("chunk", "fused_recurrent", "fused_chunk"):
            raise CheckpointError(f"{path}: attn_mode {self.attn_mode!r} (gla_attention.py:69 allows chunk, "
                                  f"fused_recurrent, fused_chunk)")
        if self.attn_layers:
            if not isinstance(self.sliding_window, int) or isinstance(self.sliding_window, bool) \
                    or self.sliding_window <= 0:
                raise CheckpointError(f"{path}: sliding_window must be a positive integer, got "
                                      f"{self.sliding_window!r}")
        if not self.norm_eps > 0:
            raise CheckpointError(f"{path}: norm_eps must be positive, got {self.norm_eps}")
        if self.gate_logit_normalizer <= 0:
            raise CheckpointError(f"{path}: gate_logit_normalizer must be positive")


def expected_shapes(cfg, gk_layout):
    """{tensor name: shape} of the release's module tree (modeling_gla_swa.py, gla_attention.py,
    window_attention.py). gk_layout: 'low_rank' (hf_7B_model) or 'merged' (W8ASpike/gla_attention.py:82)."""
    H, D, Hkv, E, F = cfg.num_heads, cfg.head_dim, cfg.num_kv_heads, cfg.hidden_size, cfg.intermediate_size
    s = {"model.embeddings.weight": (cfg.vocab_size, E), "model.norm.weight": (E,)}
    if not cfg.tie_word_embeddings:
        s["lm_head.weight"] = (cfg.vocab_size, E)
    for i, t in enumerate(cfg.layer_types):
        p = f"model.layers.{i}."
        s[p + "attn_norm.weight"] = (E,)
        s[p + "mlp_norm.weight"] = (E,)
        s[p + "mlp.gate_proj.weight"] = (F, E)
        s[p + "mlp.up_proj.weight"] = (F, E)
        s[p + "mlp.down_proj.weight"] = (E, F)
        a = p + "attn."
        s[a + "q_proj.weight"] = (H * D, E)
        s[a + "q_proj.bias"] = (H * D,)
        s[a + "k_proj.weight"] = (Hkv * D, E)
        s[a + "k_proj.bias"] = (Hkv * D,)
        s[a + "v_proj.weight"] = (Hkv * D, E)
        s[a + "v_proj.bias"] = (Hkv * D,)
        s[a + "o_proj.weight"] = (E, H * D)
        if t == "gla":
            if gk_layout == "merged":
                s[a + "gk_proj.weight"] = (Hkv * D, E)
                s[a + "gk_proj.bias"] = (Hkv * D,)
            else:
                r = cfg.gate_low_rank_dim
                s[a + "gk_proj.0.weight"] = (r, E)
                s[a + "gk_proj.1.weight"] = (Hkv * D, r)
                s[a + "gk_proj.1.bias"] = (Hkv * D,)
            s[a + "g_norm.weight"] = (D,)
    return s


class Model:
    def __init__(self, ckpt_dir):
        cfg_path = os.path.join(ckpt_dir, "config.json")
        try:
            with open(cfg_path) as f:
                raw = json.load(f)
        except OSError as e:
            raise CheckpointError(f"{cfg_path}: cannot read: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{cfg_path}: not JSON: {e}") from None
        self.cfg = cfg = Config(raw, cfg_path)
        self.w, self.dtypes = read_checkpoint_tensors(ckpt_dir)
        gla = [i for i, t in enumerate(cfg.layer_types) if t == "gla"]
        layout = "low_rank"
        if gla:
            p = f"model.layers.{gla[0]}.attn."
            if p + "gk_proj.weight" in self.w and p + "gk_proj.0.weight" not in self.w:
                layout = "merged"
            elif p + "gk_proj.0.weight" in self.w:
                r = self.w[p + "gk_proj.0.weight"].shape[0]
                if cfg.gate_low_rank_dim is not None and int(cfg.gate_low_rank_dim) != r:
                    raise CheckpointError(f"{cfg_path}: gate_low_rank_dim {cfg.gate_low_rank_dim} but tensor "
                                          f"{p}gk_proj.0.weight has {r} rows")
                cfg.gate_low_rank_dim = r
            else:
                raise CheckpointError(f"{ckpt_dir}: tensor {p}gk_proj.0.weight missing (GLA layer {gla[0]} "
                                      f"needs gk_proj.0/gk_proj.1 or a merged gk_proj)")
        self.gk_layout = layout
        want = expected_shapes(cfg, layout)
        for name, shape in want.items():
            if name not in self.w:
                raise CheckpointError(f"{ckpt_dir}: tensor {name} missing (expected shape {list(shape)})")
            if tuple(self.w[name].shape) != tuple(shape):
                raise CheckpointError(f"{ckpt_dir}: tensor {name} has shape {list(self.w[name].shape)}, "
                                      f"expected {list(shape)}")
        extra = sorted(set(self.w) - set(want))
        if extra:
            raise CheckpointError(f"{ckpt_dir}: unexpected tensor {extra[0]} (and {len(extra) - 1} more); "
                                  f"W8ASpike fake-quant scales and short-conv weights are not supported")
        if cfg.tie_word_embeddings:
            self.w["lm_head.weight"] = self.w["model.embeddings.weight"]


# ----------------------------------------------------------------------------------------------------------
# math
# ----------------------------------------------------------------------------------------------------------

def rms_norm(x, weight, eps):
    """fla RMSNorm (fla/modules/layernorm.py:51-72 reference, kernel :126-140): x / sqrt(mean(x^2) + eps) * w."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x):
    return x / (1.0 + np.exp(-x))


def log_sigmoid(x):
    # log(1 / (1 + e^-x)) = -softplus(-x), computed without overflow
    return -(np.logaddexp(0.0, -x))


def linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def rope_cos_sin(positions, head_dim, theta):
    """window_attention.py:23-47: inv_freq = theta^-(2i/d), emb = cat(freqs, freqs)."""
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    freqs = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def apply_rope(x, cos, sin):
    """x: [T, heads, D]; rotate_half style (window_attention.py:49-79)."""
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos[:, None, :] + rot * sin[:, None, :]


class Reference:
    def __init__(self, model, swa_window="flash"):
        self.m = model
        self.cfg = model.cfg
        # Keys a query sees in an SWA layer: flash-attn window_size=(W, 0) (window_attention.py:215) lets query i
        # attend keys j with i - W <= j <= i, i.e. itself and the W previous tokens; the release's SDPA variant
        # (window_attention_sdpa.py:147) allows i - W < j <= i, i.e. W keys.
        if swa_window not in ("flash", "sdpa"):
            raise ValueError(swa_window)
        self.swa_window = swa_window
        W = self.cfg.sliding_window if isinstance(self.cfg.sliding_window, int) else 0
        self.keys_seen = W + 1 if swa_window == "flash" else W

    def _p(self, i, name):
        return self.m.w[f"model.layers.{i}.{name}"]

    # --- projections shared by prefill and decode; x: [T, E] -------------------------------------------------
    def _gla_inputs(self, i, x):
        cfg, p = self.cfg, self._p
        T = x.shape[0]
        H, Hkv, D = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        q = np.maximum(linear(x, p(i, "attn.q_proj.weight"), p(i, "attn.q_proj.bias")), 0.0)  # ReLU feature map
        k = np.maximum(linear(x, p(i, "attn.k_proj.weight"), p(i, "attn.k_proj.bias")), 0.0)
        v = linear(x, p(i, "attn.v_proj.weight"), p(i, "attn.v_proj.bias"))
        if self.m.gk_layout == "merged":
            gk = linear(x, p(i, "attn.gk_proj.weight"), p(i, "attn.gk_proj.bias"))
        else:
            gk = linear(linear(x, p(i, "attn.gk_proj.0.weight")), p(i, "attn.gk_proj.1.weight"),
                        p(i, "attn.gk_proj.1.bias"))
        g = log_sigmoid(gk) / cfg.gate_logit_normalizer  # gla_attention.py:145
        return (q.reshape(T, H, D), k.reshape(T, Hkv, D), v.reshape(T, Hkv, D), g.reshape(T, Hkv, D))

    def _gla_out(self, i, o):
        """o: [T, H, D] -> per-head g_norm (one [D] weight shared by the heads), o_proj without bias."""
        cfg = self.cfg
        o = rms_norm(o, self._p(i, "attn.g_norm.weight"), cfg.norm_eps)  # gla_attention.py:170
        return linear(o.reshape(o.shape[0], -1), self._p(i, "attn.o_proj.weight"))

    def _swa_inputs(self, i, x, positions):
        cfg, p = self.cfg, self._p
        T = x.shape[0]
        H, Hkv, D = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        q = linear(x, p(i, "attn.q_proj.weight"), p(i, "attn.q_proj.bias")).reshape(T, H, D)
        k = linear(x, p(i, "attn.k_proj.weight"), p(i, "attn.k_proj.bias")).reshape(T, Hkv, D)
        v = linear(x, p(i, "attn.v_proj.weight"), p(i, "attn.v_proj.bias")).reshape(T, Hkv, D)
        cos, sin = rope_cos_sin(positions, D, cfg.rope_theta)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def _mlp(self, i, h):
        p = self._p
        y = rms_norm(h, p(i, "mlp_norm.weight"), self.cfg.norm_eps)
        return linear(silu(linear(y, p(i, "mlp.gate_proj.weight"))) * linear(y, p(i, "mlp.up_proj.weight")),
                      p(i, "mlp.down_proj.weight"))

    def _logits(self, h):
        h = rms_norm(h, self.m.w["model.norm.weight"], self.cfg.norm_eps)
        return linear(h, self.m.w["lm_head.weight"])

    def _kv_head(self, h):
        # repeat_kv (gla_attention.py:24-33): query head h uses key/value head h // (H / Hkv)
        return h // (self.cfg.num_heads // self.cfg.num_kv_heads)

    # --- prefill: parallel forms ----------------------------------------------------------------------------
    def prefill(self, tokens):
        cfg = self.cfg
        tokens = np.asarray(tokens, dtype=np.int64)
        T = len(tokens)
        h = self.m.w["model.embeddings.weight"][tokens]
        pos = np.arange(T)
        for i, kind in enumerate(cfg.layer_types):
            x = rms_norm(h, self._p(i, "attn_norm.weight"), cfg.norm_eps)
            if kind == "gla":
                q, k, v, g = self._gla_inputs(i, x)
                G = np.cumsum(g, axis=0)  # [T, Hkv, D] cumulative log decay
                o = np.zeros((T, cfg.num_heads, cfg.head_dim))
                causal = pos[:, None] >= pos[None, :]
                for hh in range(cfg.num_heads):
                    j = self._kv_head(hh)
                    # A[t, s] = sum_d q[t,d] k[s,d] exp(G[t,d] - G[s,d]) for s <= t  (G[t]-G[s] <= 0)
                    diff = G[:, None, j, :] - G[None, :, j, :]
                    decay = np.exp(np.where(causal[:, :, None], diff, -np.inf))
                    A = np.einsum("td,sd,tsd->ts", q[:, hh, :], k[:, j, :], decay)
                    o[:, hh, :] = (A @ v[:, j, :]) * cfg.head_dim ** -0.5
                a = self._gla_out(i, o)
            else:
                q, k, v = self._swa_inputs(i, x, pos)
                visible = (pos[None, :] <= pos[:, None]) & (pos[None, :] > pos[:, None] - self.keys_seen)
                o = np.zeros((T, cfg.num_heads, cfg.head_dim))
                for hh in range(cfg.num_heads):
                    j = self._kv_head(hh)
                    s = (q[:, hh, :] @ k[:, j, :].T) * cfg.head_dim ** -0.5
                    s = np.where(visible, s, -np.inf)
                    s = np.exp(s - s.max(axis=1, keepdims=True))
                    o[:, hh, :] = (s / s.sum(axis=1, keepdims=True)) @ v[:, j, :]
                a = linear(o.reshape(T, -1), self._p(i, "attn.o_proj.weight"))
            h = h + a                    # mlp_norm(hidden, residual, prenorm=True) returns the sum as residual
            h = h + self._mlp(i, h)      # modeling_gla_swa.py:104-121
        return self._logits(h)

    # --- decode: recurrent forms ----------------------------------------------------------------------------
    def new_state(self):
        cfg = self.cfg
        st = []
        for kind in cfg.layer_types:
            if kind == "gla":
                # S per key/value head: heads of one group share k, v, g, hence the same state
                st.append({"S": np.zeros((cfg.num_kv_heads, cfg.head_dim, cfg.head_dim))})
            else:
                st.append({"k": [], "v": []})
        return {"layers": st, "pos": 0}

    def step(self, state, token):
        cfg = self.cfg
        p = state["pos"]
        h = self.m.w["model.embeddings.weight"][np.array([token])]
        for i, kind in enumerate(cfg.layer_types):
            ls = state["layers"][i]
            x = rms_norm(h, self._p(i, "attn_norm.weight"), cfg.norm_eps)
            if kind == "gla":
                q, k, v, g = self._gla_inputs(i, x)
                S = ls["S"]
                # S_t = diag(exp g_t) S_{t-1} + k_t^T v_t  (fla/ops/gla/naive.py:30-37)
                S = np.exp(g[0])[:, :, None] * S + k[0][:, :, None] * v[0][:, None, :]
                ls["S"] = S
                o = np.zeros((1, cfg.num_heads, cfg.head_dim))
                for hh in range(cfg.num_heads):
                    o[0, hh] = (q[0, hh] * cfg.head_dim ** -0.5) @ S[self._kv_head(hh)]
                a = self._gla_out(i, o)
            else:
                q, k, v = self._swa_inputs(i, x, [p])
                ls["k"].append(k[0])
                ls["v"].append(v[0])
                del ls["k"][:-self.keys_seen]
                del ls["v"][:-self.keys_seen]
                K = np.stack(ls["k"])  # [n, Hkv, D], n = min(p + 1, keys_seen)
                V = np.stack(ls["v"])
                o = np.zeros((1, cfg.num_heads, cfg.head_dim))
                for hh in range(cfg.num_heads):
                    j = self._kv_head(hh)
                    s = (K[:, j, :] @ q[0, hh]) * cfg.head_dim ** -0.5
                    s = np.exp(s - s.max())
                    o[0, hh] = (s / s.sum()) @ V[:, j, :]
                a = linear(o.reshape(1, -1), self._p(i, "attn.o_proj.weight"))
            h = h + a
            h = h + self._mlp(i, h)
        state["pos"] = p + 1
        return self._logits(h)[0]


def run(ckpt_dir, tokens, generate=0, swa_window="flash"):
    model = Model(ckpt_dir)
    cfg = model.cfg
    for t in tokens:
        if not 0 <= t < cfg.vocab_size:
            raise CheckpointError(f"token {t} outside the vocabulary [0, {cfg.vocab_size})")
    ref = Reference(model, swa_window)
    prefill = ref.prefill(tokens)
    state = ref.new_state()
    decode = np.stack([ref.step(state, t) for t in tokens])
    generated, gen_logits = [], []
    last = decode[-1]
    for _ in range(generate):
        nxt = int(np.argmax(last))  # first index of the maximum
        generated.append(nxt)
        last = ref.step(state, nxt)
        gen_logits.append(last)
    # prefill over prompt + generated tokens must reproduce every decode step
    all_tokens = list(tokens) + generated
    full = ref.prefill(all_tokens) if generated else prefill
    dec_all = np.concatenate([decode, np.array(gen_logits).reshape(-1, cfg.vocab_size)], axis=0)
    max_diff = float(np.max(np.abs(full - dec_all)))
    if not max_diff <= DECODE_TOLERANCE:
        raise AssertionError(f"{ckpt_dir}: decode differs from prefill by {max_diff:.3e} > {DECODE_TOLERANCE}")
    srt = np.sort(np.concatenate([prefill, np.array(gen_logits).reshape(-1, cfg.vocab_size)]), axis=1)
    margin = float(np.min(srt[:, -1] - srt[:, -2]))
    # the logits rows whose argmax chose a generated token: the last prompt position and all but the last step
    greedy_rows = [decode[-1]] + gen_logits[:-1] if generated else []
    greedy_margin = min((float(np.diff(np.sort(r)[-2:])[0]) for r in greedy_rows), default=None)
    return {
        "schema": SCHEMA,
        "checkpoint": os.path.basename(os.path.normpath(ckpt_dir)),
        "dtypes": sorted(set(model.dtypes.values())),
        "layer_types": cfg.layer_types,
        "sliding_window": cfg.sliding_window,
        "swa_window": swa_window,
        "swa_keys_seen": ref.keys_seen,
        "gk_layout": model.gk_layout,
        "tokens": [int(t) for t in tokens],
        "prefill_logits": prefill.tolist(),
        "decode_max_abs_diff_vs_prefill": max_diff,
        "generated_tokens": generated,
        "generated_logits": [g.tolist() for g in gen_logits],
        "min_top1_margin": margin,
        "min_greedy_margin": greedy_margin,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids (the prompt)")
    ap.add_argument("--generate", type=int, default=0, help="greedy tokens to generate after the prompt")
    ap.add_argument("--swa-window", choices=["flash", "sdpa"], default="flash",
                    help="flash: a token sees itself and the W previous tokens (flash-attn window_size=(W, 0), "
                         "the release's default path); sdpa: W keys (window_attention_sdpa.py)")
    ap.add_argument("--out", required=True, help="result JSON")
    args = ap.parse_args(argv)
    try:
        tokens = [int(t) for t in args.tokens.split(",") if t.strip() != ""]
    except ValueError:
        ap.error(f"--tokens: not a comma-separated integer list: {args.tokens!r}")
    if not tokens:
        ap.error("--tokens: empty")
    try:
        result = run(args.checkpoint, tokens, args.generate, args.swa_window)
    except CheckpointError as e:
        print(f"spikingbrain_reference: error: {e}", file=sys.stderr)
        return 2
    tmp = args.out + ".partial"
    with open(tmp, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
