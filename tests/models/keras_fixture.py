#!/usr/bin/python3
"""Writes small Keras HDF5 models the way Keras 2 (tf.keras) and Keras 3 save them, plus reference outputs
computed independently with numpy in Keras' channels-last semantics. Used by tests/models/keras_test.cpp.

Layout followed (keras-team/keras keras/src/legacy/saving/legacy_h5_format.py, tf.keras hdf5_format.py):
  root attrs: model_config (JSON, bytes), keras_version, backend
  /model_weights attrs: layer_names (array of bytes), backend, keras_version
  /model_weights/<layer> attrs: weight_names (array of bytes; an empty float array when the layer has none)
  /model_weights/<layer>/<weight name>: the dataset ("conv2d/kernel:0" in Keras 2, "conv2d/kernel" in Keras 3)

Usage: keras_fixture.py OUTDIR  ->  OUTDIR/{keras2_sequential,keras3_functional}.h5 and expected.h5
Exit 77 when numpy / h5py are missing.
"""
import json
import sys

try:
    import h5py
    import numpy as np
except ImportError:  # pragma: no cover
    print("SKIPPED: numpy / h5py not available")
    sys.exit(77)

rng = np.random.default_rng(1234)


def conv2d(x, k, b, strides, padding, dilation=1, groups=1):
    """x [N,H,W,C], k [kh,kw,C/g,M]: TensorFlow semantics ('same': out = ceil(in/s), extra pad at the end)."""
    sh, sw = strides
    n, h, w, c = x.shape
    kh, kw, cg, m = k.shape
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph = max((oh - 1) * sh + span_h - h, 0)
        pw = max((ow - 1) * sw + span_w - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - span_h) // sh + 1, (w - span_w) // sw + 1
    mg = m // groups
    y = np.zeros((n, oh, ow, m))
    for oy in range(oh):
        for ox in range(ow):
            for g in range(groups):
                patch = x[:, oy * sh:oy * sh + span_h:dilation, ox * sw:ox * sw + span_w:dilation,
                          g * cg:(g + 1) * cg]
                y[:, oy, ox, g * mg:(g + 1) * mg] = np.tensordot(patch, k[:, :, :, g * mg:(g + 1) * mg],
                                                                 axes=([1, 2, 3], [0, 1, 2]))
    return y + b


def pool(x, size, stride, padding, mode):
    n, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + size - h, 0)
        pw = max((ow - 1) * stride + size - w, 0)
        top, left = ph // 2, pw // 2
    else:
        oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
        top = left = 0
    y = np.zeros((n, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * stride - top, ox * stride - left
            win = x[:, max(y0, 0):min(y0 + size, h), max(x0, 0):min(x0 + size, w), :]  # padding ignored
            y[:, oy, ox, :] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return y


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def batch_norm(x, gamma, beta, mean, var, eps):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def write_model(path, config, weights, keras3):
    """weights: {layer: [(short name, array), ...]} in layer order; layers without weights get []."""
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        f.attrs["keras_version"] = (b"3.3.3" if keras3 else b"2.12.0")
        f.attrs["backend"] = b"tensorflow"
        g = f.create_group("model_weights")
        names = [l["config"]["name"] for l in config["config"]["layers"]]
        g.attrs["layer_names"] = [n.encode("utf8") for n in names]
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = f.attrs["keras_version"]
        for layer in sorted(names):
            lg = g.create_group(layer)
            ws = weights.get(layer, [])
            wnames = [(f"{layer}/{short}" if keras3 else f"{layer}/{short}:0") for short, _ in ws]
            # An empty list becomes an empty float64 array, as h5py stores [] for Keras.
            lg.attrs["weight_names"] = [n.encode("utf8") for n in wnames] if wnames else np.asarray([])
            for name, (_, value) in zip(wnames, ws):
                lg.create_dataset(name, data=value.astype(np.float32))


def layer(cls, name, **cfg):
    cfg["name"] = name
    return {"class_name": cls, "config": cfg}


def keras2_sequential(out, expected):
    """Keras 2 Sequential CNN: Conv2D same + relu, BatchNormalization, MaxPooling2D, Conv2D valid with strides
    [2, 1] and groups 2, AveragePooling2D same, Flatten, Dropout, Dense, Activation softmax."""
    k1 = rng.normal(0, 0.4, (3, 3, 2, 4)); b1 = rng.normal(0, 0.1, 4)
    gamma = rng.uniform(0.5, 1.5, 4); beta = rng.normal(0, 0.1, 4)
    mean = rng.normal(0, 0.2, 4); var = rng.uniform(0.5, 2.0, 4)
    k2 = rng.normal(0, 0.4, (2, 2, 2, 6)); b2 = rng.normal(0, 0.1, 6)
    kd = rng.normal(0, 0.3, (12, 5)); bd = rng.normal(0, 0.1, 5)
    layers = [
        layer("InputLayer", "input_1", batch_input_shape=[None, 9, 8, 2], dtype="float32"),
        layer("Conv2D", "conv2d", filters=4, kernel_size=[3, 3], strides=[1, 1], padding="same",
              data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu", use_bias=True),
        layer("BatchNormalization", "batch_normalization", axis=[3], epsilon=0.001, center=True, scale=True),
        layer("MaxPooling2D", "max_pooling2d", pool_size=[2, 2], strides=[2, 2], padding="valid",
              data_format="channels_last"),
        layer("Conv2D", "conv2d_1", filters=6, kernel_size=[2, 2], strides=[2, 1], padding="valid",
              data_format="channels_last", dilation_rate=[1, 1], groups=2, activation="linear", use_bias=True),
        layer("AveragePooling2D", "average_pooling2d", pool_size=[2, 2], strides=[2, 2], padding="same",
              data_format="channels_last"),
        layer("Flatten", "flatten", data_format="channels_last"),
        layer("Dropout", "dropout", rate=0.25),
        layer("Dense", "dense", units=5, activation="linear", use_bias=True),
        layer("Activation", "activation", activation="softmax"),
    ]
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    weights = {"conv2d": [("kernel", k1), ("bias", b1)],
               "batch_normalization": [("gamma", gamma), ("beta", beta), ("moving_mean", mean),
                                       ("moving_variance", var)],
               "conv2d_1": [("kernel", k2), ("bias", b2)],
               "dense": [("kernel", kd), ("bias", bd)]}
    write_model(f"{out}/keras2_sequential.h5", config, weights, keras3=False)

    x = rng.uniform(0, 1, (3, 9, 8, 2))
    h = np.maximum(conv2d(x, k1, b1, (1, 1), "same"), 0)
    h = batch_norm(h, gamma, beta, mean, var, 0.001)
    h = pool(h, 2, 2, "valid", "max")                # [3, 4, 4, 4]
    h = conv2d(h, k2, b2, (2, 1), "valid", groups=2)  # [3, 2, 3, 6]
    h = pool(h, 2, 2, "same", "avg")                 # [3, 1, 2, 6]
    h = h.reshape(3, -1)                             # channels-last flatten: [3, 12]
    y = softmax(h @ kd + bd)
    expected.create_dataset("keras2/x", data=x.astype(np.float32))
    expected.create_dataset("keras2/y", data=y.astype(np.float32))


def kt(name):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None], "dtype": "float32", "keras_history": [name, 0, 0]}}


