#!/usr/bin/python3
"""Trains the project's own default CNN on Fashion-MNIST and exports it to ONNX.

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/, IDX gzip). Model (107 k parameters):

    Conv 1->16 3x3 pad 1, BatchNorm, ReLU, MaxPool 2     [16, 14, 14]
    Conv 16->32 3x3 pad 1, BatchNorm, ReLU, MaxPool 2    [32, 7, 7]
    Flatten, Dropout 0.2, Linear 1568->64, ReLU, Linear 64->10

Input: one image [N, 1, 28, 28] preprocessed as (pixel / 255 - mean) / std with the training set's mean and
std (written to the model card). Exported in eval mode, opset 13, dynamic batch: PyTorch folds each
BatchNorm into its Conv and drops the Dropout, so the ONNX graph is Conv, Relu, MaxPool, Flatten, Gemm.

Writes data/models/fashion_cnn.onnx and data/models/fashion_cnn.json (the model card: command, seed,
epochs, preprocessing, dense test accuracy on the 10,000 test images, and PyTorch's logits for the first
test images, which tests/validation/fashion_cnn_test.cpp compares with spikesim's dense run).
Runs once (about 3 minutes on 2 CPU cores); the demo and the tests never need torch.

    /usr/bin/python3 scripts/train_cnn.py [--epochs 4] [--seed 0] [--out data/models]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    assert data[0] == 0 and data[1] == 0, path
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


class FashionCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data", "models"))
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / np.float32(255)
    train_y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    test_raw = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    test_y = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean = round(float(train_x.mean()), 4)
    std = round(float(train_x.std()), 4)

    def prep(pixels_01):
        return torch.from_numpy(((pixels_01 - np.float32(mean)) / np.float32(std))[:, None, :, :].copy())

    xs, ys = prep(train_x), torch.from_numpy(train_y)
    test_x = prep(test_raw.astype(np.float32) / np.float32(255))

    model = FashionCnn()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * (len(xs) // args.batch + 1))
    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xs))
        total = 0.0
        for i in range(0, len(xs), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = loss_fn(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            acc = (model(test_x).argmax(1).numpy() == test_y).mean()
        print(f"epoch {epoch + 1}: train loss {total / len(xs):.4f}, test accuracy {acc * 100:.2f} % "
              f"({time.time() - start:.0f} s)", flush=True)

    model.eval()
    with torch.no_grad():
        logits = model(test_x)
    correct = int((logits.argmax(1).numpy() == test_y).sum())

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    torch.onnx.export(model, test_x[:1], onnx_path, opset_version=13, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    import onnx  # python3-onnx, only needed here
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    ops = [n.op_type for n in m.graph.node]

    card = {
        "name": "fashion_cnn",
        "file": "fashion_cnn.onnx",
        "task": "Fashion-MNIST classification (10 classes)",
        "data": f"Debian dataset-fashion-mnist ({DATA}), 60,000 training / 10,000 test images",
        "architecture": "Conv 1->16 3x3 p1, BN, ReLU, MaxPool 2; Conv 16->32 3x3 p1, BN, ReLU, MaxPool 2; "
                        "Flatten, Dropout 0.2, Linear 1568->64, ReLU, Linear 64->10 (BN folded into the convs "
                        "at export)",
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "onnx_ops": ops,
        "opset": 13,
        "input": {"name": "image", "shape": ["N", 1, 28, 28],
                  "preprocess": {"scale": "1/255", "mean": mean, "std": std, "layout": "nchw"}},
        "training": {"command": "/usr/bin/python3 scripts/train_cnn.py " + " ".join(
            f"--{k} {v}" for k, v in [("epochs", args.epochs), ("seed", args.seed), ("batch", args.batch),
                                      ("lr", args.lr), ("threads", args.threads)]),
                     "optimizer": "Adam with one-cycle learning rate", "epochs": args.epochs,
                     "seed": args.seed, "torch": torch.__version__, "seconds": round(time.time() - start)},
        "dense_test_accuracy_pytorch": correct / len(test_y),
        "dense_test_correct_pytorch": correct,
        "reference_logits": {
            "what": "PyTorch logits of the first test images, preprocessed as above in float32",
            "images": 8,
            "logits": [[float(v) for v in row] for row in logits[:8].numpy()]},
    }
    with open(os.path.join(args.out, "fashion_cnn.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"dense test accuracy {correct / len(test_y) * 100:.2f} % ({correct} / {len(test_y)}); "
          f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) and fashion_cnn.json; ops {ops}")


if __name__ == "__main__":
    main()
