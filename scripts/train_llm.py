#!/usr/bin/python3
"""Trains spikesim's own default LLM: a small Llama-architecture model on the King James Bible text from
Debian's bible-kjv-text package (public domain), with a BPE tokenizer in llama2.c's tokenizer format.

    /usr/bin/python3 scripts/train_llm.py prepare --work out/kjv            # corpus + tokenizer (no torch)
    /usr/bin/python3 scripts/train_llm.py train --work out/kjv --out data/models/kjv-llama [--device cuda]
    /usr/bin/python3 scripts/train_llm.py train --arch gla_swa --work out/kjv --out data/models/kjv-gla-swa \
        --window 64 --device cuda

`--arch gla_swa` trains SpikingBrain-7B's architecture instead (GLAswaForCausalLM of BICLab/SpikingBrain-7B,
data/configs/SPIKINGBRAIN.md): gated linear attention layers (ReLU q/k, low-rank gate logsigmoid(gk) / 16,
per-head g_norm; trained in a chunked parallel form) alternating with sliding-window softmax attention layers
(a token sees itself and `--window` previous tokens, flash-attn's window_size=(W, 0)), q/k/v biases, untied
lm_head, written in the release's tensor names and config.json. Its reference_logits.json comes from
scripts/spikingbrain_reference.py (the independent float64 numpy forward) on the saved file.

`prepare` dumps the text with Debian's `bible` program (package bible-kjv; the text itself is in
bible-kjv-text's /usr/lib/bible.data), splits it into chapters (every 20th chapter is held out for
validation), trains a byte-fallback BPE whose merges are scored by priority (score = -rank, the way
llama2.c's run.c applies them), and encodes the corpus exactly as run.c's encode() would (BOS, a dummy-prefix
space, greedy merges by score). `train` needs PyTorch (Debian's python3-torch on CPU, or CUDA); it writes
config.json + model.safetensors (HF LlamaForCausalLM names, rotate_half RoPE, float16), tokenizer.bin,
training_log.json and reference_logits.json (float64 logits of the saved weights on a fixed prompt, which
spikesim's tests compare with its own forward pass).

Nothing here is needed to run spikesim: the outputs are committed in data/models/kjv-llama/.
"""

import argparse
import collections
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

# ----------------------------------------------------------------------------------------------- corpus

BIBLE_RANGE = "Genesis 1:1-Revelation 22:21"
VALIDATION_EVERY = 20  # chapter i is held out when i % 20 == 10


def dump_kjv():
    """The whole KJV text from Debian's `bible` program: chapter headers, then '  N verse' lines."""
    if shutil.which("bible") is None:
        sys.exit("train_llm.py: the `bible` program is missing: apt-get install bible-kjv")
    out = subprocess.run(["bible", "-l100000", BIBLE_RANGE], check=True, capture_output=True, text=True)
    return out.stdout


def parse_chapters(text):
    """[(title, [verse text, ...]), ...] in canonical order."""
    chapters = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^\s+(\d+) (.*)$", line)
        if m:
            if not chapters:
                raise ValueError("verse before the first chapter header: " + line)
            chapters[-1][1].append(m.group(2).strip())
        else:
            chapters.append((line.strip(), []))
    return chapters


def chapter_text(verses):
    """A chapter as running prose: its verses joined by single spaces."""
    return " ".join(verses)


# Pre-tokenization: a space belongs to the word after it; pieces never cross these chunks, so run.c's
# greedy merging over a whole text gives the same tokens as merging each chunk on its own.
CHUNK = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9 \n]|\n| ")


def chunks(text):
    parts = CHUNK.findall(text)
    assert "".join(parts) == text
    return parts


# ------------------------------------------------------------------------------------------- tokenizer

SPECIALS = ["<unk>", "\n<s>\n", "\n</s>\n"]
BOS, EOS = 1, 2
CHAR_SCORE = -1e6


