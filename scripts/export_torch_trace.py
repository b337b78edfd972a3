#!/usr/bin/python3
"""Record the inputs of a PyTorch model's nn.Linear layers into a spikesim HDF5 trace (forward hooks).

For users who have torch; spikesim itself never needs it. Example:

    import torch, sys
    sys.path.insert(0, "scripts")
    from export_torch_trace import record_linear_inputs
    model = ...                      # any torch.nn.Module
    with record_linear_inputs(model, "trace.h5", include=("q_proj", "k_proj", "v_proj", "o_proj",
                                                          "gate_proj", "up_proj")):
        model(input_ids)             # one or more forward passes; inputs are concatenated per layer

Every nn.Linear whose qualified name contains one of `include` (all linears when include is None) gets a
forward hook; its input is flattened to [tokens, in_features] (all leading dimensions are tokens) and
stored with its weight [out_features, in_features] and bias. Layers are indexed in first-call order.

Run this file directly for a self-check on a small random MLP:
    /usr/bin/python3 scripts/export_torch_trace.py --out /tmp/mlp_trace.h5
"""
import argparse
import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_trace import write_trace  # noqa: E402


@contextlib.contextmanager
def record_linear_inputs(model, path, include=None):
    import torch

    recorded = {}  # name -> list of [tokens, in] arrays
    order = []
    modules = {}
    handles = []

    def hook_for(name):
        def hook(module, inputs, output):
            x = inputs[0].detach().to(torch.float32).reshape(-1, module.in_features).cpu().numpy()
            if name not in recorded:
                recorded[name] = []
                order.append(name)
            recorded[name].append(x)
        return hook

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and (include is None or any(s in name for s in include)):
            modules[name] = module
            handles.append(module.register_forward_hook(hook_for(name)))
    try:
        with torch.no_grad():
            yield recorded
    finally:
        for h in handles:
            h.remove()
    import numpy as np

    layers = []
    for name in order:
        m = modules[name]
        w = m.weight.detach().to(torch.float32).cpu().numpy()
        b = None if m.bias is None else m.bias.detach().to(torch.float32).cpu().numpy()
        layers.append((name.replace("/", "."), np.concatenate(recorded[name], axis=0), w, b))
    if not layers:
        raise RuntimeError("no nn.Linear layer matched; nothing recorded")
    write_trace(path, layers)


def main():
    import torch

    p = argparse.ArgumentParser(description="self-check: trace a random MLP")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    with record_linear_inputs(model, a.out):
        model(torch.randn(4, 8, 32))  # [batch, seq, features] -> 32 tokens
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