def keras3_functional(out, expected):
    """Keras 3 functional model with a residual Add: Conv2D same relu, Conv2D same dilated, Add, ReLU,
    GlobalAveragePooling2D, Dense softmax. Keras 3 inbound_nodes ({"args", "kwargs"}), batch_shape, weight
    paths without ':0', dtype policies as objects."""
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    k1 = rng.normal(0, 0.5, (3, 3, 1, 3)); b1 = rng.normal(0, 0.1, 3)
    k2 = rng.normal(0, 0.5, (3, 3, 3, 3)); b2 = rng.normal(0, 0.1, 3)
    kd = rng.normal(0, 0.5, (3, 4)); bd = rng.normal(0, 0.1, 4)

    def fl(cls, name, inputs, **cfg):
        l = layer(cls, name, dtype=policy, **cfg)
        l["module"] = "keras.layers"
        l["registered_name"] = None
        l["name"] = name
        l["inbound_nodes"] = [] if inputs is None else [{"args": inputs, "kwargs": {}}]
        return l

    layers = [
        fl("InputLayer", "input_layer", None, batch_shape=[None, 6, 6, 1], sparse=False),
        fl("Conv2D", "conv2d", [kt("input_layer")], filters=3, kernel_size=[3, 3], strides=[1, 1], padding="same",
           data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu", use_bias=True),
        fl("Conv2D", "conv2d_1", [kt("conv2d")], filters=3, kernel_size=[3, 3], strides=[1, 1], padding="same",
           data_format="channels_last", dilation_rate=[2, 2], groups=1, activation="linear", use_bias=True),
        fl("Add", "add", [[kt("conv2d"), kt("conv2d_1")]]),
        fl("ReLU", "re_lu", [kt("add")], max_value=None, negative_slope=0.0, threshold=0.0),
        fl("GlobalAveragePooling2D", "global_average_pooling2d", [kt("re_lu")], data_format="channels_last",
           keepdims=False),
        fl("Dense", "dense", [kt("global_average_pooling2d")], units=4, activation="softmax", use_bias=True),
    ]
    config = {"module": "keras", "class_name": "Functional",
              "config": {"name": "functional", "trainable": True, "layers": layers,
                         "input_layers": ["input_layer", 0, 0], "output_layers": ["dense", 0, 0]}}
    weights = {"conv2d": [("kernel", k1), ("bias", b1)], "conv2d_1": [("kernel", k2), ("bias", b2)],
               "dense": [("kernel", kd), ("bias", bd)]}
    write_model(f"{out}/keras3_functional.h5", config, weights, keras3=True)

    x = rng.normal(0, 1, (2, 6, 6, 1))
    a = np.maximum(conv2d(x, k1, b1, (1, 1), "same"), 0)
    c = conv2d(a, k2, b2, (1, 1), "same", dilation=2)
    h = np.maximum(a + c, 0).mean(axis=(1, 2))
    y = softmax(h @ kd + bd)
    expected.create_dataset("keras3/x", data=x.astype(np.float32))
    expected.create_dataset("keras3/y", data=y.astype(np.float32))


def main():
    out = sys.argv[1]
    with h5py.File(f"{out}/expected.h5", "w") as expected:
        keras2_sequential(out, expected)
        keras3_functional(out, expected)
    print(f"wrote {out}/keras2_sequential.h5, {out}/keras3_functional.h5, {out}/expected.h5")


if __name__ == "__main__":
    main()