class Tokenizer:
    """llama2.c tokenizer: pieces, scores; encode() is run.c's algorithm."""

    def __init__(self, pieces, scores):
        self.pieces = pieces
        self.scores = scores
        self.index = {}
        for i, p in enumerate(pieces):
            self.index.setdefault(p, i)
        self.cache = {}

    def encode_chunk(self, chunk):
        cached = self.cache.get(chunk)
        if cached is not None:
            return cached
        toks = []
        for ch in chunk:  # the corpus is ASCII: one byte per character
            i = self.index.get(ch)
            toks.extend([i] if i is not None else [b + 3 for b in ch.encode("utf-8")])
        while True:
            best, best_i, best_id = -1e10, -1, -1
            for i in range(len(toks) - 1):
                j = self.index.get(self.pieces[toks[i]] + self.pieces[toks[i + 1]])
                if j is not None and self.scores[j] > best:
                    best, best_i, best_id = self.scores[j], i, j
            if best_i < 0:
                break
            toks[best_i : best_i + 2] = [best_id]
        self.cache[chunk] = toks
        return toks

    def encode(self, text, bos=True):
        """run.c encode(text, bos, eos=0): BOS, dummy prefix ' ' when text is not empty, merges."""
        ids = [BOS] if bos else []
        if text:
            for c in chunks(" " + text):
                ids.extend(self.encode_chunk(c))
        return ids

    def decode(self, ids):
        out, prev = [], BOS
        for i, t in enumerate(ids):
            if i == 0 and t == BOS:
                continue
            p = self.pieces[t]
            if prev == BOS and p.startswith(" "):
                p = p[1:]
            m = re.fullmatch(r"<0x([0-9A-F]{2})>", p)
            out.append(chr(int(m.group(1), 16)) if m else p)
            prev = t
        return "".join(out)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("i", max(len(p.encode("utf-8")) for p in self.pieces)))
            for p, s in zip(self.pieces, self.scores):
                b = p.encode("utf-8")
                f.write(struct.pack("fi", s, len(b)))
                f.write(b)


def train_bpe(texts, vocab_size):
    """Byte-pair merges over chunk frequencies. Vocabulary: specials, the 256 byte pieces (run.c's byte
    fallback uses id = byte + 3), every character of the corpus except newline, then merged pieces with
    score -rank (earlier merges win)."""
    freq = collections.Counter()
    for t in texts:
        freq.update(chunks(" " + t))
    chars = sorted({ch for w in freq for ch in w if ch != "\n"})
    pieces = SPECIALS + ["<0x%02X>" % b for b in range(256)] + chars
    scores = [0.0] * (3 + 256) + [CHAR_SCORE] * len(chars)
    known = set(pieces)
    words = [list(w) for w in freq]
    counts = [freq[w] for w in freq]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[a, b] += counts[wi]
            where[a, b].add(wi)
    rank = 0
    while len(pieces) < vocab_size and pairs:
        (a, b), n = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if n < 2:
            break
        merged = a + b
        for wi in list(where[a, b]):
            w = words[wi]
            for x, y in zip(w, w[1:]):
                pairs[x, y] -= counts[wi]
                if pairs[x, y] <= 0:
                    del pairs[x, y]
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                pairs[x, y] += counts[wi]
                where[x, y].add(wi)
        pairs.pop((a, b), None)
        where.pop((a, b), None)
        if merged not in known:
            known.add(merged)
            pieces.append(merged)
            scores.append(float(-rank))
            rank += 1
    return Tokenizer(pieces, scores)


