#pragma once
// Keras HDF5 models (.h5 written by model.save() in Keras 2 / tf.keras and by Keras 3's legacy HDF5 saver)
// into the network description.
//
// File layout (keras-team/keras, keras/src/legacy/saving/legacy_h5_format.py: save_model_to_hdf5,
// save_weights_to_hdf5_group, load_attributes_from_hdf5_group; tf.keras saving/hdf5_format.py likewise):
//   /                         attribute model_config: JSON {"class_name": "Sequential" | "Functional" |
//                             "Model", "config": {...}} (bytes or str); keras_version, backend
//   /model_weights            attribute layer_names: the layers, in model order (long lists are split into
//                             layer_names0, layer_names1, ...)
//   /model_weights/<layer>    attribute weight_names, e.g. "conv2d/kernel:0" (Keras 2) or "conv2d/kernel"
//                             (Keras 3 variable paths); an empty list is stored as an empty float array
//   /model_weights/<layer>/<weight name>   the dataset ("conv2d/kernel:0" is the nested path conv2d/kernel:0)
// A weights-only file (model.save_weights) has no model_config and is refused: it holds no architecture.
//
// Architectures: Sequential (config {"layers": [...]} or the old bare list) and functional models whose
// inbound_nodes use Keras 2's [[layer, node, tensor, kwargs], ...] or Keras 3's {"args": [...keras tensors
// with keras_history...], "kwargs": {}}. Layers: InputLayer, Dense, Conv2D, MaxPooling2D, AveragePooling2D,
// GlobalAveragePooling2D, BatchNormalization, Flatten, Dropout, Activation, ReLU, Softmax, Add, Concatenate;
// activations linear, relu, relu6, sigmoid, tanh, softmax. Anything else is one error listing every
// unsupported layer.
//
// Data layout: Keras image tensors are channels-last [N, H, W, C]. The loader keeps Keras' semantics exactly
// by transposing into the simulator's NCHW after the input (Conv2D kernels [kh, kw, C/g, M] become
// [M, C/g, kh, kw]) and back to NHWC before a Flatten, a Dense on an image tensor, or a model output.
// padding "same" is TensorFlow's: output ceil(in / stride), the odd padding at the end (SAME_UPPER);
// pooling ignores padded positions. data_format "channels_first" models are read as NCHW directly.

#include <filesystem>

#include "models/network.hpp"

namespace spikesim::models {

Network load_keras(const std::filesystem::path& file);

}  // namespace spikesim::models
