#pragma once
// The network description every loader builds: a Boost.Graph DAG of ops over named tensors.
// Vertices are ops, edges carry data from producer to consumer. The simulator lowers it once into flat
// execution plans (sim/); the graph never appears in a hot loop.

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/error.hpp"

namespace spikesim::models {

enum class DType { f32, f16, bf16, i64 };  // i64: shapes, axes (ONNX Reshape, Squeeze, ...)

// A named tensor whose bytes live in storage owned by the Network (a memory map or a loaded buffer).
struct Tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype = DType::f32;
  std::span<const std::byte> bytes;

  [[nodiscard]] std::int64_t numel() const;
  // Zero-copy view of f32 data; throws ModelError for other dtypes.
  [[nodiscard]] std::span<const float> f32() const;
  // Values converted to float (a copy; f16 / bf16 are widened exactly).
  [[nodiscard]] std::vector<float> to_f32() const;
  // Integer values (i64 storage; float storage must hold whole numbers). ModelError otherwise.
  [[nodiscard]] std::vector<std::int64_t> to_i64() const;
};

enum class OpKind {
  input,   // external activations (e.g. a trace's recorded layer input; a model's input, ints_list "shape")
  linear,  // y = x W^T + b: a synaptic site
  // Llama-family LLM ops (models/llm.hpp)
  embedding,  // token ids -> rows of the embedding table
  rmsnorm,    // x / sqrt(mean(x^2) + eps) * weight
  rope,       // rotary position embedding: inputs q [, k], outputs the rotated q [, k] (one per input)
  attention,  // causal grouped-query attention over a KV cache
  silu_mul,   // SwiGLU gating: silu(gate) * up
  moe,        // mixture of SwiGLU experts: x, router logits -> sum of the top-k experts' outputs (llm.hpp)
  gla,        // SpikingBrain's gated linear attention: q, k, v, gk -> o per head (llm.hpp, recurrent state)
  // General networks (ONNX, Keras). Inputs arrive on edges by slot; attributes are normalised by the loader
  // so that one meaning holds whatever the file format or opset (see models/onnx.hpp for each op).
  constant,             // tensors["value"]
  output,               // a model output: slot 0 is the value
  conv,                 // x, W [M][C/group][kh][kw], bias?: kernel_shape strides pads dilations group
  gemm,                 // A, B, C?: alpha beta transA transB
  matmul,               // numpy matmul with broadcasting
  add,                  // element-wise with numpy broadcasting (also the LLM residual add)
  sub,                  //
  mul,                  //
  div,                  //
  relu,                 //
  leaky_relu,           // floats alpha
  sigmoid,              //
  tanh,                 //
  clip,                 // floats min / max (absent: unbounded)
  max_pool,             // kernel_shape strides pads dilations ceil_mode
  average_pool,         // kernel_shape strides pads ceil_mode count_include_pad
  global_average_pool,  //
  batch_norm,           // x, scale, bias, mean, var: floats epsilon (inference form)
  flatten,              // ints axis
  reshape,              // x, shape (i64): ints allowzero
  transpose,            // int_lists perm (absent: reversed)
  squeeze,              // int_lists axes, or slot 1 (absent: every dimension of size 1)
  unsqueeze,            // int_lists axes, or slot 1
  concat,               // ints axis
  softmax,              // ints axis, coerce_2d (opset < 13: over the flattened dimensions from axis on)
  log_softmax,          // as softmax
  identity,             // Identity, Dropout at inference
};
std::string_view name(OpKind kind);

struct Op {
  OpKind kind = OpKind::input;
  std::string name;                            // unique, e.g. "layers.0.attention.wq"
  std::map<std::string, std::string> tensors;  // role ("weight", "bias", "value") -> tensor name
  std::map<std::string, std::int64_t> ints;    // integer attributes
  int order = 0;                               // tie-break for execution order
  bool coded = false;                          // spike-coded synaptic site
  std::map<std::string, std::vector<std::int64_t>> int_lists;  // list attributes (pads, strides, perm, ...)
  std::map<std::string, double> floats;                        // float attributes (alpha, epsilon, ...)
  std::map<std::string, std::vector<double>> float_lists;      // float list attributes (RoPE inv_freq)
  std::map<std::string, std::string> strings;                  // string attributes (auto_pad, ...)
  std::string source_op;  // the op as the file names it (e.g. ONNX "Conv", Keras "Conv2D"), for messages
};

struct DataEdge {
  int slot = 0;    // which input of the consumer
  int output = 0;  // which output of the producer (ops such as rope have several)
};

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op, DataEdge>;
using Vertex = Graph::vertex_descriptor;

struct Network {
  std::string source;  // file the network was loaded from
  Graph graph;
  std::map<std::string, Tensor> tensors;
  std::vector<std::shared_ptr<const void>> storage;  // keeps the tensors' bytes alive

  Vertex add_op(const Op& op);
  // Feeds output `output` of `from` into input `slot` of `to`.
  void connect(Vertex from, Vertex to, int slot = 0, int output = 0);
  // Adds a tensor backed by `values` (moved into storage).
  const Tensor& add_tensor(std::string name, std::vector<std::int64_t> shape, std::vector<float> values);
  const Tensor& add_tensor(std::string name, std::vector<std::int64_t> shape,
                           std::vector<std::int64_t> values);
  // Adds a tensor over bytes that `owner` keeps alive (zero-copy, e.g. into a parsed protobuf).
  const Tensor& add_tensor_view(std::string name, std::vector<std::int64_t> shape, DType dtype,
                                std::span<const std::byte> bytes, std::shared_ptr<const void> owner);
  [[nodiscard]] const Tensor& tensor(const std::string& name) const;  // ModelError if missing

  // Topological order; ops that are ready together run by `order`, then by name. Throws on a cycle.
  [[nodiscard]] std::vector<Vertex> execution_order() const;
};

}  // namespace spikesim::models