def prepare(args):
    os.makedirs(args.work, exist_ok=True)
    chapters = parse_chapters(dump_kjv())
    if len(chapters) != 1189:
        sys.exit(f"train_llm.py: expected the 1189 chapters of the KJV, parsed {len(chapters)}")
    split = {"train": [], "validation": []}
    for i, (title, verses) in enumerate(chapters):
        split["validation" if i % VALIDATION_EVERY == VALIDATION_EVERY // 2 else "train"].append((title, verses))
    tok = train_bpe([chapter_text(v) for _, v in split["train"]], args.vocab)
    tok.save(os.path.join(args.work, "tokenizer.bin"))
    arrays = {}
    for name, chs in split.items():
        stream, starts = [], []  # token ids; positions where a verse begins (windows start there after a BOS)
        for _, verses in chs:
            stream.append(BOS)
            for k, v in enumerate(verses):
                starts.append(len(stream))
                # verse k of a chapter: the dummy prefix (k = 0) or the joining space gives its leading " "
                for c in chunks(" " + v):
                    stream.extend(tok.encode_chunk(c))
            # chapters follow each other; the next BOS marks the boundary
        arrays[name] = np.array(stream, dtype=np.uint16)
        arrays[name + "_starts"] = np.array(starts, dtype=np.int64)
        assert tok.decode(stream[: stream.index(BOS, 1) if BOS in stream[1:] else len(stream)]) == chapter_text(chs[0][1])
    np.savez(os.path.join(args.work, "corpus.npz"), **arrays)
    meta = {
        "source": "Debian package bible-kjv-text (/usr/lib/bible.data) dumped with bible-kjv's `bible -l100000 '"
        + BIBLE_RANGE + "'`",
        "chapters": {k: len(v) for k, v in split.items()},
        "validation_rule": f"chapter index i (0 = Genesis 1) with i % {VALIDATION_EVERY} == {VALIDATION_EVERY // 2}",
        "tokens": {k: int(arrays[k].size) for k in split},
        "characters": {k: sum(len(chapter_text(v)) for _, v in chs) for k, chs in split.items()},
        "vocab_size": len(tok.pieces),
    }
    with open(os.path.join(args.work, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta, indent=2))


# ------------------------------------------------------------------------------------------------ model


def build_model(torch, cfg):
    nn = torch.nn
    F = torch.nn.functional

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            d, hd = cfg["dim"], cfg["dim"] // cfg["n_heads"]
            self.attn_norm = nn.Parameter(torch.ones(d))
            self.q = nn.Linear(d, cfg["n_heads"] * hd, bias=False)
            self.k = nn.Linear(d, cfg["n_kv_heads"] * hd, bias=False)
            self.v = nn.Linear(d, cfg["n_kv_heads"] * hd, bias=False)
            self.o = nn.Linear(cfg["n_heads"] * hd, d, bias=False)
            self.mlp_norm = nn.Parameter(torch.ones(d))
            self.gate = nn.Linear(d, cfg["hidden_dim"], bias=False)
            self.up = nn.Linear(d, cfg["hidden_dim"], bias=False)
            self.down = nn.Linear(cfg["hidden_dim"], d, bias=False)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab_size"], cfg["dim"])
            self.layers = nn.ModuleList([Layer() for _ in range(cfg["n_layers"])])
            self.norm = nn.Parameter(torch.ones(cfg["dim"]))
            self.drop = nn.Dropout(cfg["dropout"])
            hd = cfg["dim"] // cfg["n_heads"]
            inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
            ang = torch.outer(torch.arange(cfg["seq_len"], dtype=torch.float64), inv)
            self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1), persistent=False)
            self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1), persistent=False)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * cfg["n_layers"]) if name.endswith(("o.weight", "down.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)

        def rms(self, x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["norm_eps"]) * w

        def rope(self, x, T):  # HF rotate_half: pairs (i, i + hd/2)
            cos = self.cos[:T].to(x.dtype)
            sin = self.sin[:T].to(x.dtype)
            h = x.shape[-1] // 2
            rot = torch.cat([-x[..., h:], x[..., :h]], -1)
            return x * cos + rot * sin

        def forward(self, idx):
            B, T = idx.shape
            H, KV = cfg["n_heads"], cfg["n_kv_heads"]
            hd = cfg["dim"] // H
            mask = torch.full((T, T), float("-inf"), device=idx.device, dtype=self.norm.dtype).triu(1)
            x = self.drop(self.embed(idx))
            for L in self.layers:
                h = self.rms(x, L.attn_norm)
                q = self.rope(L.q(h).view(B, T, H, hd).transpose(1, 2), T)
                k = self.rope(L.k(h).view(B, T, KV, hd).transpose(1, 2), T)
                v = L.v(h).view(B, T, KV, hd).transpose(1, 2)
                k = k.repeat_interleave(H // KV, dim=1)  # query head h reads kv head h // (H / KV)
                v = v.repeat_interleave(H // KV, dim=1)
                att = (q @ k.transpose(-2, -1)) / math.sqrt(hd) + mask
                att = self.drop(F.softmax(att, dim=-1))
                y = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
                x = x + self.drop(L.o(y))
                h = self.rms(x, L.mlp_norm)
                x = x + self.drop(L.down(F.silu(L.gate(h)) * L.up(h)))
            return self.rms(x, self.norm) @ self.embed.weight.t()

    return Model()


def build_gla_swa_model(torch, cfg):
    """SpikingBrain-7B's GLAswaForCausalLM (hf_7B_model/modeling_gla_swa.py, gla_attention.py,
    window_attention.py; spec data/configs/SPIKINGBRAIN.md), layer i softmax SWA iff i in attn_layers."""
    nn = torch.nn
    F = torch.nn.functional
    d, H, KV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    hd = d // H

    class Layer(nn.Module):
        def __init__(self, swa):
            super().__init__()
            self.swa = swa
            self.attn_norm = nn.Parameter(torch.ones(d))
            self.q = nn.Linear(d, H * hd, bias=True)
            self.k = nn.Linear(d, KV * hd, bias=True)
            self.v = nn.Linear(d, KV * hd, bias=True)
            self.o = nn.Linear(H * hd, d, bias=False)
            if not swa:
                self.gk0 = nn.Linear(d, cfg["gate_low_rank"], bias=False)
                self.gk1 = nn.Linear(cfg["gate_low_rank"], KV * hd, bias=True)
                self.g_norm = nn.Parameter(torch.ones(hd))
            self.mlp_norm = nn.Parameter(torch.ones(d))
            self.gate = nn.Linear(d, cfg["hidden_dim"], bias=False)
            self.up = nn.Linear(d, cfg["hidden_dim"], bias=False)
            self.down = nn.Linear(cfg["hidden_dim"], d, bias=False)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab_size"], d)
            self.layers = nn.ModuleList([Layer(i in cfg["attn_layers"]) for i in range(cfg["n_layers"])])
            self.norm = nn.Parameter(torch.ones(d))
            self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
            self.drop = nn.Dropout(cfg["dropout"])
            inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
            ang = torch.outer(torch.arange(cfg["seq_len"], dtype=torch.float64), inv)
            self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1), persistent=False)
            self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1), persistent=False)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * cfg["n_layers"]) if name.endswith(("o.weight", "down.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)
                elif name.endswith("gk1.bias"):  # gate near 1 at the start (exp(logsigmoid(4) / 16) ~ 0.999)
                    nn.init.constant_(p, 4.0)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def rms(self, x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["norm_eps"]) * w

        def rope(self, x, T):
            cos = self.cos[:T].to(x.dtype)
            sin = self.sin[:T].to(x.dtype)
            h = x.shape[-1] // 2
            return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin

        def gla(self, q, k, v, g, chunk=64):
            """o_t = hd^-0.5 q_t S_t, S_t = diag(exp g_t) S_{t-1} + k_t^T v_t, in chunks: within a chunk the
            decays between positions exp(b_t - b_s) (b the cumulative log gate, every exponent <= 0), across
            chunks the carried state. q, k, v, g: [B, H, T, D]."""
            B, Hh, T, D = q.shape
            q = q * D ** -0.5
            S = q.new_zeros(B, Hh, D, D)
            out = []
            for c0 in range(0, T, chunk):
                qc, kc, vc, gc = (t[:, :, c0:c0 + chunk] for t in (q, k, v, g))
                C = qc.shape[2]
                b = gc.cumsum(2)  # [B, H, C, D]
                diff = b[:, :, :, None, :] - b[:, :, None, :, :]  # [B, H, t, s, D]
                causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
                decay = torch.where(causal[None, None, :, :, None], diff, torch.full_like(diff, float("-inf"))).exp()
                a = torch.einsum("bhtd,bhsd,bhtsd->bhts", qc, kc, decay)
                o = a @ vc + (qc * b.exp()) @ S
                last = b[:, :, -1:, :]  # [B, H, 1, D]
                S = last.exp().transpose(2, 3) * S + (kc * (last - b).exp()).transpose(2, 3) @ vc
                out.append(o)
            return torch.cat(out, 2)

        def forward(self, idx):
            B, T = idx.shape
            pos = torch.arange(T, device=idx.device)
            window = (pos[None, :] <= pos[:, None]) & (pos[:, None] - pos[None, :] <= cfg["window"])
            x = self.drop(self.embed(idx))
            for L in self.layers:
                h = self.rms(x, L.attn_norm)
                q = L.q(h).view(B, T, H, hd).transpose(1, 2)
                k = L.k(h).view(B, T, KV, hd).transpose(1, 2).repeat_interleave(H // KV, dim=1)
                v = L.v(h).view(B, T, KV, hd).transpose(1, 2).repeat_interleave(H // KV, dim=1)
                if L.swa:
                    q, k = self.rope(q, T), self.rope(k, T)
                    att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
                    att = att.masked_fill(~window, float("-inf"))
                    y = self.drop(F.softmax(att, dim=-1)) @ v
                else:
                    gk = L.gk1(L.gk0(h)).view(B, T, KV, hd).transpose(1, 2).repeat_interleave(H // KV, dim=1)
                    g = F.logsigmoid(gk) / cfg["gate_logit_normalizer"]
                    y = self.gla(F.relu(q), F.relu(k), v, g)
                    y = self.rms(y, L.g_norm)
                x = x + self.drop(L.o(y.transpose(1, 2).reshape(B, T, H * hd)))
                h = self.rms(x, L.mlp_norm)
                x = x + self.drop(L.down(F.silu(L.gate(h)) * L.up(h)))
            return self.lm_head(self.rms(x, self.norm))

    return Model()


def gla_swa_state(model, cfg):
    """The release's tensor names (data/configs/SPIKINGBRAIN.md §2) -> numpy float32 arrays."""
    out = {"model.embeddings.weight": model.embed.weight}
    for i, L in enumerate(model.layers):
        p = f"model.layers.{i}."
        out[p + "attn_norm.weight"] = L.attn_norm
        for name, lin in (("q_proj", L.q), ("k_proj", L.k), ("v_proj", L.v)):
            out[p + f"attn.{name}.weight"] = lin.weight
            out[p + f"attn.{name}.bias"] = lin.bias
        out[p + "attn.o_proj.weight"] = L.o.weight
        if not L.swa:
            out[p + "attn.gk_proj.0.weight"] = L.gk0.weight
            out[p + "attn.gk_proj.1.weight"] = L.gk1.weight
            out[p + "attn.gk_proj.1.bias"] = L.gk1.bias
            out[p + "attn.g_norm.weight"] = L.g_norm
        out[p + "mlp_norm.weight"] = L.mlp_norm
        out[p + "mlp.gate_proj.weight"] = L.gate.weight
        out[p + "mlp.up_proj.weight"] = L.up.weight
        out[p + "mlp.down_proj.weight"] = L.down.weight
    out["model.norm.weight"] = model.norm
    out["lm_head.weight"] = model.lm_head.weight
    return {k: v.detach().float().cpu().numpy() for k, v in out.items()}


def gla_swa_config(cfg):
    """config.json as the release writes it (W8ASpike/config.json's fields)."""
    return {
        "architectures": ["GLAswaForCausalLM"],
        "model_type": "gla_swa",
        "attn_layers": cfg["attn_layers"],
        "attn_mode": "chunk",
        "hidden_act": "swish",
        "hidden_size": cfg["dim"],
        "intermediate_size": cfg["hidden_dim"],
        "max_position_embeddings": cfg["seq_len"],
        "norm_eps": cfg["norm_eps"],
        "num_attention_heads": cfg["n_heads"],
        "num_hidden_layers": cfg["n_layers"],
        "num_key_value_heads": cfg["n_kv_heads"],
        "rope_theta": cfg["rope_theta"],
        "sliding_window": cfg["window"],
        "tie_word_embeddings": False,
        "use_short_conv": False,
        "vocab_size": cfg["vocab_size"],
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "torch_dtype": "float16",
    }


def hf_state(model, cfg):
    """Hugging Face LlamaForCausalLM tensor names -> numpy float32 arrays."""
    out = {"model.embed_tokens.weight": model.embed.weight}
    for i, L in enumerate(model.layers):
        p = f"model.layers.{i}."
        out[p + "input_layernorm.weight"] = L.attn_norm
        out[p + "self_attn.q_proj.weight"] = L.q.weight
        out[p + "self_attn.k_proj.weight"] = L.k.weight
        out[p + "self_attn.v_proj.weight"] = L.v.weight
        out[p + "self_attn.o_proj.weight"] = L.o.weight
        out[p + "post_attention_layernorm.weight"] = L.mlp_norm
        out[p + "mlp.gate_proj.weight"] = L.gate.weight
        out[p + "mlp.up_proj.weight"] = L.up.weight
        out[p + "mlp.down_proj.weight"] = L.down.weight
    out["model.norm.weight"] = model.norm
    return {k: v.detach().float().cpu().numpy() for k, v in out.items()}


def write_safetensors(path, tensors, metadata):
    """safetensors with numpy: 8-byte little-endian header length, JSON header padded to 8, raw data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dtype = {np.dtype("float32"): "F32", np.dtype("float16"): "F16"}[a.dtype]
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.astype(a.dtype.newbyteorder("<")).tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_config(cfg):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg["dim"],
        "intermediate_size": cfg["hidden_dim"],
        "num_hidden_layers": cfg["n_layers"],
        "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"],
        "vocab_size": cfg["vocab_size"],
        "max_position_embeddings": cfg["seq_len"],
        "rms_norm_eps": cfg["norm_eps"],
        "rope_theta": cfg["rope_theta"],
        "tie_word_embeddings": True,
        "attention_bias": False,
        "mlp_bias": False,
        "hidden_act": "silu",
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "torch_dtype": "float16",
    }


REFERENCE_PROMPT = "In the beginning God created the heaven and the earth."


def train(args):
    import torch

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    data = np.load(os.path.join(args.work, "corpus.npz"))
    meta = json.load(open(os.path.join(args.work, "meta.json")))
    cfg = {
        "dim": args.dim,
        "hidden_dim": args.hidden,
        "n_layers": args.layers,
        "n_heads": args.heads,
        "n_kv_heads": args.kv_heads,
        "vocab_size": meta["vocab_size"],
        "seq_len": args.seq_len,
        "rope_theta": 10000.0,
        "norm_eps": 1e-5,
        "dropout": args.dropout,
    }
    gla_swa = args.arch == "gla_swa"
    if gla_swa:  # SpikingBrain-7B's values where they are not sizes (configuration_gla_swa.py)
        cfg.update({"norm_eps": 1e-6, "window": args.window, "gate_low_rank": 16, "gate_logit_normalizer": 16.0,
                    "attn_layers": list(range(1, args.layers, 2))})
    model = (build_gla_swa_model if gla_swa else build_model)(torch, cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters, config {cfg}, device {device}", flush=True)

    def windows(split, starts, count, generator):
        """[count, seq_len + 1] int64: BOS, then the text from a verse start on."""
        stream = data[split]
        L = cfg["seq_len"]
        ok = starts[starts + L <= stream.size]
        pick = ok[generator.integers(0, ok.size, count)]
        idx = pick[:, None] + np.arange(L)[None, :]
        return np.concatenate([np.full((count, 1), BOS, dtype=np.int64), stream[idx].astype(np.int64)], 1)

    fixed = np.random.default_rng(1234)
    eval_sets = {s: windows(s, data[s + "_starts"], args.eval_windows, fixed) for s in ("train", "validation")}

    def evaluate():
        model.eval()
        out = {}
        with torch.no_grad():
            for s, w in eval_sets.items():
                total = 0.0
                for i in range(0, len(w), 16):
                    b = torch.from_numpy(w[i : i + 16]).to(device)
                    logits = model(b[:, :-1])
                    total += torch.nn.functional.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]).float(), b[:, 1:].reshape(-1), reduction="sum"
                    ).item()
                out[s] = total / (w.shape[0] * cfg["seq_len"])
        model.train()
        return out

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    log, best, best_state, t0 = [], float("inf"), None, time.time()
    starts = data["train_starts"]
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            ev = evaluate()
            log.append({"step": step, "train_loss": ev["train"], "validation_loss": ev["validation"],
                        "seconds": round(time.time() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
            if ev["validation"] < best:
                best = ev["validation"]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if step == args.steps:
            break
        if args.max_seconds and time.time() - t0 > args.max_seconds:  # keep the best evaluated so far
            log.append({"stopped": f"time limit {args.max_seconds} s at step {step}"})
            print(json.dumps(log[-1]), flush=True)
            break
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        lr *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        b = torch.from_numpy(windows("train", starts, args.batch, rng)).to(device)
        logits = model(b[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    # The best validation checkpoint, rounded to float16 as it is stored, evaluated again.
    model.load_state_dict(best_state)
    state = {k: v.astype(np.float16) for k, v in (gla_swa_state if gla_swa else hf_state)(model, cfg).items()}
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    final = evaluate()
    best_step = min((e for e in log if "validation_loss" in e), key=lambda e: e["validation_loss"])["step"]

    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), state,
                      {"format": "pt", "trained_by": "scripts/train_llm.py"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump((gla_swa_config if gla_swa else hf_config)(cfg), f, indent=2)
        f.write("\n")
    shutil.copyfile(os.path.join(args.work, "tokenizer.bin"), os.path.join(args.out, "tokenizer.bin"))

    # Reference: float64 logits of the stored (float16) weights on a fixed prompt, and a greedy continuation.
    tok = load_tokenizer(os.path.join(args.out, "tokenizer.bin"))
    model = model.double().cpu().eval()
    model.drop.p = 0.0
    ids = tok.encode(REFERENCE_PROMPT)
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0]
        greedy = list(ids)
        for _ in range(24):
            greedy.append(int(model(torch.tensor([greedy]))[0, -1].argmax()))
    if gla_swa:  # the independent numpy reference on the saved file, beside the torch model's own logits
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import spikingbrain_reference
        numpy_ref = spikingbrain_reference.run(args.out, ids, generate=24)
    ref = {
        "note": "float64 PyTorch forward pass of model.safetensors (scripts/train_llm.py); logits[i] follow tokens[i]",
        "prompt": REFERENCE_PROMPT,
        "tokens": ids,
        "logits": [[float("%.9g" % v) for v in row] for row in logits[:4].tolist()],
        "greedy_tokens": greedy,
        "greedy_text": tok.decode(greedy),
    }
    if gla_swa:
        ref["note"] += ("; reference_* keys: scripts/spikingbrain_reference.py (float64 numpy, written from the "
                        "release's code) on the saved file: all prompt positions and its greedy tokens")
        ref["reference_logits"] = [[float("%.9g" % v) for v in row] for row in numpy_ref["prefill_logits"]]
        ref["reference_greedy_tokens"] = list(ids) + numpy_ref["generated_tokens"]
        ref["torch_vs_reference_max_abs"] = float(np.max(np.abs(np.array(logits.tolist()) -
                                                                np.array(numpy_ref["prefill_logits"]))))
    if os.path.exists(args.check_text):  # run.c-style encoding of a text file, for spikesim's tokenizer test
        with open(args.check_text) as f:
            text = f.read()
        ref["text_file"] = args.check_text
        ref["text_file_tokens"] = tok.encode(text[:-1] if text.endswith("\n") else text)
    with open(os.path.join(args.out, "reference_logits.json"), "w") as f:
        json.dump(ref, f)
    summary = {
        "command": "/usr/bin/python3 scripts/train_llm.py " + " ".join(sys.argv[1:]),
        "seed": args.seed,
        "parameters": n_params,
        "config": cfg,
        "optimizer": {"name": "AdamW", "lr": args.lr, "betas": [0.9, 0.95], "weight_decay": args.weight_decay,
                      "warmup_steps": args.warmup, "schedule": "cosine to 0.1 x lr", "batch": args.batch,
                      "steps": args.steps, "grad_clip": 1.0},
        "data": meta,
        "best_step": best_step,
        "final_float16": {"train_loss": final["train"], "validation_loss": final["validation"],
                          "validation_perplexity": math.exp(final["validation"]),
                          "eval": f"{args.eval_windows} fixed windows of {cfg['seq_len']} tokens per split"},
        "device": str(device),
        "torch": torch.__version__,
        "log": log,
    }
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps({k: summary[k] for k in ("parameters", "best_step", "final_float16")}, indent=2))
    print("greedy:", ref["greedy_text"])


def load_tokenizer(path):
    with open(path, "rb") as f:
        b = f.read()
    pos, pieces, scores = 4, [], []
    while pos < len(b):
        s, n = struct.unpack_from("fi", b, pos)
        pos += 8
        pieces.append(b[pos : pos + n].decode("utf-8"))
        scores.append(s)
        pos += n
    return Tokenizer(pieces, scores)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="dump the KJV, train the tokenizer, encode the corpus")
    p.add_argument("--work", default="out/kjv")
    p.add_argument("--vocab", type=int, default=2048)
    t = sub.add_parser("train", help="train the model (PyTorch)")
    t.add_argument("--work", default="out/kjv")
    t.add_argument("--out", default="data/models/kjv-llama")
    t.add_argument("--arch", choices=["llama", "gla_swa"], default="llama")
    t.add_argument("--window", type=int, default=64, help="gla_swa: sliding window W (W + 1 keys)")
    t.add_argument("--max-seconds", type=float, default=0, help="stop training after this long (0: no limit)")
    t.add_argument("--device", default="cpu")
    t.add_argument("--seed", type=int, default=20240611)
    t.add_argument("--dim", type=int, default=192)
    t.add_argument("--hidden", type=int, default=512)
    t.add_argument("--layers", type=int, default=6)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--kv-heads", type=int, default=2)
    t.add_argument("--seq-len", type=int, default=512)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--warmup", type=int, default=200)
    t.add_argument("--weight-decay", type=float, default=0.1)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--eval-windows", type=int, default=64)
    t.add_argument("--check-text", default="data/text/psalm.txt")
    args = ap.parse_args()
    {"prepare": prepare, "train": train}[args.cmd](args)


if __name__ == "__main__":
    main()
