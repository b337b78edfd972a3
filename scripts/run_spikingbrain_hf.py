#!/usr/bin/env python3
"""Logits of the released SpikingBrain-7B Hugging Face code on a checkpoint directory (PyTorch, CUDA, float32).

Usage:
  run_spikingbrain_hf.py CHECKPOINT_DIR [CHECKPOINT_DIR ...] --tokens 1,2,3 [--generate N] --out result.json
      --hf-src DIR     folder holding the release's hf_7B_model/ (BICLab/SpikingBrain-7B @ ef99987)
      --fla-src DIR    folder holding the fla/ package (fla-org/flash-linear-attention v0.1.0, the pinned
                       flash-linear-attention==0.1)
      [--variants flash,sdpa] [--reference-dir DIR] [--device cuda] [--fallback-only]

It imports the release's modelling code unchanged: GLAswaForCausalLM from hf_7B_model/modeling_gla_swa.py with the
fla kernels it names (chunk_gla for prefill, fused_recurrent_gla for one-token steps, fla's Triton RMSNorm).
What it has to supply, and says so in the result:
  * flash_attn is not installed on the device (no compiler for its CUDA extension there): the names that
    window_attention.py takes from flash_attn (flash_attn_varlen_func, pad_input, unpad_input) and transformers'
    _upad_input are replaced by plain PyTorch with flash-attn's documented window semantics: query i of Lq
    attends keys j of Lk with i + Lk - Lq - window_size[0] <= j <= i + Lk - Lq + window_size[1] (variant
    "flash"). Variant "sdpa" instead swaps in the release's own hf_7B_model/window_attention_sdpa.py.
  * fla is imported without its top-level __init__ (which imports every fla model and registers it with
    transformers); fla.modules and fla.ops.gla load as released.
  * where a kernel raises (e.g. a Triton incompatibility), that op falls back to fla's own pure-PyTorch
    naive_recurrent_gla (fla/ops/gla/naive.py) or a PyTorch RMSNorm, and the result lists it under "fallbacks".
For each checkpoint and variant: prefill logits of the prompt (use_cache=True), N greedy tokens decoded one at a
time through the release's Cache, and the prompt decoded token by token from an empty cache. With
--reference-dir (files NAME.flash.json / NAME.sdpa.json from spikingbrain_reference.py) it adds max |delta logit|
against the numpy reference. --fallback-only runs without Triton/fla kernels (CPU smoke test of this script).
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
import types

T0 = time.time()
FALLBACKS = {}
NOTES = []


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------------------
# torch stand-ins (used only where named in the result)
# ------------------------------------------------------------------------------------------------------------

def torch_rms_norm(x, weight, bias, residual, eps, prenorm, residual_in_fp32):
    import torch
    if residual is not None:
        x = x.float() + residual.float() if residual_in_fp32 else x + residual
    xf = x.float()
    y = xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + eps)
    if weight is not None:
        y = y * weight.float()
    if bias is not None:
        y = y + bias.float()
    y = y.to(x.dtype)
    return (y, x) if prenorm else y


def load_naive_gla(fla_src):
    path = os.path.join(fla_src, "fla", "ops", "gla", "naive.py") if fla_src else None
    if path and os.path.exists(path):
        spec = importlib.util.spec_from_file_location("fla_gla_naive_standalone", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.naive_recurrent_gla
    raise RuntimeError("fla/ops/gla/naive.py not found")


def guarded(name, fn, fallback):
    def call(*args, **kwargs):
        if name not in FALLBACKS:
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - recorded and reported
                FALLBACKS[name] = f"{type(e).__name__}: {str(e)[:400]}"
                log(f"{name} raised, falling back: {FALLBACKS[name]}")
        return fallback(*args, **kwargs)
    return call


# flash-attn stand-ins (window semantics of flash_attn_varlen_func's docstring, flash-attn 2.x)
def shim_upad_input(query_layer, key_layer, value_layer, attention_mask, query_length, unpad_input_func=None):
    import torch
    if not bool(torch.all(attention_mask == 1)):
        raise RuntimeError("padding masks are not supported by this flash-attn stand-in")
    b, lq, h, d = query_layer.shape
    lk = key_layer.shape[1]
    dev = query_layer.device
    cu_q = torch.arange(0, (b + 1) * lq, lq, dtype=torch.int32, device=dev)
    cu_k = torch.arange(0, (b + 1) * lk, lk, dtype=torch.int32, device=dev)
    return (query_layer.reshape(b * lq, h, d), key_layer.reshape(b * lk, *key_layer.shape[2:]),
            value_layer.reshape(b * lk, *value_layer.shape[2:]), torch.arange(b * lq, device=dev),
            (cu_q, cu_k), (lq, lk))


def shim_flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                                softmax_scale=None, causal=False, window_size=(-1, -1), **kwargs):
    import torch
    out = torch.empty_like(q)
    for b in range(len(cu_seqlens_q) - 1):
        q0, q1 = int(cu_seqlens_q[b]), int(cu_seqlens_q[b + 1])
        k0, k1 = int(cu_seqlens_k[b]), int(cu_seqlens_k[b + 1])
        qb, kb, vb = q[q0:q1].transpose(0, 1), k[k0:k1].transpose(0, 1), v[k0:k1].transpose(0, 1)  # [H, L, D]
        lq, lk = q1 - q0, k1 - k0
        i = torch.arange(lq, device=q.device)[:, None] + (lk - lq)
        j = torch.arange(lk, device=q.device)[None, :]
        left, right = window_size
        allowed = torch.ones(lq, lk, dtype=torch.bool, device=q.device)
        if causal:
            right = 0
        if right >= 0:
            allowed &= j <= i + right
        if left >= 0:
            allowed &= j >= i - left
        s = torch.matmul(qb.float(), kb.float().transpose(1, 2)) * softmax_scale
        s = s.masked_fill(~allowed, float("-inf"))
        p = torch.softmax(s, dim=-1)
        out[q0:q1] = torch.matmul(p, vb.float()).transpose(0, 1).to(q.dtype)
    return out


def shim_pad_input(hidden_states, indices, batch, seqlen):
    return hidden_states.reshape(batch, seqlen, *hidden_states.shape[1:])


def shim_unpad_input(*args, **kwargs):
    raise RuntimeError("unpad_input is not used without padding")


# ------------------------------------------------------------------------------------------------------------
# imports
# ------------------------------------------------------------------------------------------------------------

def install_fla(fla_src, fallback_only):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    naive = load_naive_gla(fla_src)
    if not fallback_only:
        try:
            return install_real_fla(fla_src, naive)
        except Exception:  # noqa: BLE001
            NOTES.append("importing fla v0.1.0 failed, fla replaced by torch stand-ins:\n" + traceback.format_exc())
            log(NOTES[-1])
            for name in [n for n in sys.modules if n == "fla" or n.startswith("fla.")]:
                del sys.modules[name]
            if fla_src in sys.path:
                sys.path.remove(fla_src)

    # --fallback-only: stub fla with torch code (CPU smoke test of this script)
    class RMSNorm(nn.Module):
        def __init__(self, hidden_size, elementwise_affine=True, bias=False, eps=1e-5):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(hidden_size))
            self.register_parameter("bias", None)

        def forward(self, x, residual=None, prenorm=False, residual_in_fp32=False):
            return torch_rms_norm(x, self.weight, self.bias, residual, self.eps, prenorm, residual_in_fp32)

    class ShortConvolution(nn.Module):
        def __init__(self, *a, **k):
            raise RuntimeError("ShortConvolution is not available in --fallback-only")

    fla = types.ModuleType("fla")
    fla.__path__ = []
    mods = {"fla": fla}
    for name in ("fla.modules", "fla.modules.activations", "fla.ops", "fla.ops.gla", "fla.utils"):
        mods[name] = types.ModuleType(name)
        mods[name].__path__ = []
    mods["fla.modules"].RMSNorm = RMSNorm
    mods["fla.modules"].ShortConvolution = ShortConvolution
    mods["fla.modules"].FusedCrossEntropyLoss = nn.CrossEntropyLoss
    mods["fla.modules.activations"].swish = F.silu
    for name in ("chunk_gla", "fused_chunk_gla", "fused_recurrent_gla"):
        setattr(mods["fla.ops.gla"], name, naive)
    mods["fla.utils"].autocast_custom_fwd = lambda f: f
    mods["fla.utils"].autocast_custom_bwd = lambda f: f
    mods["fla.utils"].contiguous = lambda f: f
    sys.modules.update(mods)
    FALLBACKS["all fla ops"] = "--fallback-only" if fallback_only else "fla import failed (see notes)"
    return "fla stubs (fla's torch naive_recurrent_gla + torch RMSNorm)"


def install_real_fla(fla_src, naive):
    import torch
    max_configs = int(os.environ.get("SB_AUTOTUNE_MAX_CONFIGS", "0"))
    if max_configs > 0:
        # fewer autotune candidates (compile time on a one-shot device run); tiling only, same math
        import triton
        real_autotune = triton.autotune

        def autotune(configs, *a, **k):
            return real_autotune(list(configs)[:max_configs], *a, **k)
        triton.autotune = autotune
        NOTES.append(f"triton.autotune limited to the first {max_configs} configs of each fla kernel")
    sys.path.insert(0, fla_src)
    for name in ("fla", "fla.ops"):  # namespace packages: skip fla/__init__.py and fla/ops/__init__.py
        m = types.ModuleType(name)
        m.__path__ = [os.path.join(fla_src, *name.split("."))]
        sys.modules[name] = m
    sys.modules["fla"].ops = sys.modules["fla.ops"]
    import fla.modules
    import fla.ops.gla  # noqa: F401
    # op-level guards: the released kernels first, fla's own naive torch code if one raises
    gla = sys.modules["fla.ops.gla"]
    for name in ("chunk_gla", "fused_chunk_gla", "fused_recurrent_gla"):
        setattr(gla, name, guarded(name, getattr(gla, name), naive))
    rms_cls = fla.modules.RMSNorm
    kernel_forward = rms_cls.forward

    def fallback_forward(self, x, residual=None, prenorm=False, residual_in_fp32=False):
        return torch_rms_norm(x, self.weight, self.bias, residual, self.eps, prenorm, residual_in_fp32)
    rms_cls.forward = guarded("fla.modules.RMSNorm", kernel_forward, fallback_forward)
    del torch
    return "fla v0.1.0 kernels (Triton)"


def install_transformers_shims():
    import transformers
    import transformers.configuration_utils as cu
    if not hasattr(cu, "PretrainedConfig") and hasattr(cu, "PreTrainedConfig"):
        cu.PretrainedConfig = cu.PreTrainedConfig
        NOTES.append("transformers.configuration_utils.PretrainedConfig aliased to PreTrainedConfig")
    try:
        import transformers.modeling_flash_attention_utils as fau
    except Exception as e:  # noqa: BLE001
        fau = types.ModuleType("transformers.modeling_flash_attention_utils")
        sys.modules["transformers.modeling_flash_attention_utils"] = fau
        NOTES.append(f"transformers.modeling_flash_attention_utils stubbed ({type(e).__name__})")
    if not hasattr(fau, "_upad_input"):
        fau._upad_input = shim_upad_input
    return transformers.__version__


def import_release(hf_src):
    sys.path.insert(0, hf_src)
    import hf_7B_model  # noqa: F401  (its __init__ imports modeling_gla_swa and configuration_gla_swa)
    import hf_7B_model.window_attention as wa
    wa._upad_input = shim_upad_input
    wa.flash_attn_varlen_func = shim_flash_attn_varlen_func
    wa.flash_attn_func = None
    wa.pad_input = shim_pad_input
    wa.unpad_input = shim_unpad_input
    import hf_7B_model.window_attention_sdpa as wsdpa
    import hf_7B_model.modeling_gla_swa as mg
    import hf_7B_model.configuration_gla_swa as cg
    return mg, cg, wa, wsdpa


# ------------------------------------------------------------------------------------------------------------
# model
# ------------------------------------------------------------------------------------------------------------

def read_state_dict(ckpt):
    from safetensors.torch import load_file
    index = os.path.join(ckpt, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    sd = {}
    for name in files:
        sd.update(load_file(os.path.join(ckpt, name)))
    return {k: v.float() for k, v in sd.items()}


class Glue:
    """HybridModel.forward (modeling_gla_swa.py:224-280) around the release's HybridBlocks, used only when
    GLAswaForCausalLM itself cannot be built under the installed transformers."""

    def __init__(self, mg, config):
        import torch.nn as nn
        self.mg = mg
        self.config = config
        self.root = nn.Module()
        self.root.model = nn.Module()
        self.root.model.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.root.model.layers = nn.ModuleList([mg.HybridBlock(config, i) for i in range(config.num_hidden_layers)])
        self.root.model.norm = mg.RMSNorm(config.hidden_size, eps=config.norm_eps)
        self.root.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def __call__(self, input_ids, past_key_values=None, use_cache=True, **kwargs):
        import torch
        m = self.root.model
        h = m.embeddings(input_ids)
        if use_cache and not isinstance(past_key_values, self.mg.Cache):
            past_key_values = self.mg.Cache.from_legacy_cache(past_key_values)
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        cache_position = torch.arange(past, past + h.shape[1], device=h.device)
        position_ids = cache_position.unsqueeze(0)
        for layer in m.layers:
            h, _, past_key_values = layer(h, attention_mask=None, position_ids=position_ids,
                                          past_key_values=past_key_values, use_cache=use_cache,
                                          output_attentions=False, cache_position=cache_position)
        h = m.norm(h)
        return types.SimpleNamespace(logits=self.root.lm_head(h), past_key_values=past_key_values)


def build_model(mg, cg, ckpt, variant, wa, wsdpa, device):
    import torch
    mg.FlashAttention = wa.FlashAttention if variant == "flash" else wsdpa.FlashAttention
    with open(os.path.join(ckpt, "config.json")) as f:
        raw = json.load(f)
    config = cg.GLAswaConfig(**raw)
    glue = None
    try:
        model = mg.GLAswaForCausalLM(config)
        module = model
        how = "GLAswaForCausalLM"
    except Exception as e:  # noqa: BLE001
        NOTES.append(f"GLAswaForCausalLM(config) raised {type(e).__name__}: {str(e)[:300]}; "
                     f"using HybridModel.forward's glue around the release's HybridBlocks")
        glue = Glue(mg, config)
        module = glue.root
        how = "HybridBlock + glue"
    sd = read_state_dict(ckpt)
    missing, unexpected = module.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("inv_freq")]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    module.to(device=device, dtype=torch.float32).eval()
    if glue is not None:
        return glue, how, config
    return model, how, config


def forward(model, ids, past):
    out = model(input_ids=ids, past_key_values=past, use_cache=True, return_dict=True, output_attentions=False,
                output_hidden_states=False)
    return out.logits, out.past_key_values


def run_one(mg, cg, wa, wsdpa, ckpt, variant, tokens, generate, device):
    import torch
    model, how, config = build_model(mg, cg, ckpt, variant, wa, wsdpa, device)
    ids = torch.tensor([tokens], dtype=torch.long, device=device)
    res = {"model": how, "attn_layers": list(config.attn_layers), "sliding_window": config.sliding_window}
    with torch.no_grad():
        t = time.time()
        logits, past = forward(model, ids, None)
        res["prefill_logits"] = logits[0].double().cpu().tolist()
        res["prefill_s"] = time.time() - t
        gen, gen_logits = [], []
        last = logits[0, -1]
        t = time.time()
        for _ in range(generate):
            nxt = int(torch.argmax(last))
            gen.append(nxt)
            lg, past = forward(model, torch.tensor([[nxt]], device=device), past)
            last = lg[0, -1]
            gen_logits.append(last.double().cpu().tolist())
        res["generated_tokens"] = gen
        res["generated_logits"] = gen_logits
        res["generate_s"] = time.time() - t
        past, rows = None, []
        for tok in tokens:
            lg, past = forward(model, torch.tensor([[tok]], device=device), past)
            rows.append(lg[0, -1].double().cpu().tolist())
        res["decode_from_empty_logits"] = rows
    return res


def compare(res, ref, ref_other=None):
    """ref: the numpy reference in this variant's window convention; ref_other: the other convention."""
    import numpy as np
    out = {}
    p, rp = np.array(res["prefill_logits"]), np.array(ref["prefill_logits"])
    out["prefill_max_abs_diff"] = float(np.max(np.abs(p - rp)))
    out["generated_tokens_equal"] = res["generated_tokens"] == ref["generated_tokens"]
    if out["generated_tokens_equal"] and res["generated_logits"]:
        out["generated_max_abs_diff"] = float(np.max(np.abs(np.array(res["generated_logits"])
                                                             - np.array(ref["generated_logits"]))))
    d = np.array(res["decode_from_empty_logits"])
    per_pos = np.max(np.abs(d - rp), axis=1)
    out["decode_from_empty_max_abs_diff"] = float(per_pos.max())
    out["decode_from_empty_per_position"] = [float(x) for x in per_pos]
    out["prefill_vs_own_decode_max_abs_diff"] = float(np.max(np.abs(d - p)))
    if ref_other is not None:
        # the release's Cache keeps W keys (cache.py:81-104), so its one-token steps see W keys: the sdpa
        # convention, not the flash one of its own prefill
        ro = np.array(ref_other["prefill_logits"])
        out["decode_from_empty_vs_other_convention_max_abs_diff"] = float(np.max(np.abs(d - ro)))
    out["logit_abs_max"] = float(np.max(np.abs(rp)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--generate", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hf-src", required=True)
    ap.add_argument("--fla-src", required=True)
    ap.add_argument("--variants", default="flash,sdpa")
    ap.add_argument("--reference-dir")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--fallback-only", action="store_true")
    args = ap.parse_args(argv)
    tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    os.environ.setdefault("TRITON_F32_DEFAULT", "ieee")  # no TF32 inside Triton's tl.dot on float32
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    result = {"tokens": tokens, "generate": args.generate, "env": {"torch": torch.__version__},
              "checkpoints": {}, "notes": NOTES, "fallbacks": FALLBACKS}

    def save():
        tmp = args.out + ".partial"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, args.out)

    try:
        result["env"]["fla"] = install_fla(args.fla_src, args.fallback_only)
        result["env"]["transformers"] = install_transformers_shims()
        try:
            import triton
            result["env"]["triton"] = triton.__version__
        except Exception:  # noqa: BLE001
            result["env"]["triton"] = None
        if args.device == "cuda":
            result["env"]["gpu"] = torch.cuda.get_device_name(0)
        mg, cg, wa, wsdpa = import_release(args.hf_src)
        log(f"imported: {result['env']}")
    except Exception:  # noqa: BLE001
        result["import_error"] = traceback.format_exc()
        log(result["import_error"])
        save()
        return 2
    save()
    ok = 0
    for ckpt in args.checkpoints:
        name = os.path.basename(os.path.normpath(ckpt))
        entry = result["checkpoints"].setdefault(name, {})
        for variant in args.variants.split(","):
            t = time.time()
            try:
                res = run_one(mg, cg, wa, wsdpa, ckpt, variant, tokens, args.generate, args.device)
                if args.reference_dir:
                    refs = {}
                    for v in ("flash", "sdpa"):
                        rpath = os.path.join(args.reference_dir, f"{name}.{v}.json")
                        if os.path.exists(rpath):
                            with open(rpath) as f:
                                refs[v] = json.load(f)
                    other = refs.get("sdpa" if variant == "flash" else "flash")
                    res["agreement"] = compare(res, refs[variant], other)
                res["seconds"] = time.time() - t
                entry[variant] = res
                ok += 1
                a = res.get("agreement", {})
                log(f"{name} {variant}: prefill max|d| {a.get('prefill_max_abs_diff')}, tokens equal "
                    f"{a.get('generated_tokens_equal')}, gen max|d| {a.get('generated_max_abs_diff')}, "
                    f"decode-from-empty max|d| {a.get('decode_from_empty_max_abs_diff')} ({res['seconds']:.1f}s)")
            except Exception:  # noqa: BLE001
                entry[variant] = {"error": traceback.format_exc()}
                log(f"{name} {variant} failed:\n{entry[variant]['error']}")
            save()
    log(f"fallbacks: {FALLBACKS}; notes: {NOTES}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
