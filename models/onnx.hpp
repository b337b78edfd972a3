#pragma once
// ONNX models (.onnx, protobuf; Debian's libonnx-dev / libprotobuf) into the network description.
//
// Opsets 7 to 17 of the default domain. Supported ops and how their attributes land on models::Op:
//   Conv                kernel_shape strides pads dilations group auto_pad (NOTSET, SAME_UPPER, SAME_LOWER,
//   VALID) Gemm                alpha beta transA transB MatMul, Add, Sub, Mul, Div                     numpy
//   broadcasting Relu, LeakyRelu (alpha, default 0.01), Sigmoid, Tanh, Clip (min/max attributes < 11, inputs
//   >= 11) MaxPool             kernel_shape strides pads auto_pad dilations ceil_mode (storage_order ignored)
//   AveragePool         kernel_shape strides pads auto_pad ceil_mode count_include_pad
//   GlobalAveragePool
//   BatchNormalization  epsilon; inference form only (training_mode = 1 is an error)
//   Flatten (axis), Reshape (shape input with 0 / -1, allowzero), Transpose (perm)
//   Squeeze, Unsqueeze  axes attribute (opset < 13) or input (>= 13)
//   Concat (axis)
//   Softmax, LogSoftmax opset < 13: axis default 1 over the flattened dims from axis on (coerce_2d = 1);
//                       opset >= 13: axis default -1, one axis
//   Dropout, Identity   identity at inference
//   Constant            value, value_float(s), value_int(s); initializers likewise become constants
// Initializers are zero-copy views into the parsed protobuf (f32, i64) or converted once (f16, bf16, f64,
// int32, ...); external data (data_location = EXTERNAL) is read from the file next to the model.
//
// Errors are ModelError naming the file, the node (index, name, op) or tensor, and expected vs found:
// a file protobuf cannot parse, an unsupported opset, every unsupported op in the file in one message,
// an input no node / initializer / graph input produces, a tensor whose data does not match its dims,
// NaN/Inf in an initializer, a consumed secondary output (Dropout mask, MaxPool indices).

#include <filesystem>
#include <string>
#include <vector>

#include "models/network.hpp"

namespace spikesim::models {

Network load_onnx(const std::filesystem::path& file);

// The external-data files `file`'s initializers and constants name (each resolved inside its directory, as
// load_onnx does), sorted and without repeats: what a stored result must key on beside the model itself.
std::vector<std::filesystem::path> onnx_external_data_files(const std::filesystem::path& file);

// The op types load_onnx accepts, in the order above.
const std::vector<std::string>& supported_onnx_ops();

inline constexpr int onnx_min_opset = 7;
inline constexpr int onnx_max_opset = 17;

}  // namespace spikesim::models
