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

enum class DType { f32, f16, bf16 };

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
};

enum class OpKind {
  input,   // external activations (e.g. a trace's recorded layer input)
  linear,  // y = x W^T + b: a synaptic site
  // Llama-family LLM ops (models/llm.hpp)
  embedding,  // token ids -> rows of the embedding table
  rmsnorm,    // x / sqrt(mean(x^2) + eps) * weight
  rope,       // rotary position embedding of q or k heads
  attention,  // causal grouped-query attention over a KV cache
  silu_mul,   // SwiGLU gating: silu(gate) * up
  add,        // residual add
};
std::string_view name(OpKind kind);

struct Op {
  OpKind kind = OpKind::input;
  std::string name;                            // unique, e.g. "layers.0.attention.wq"
  std::map<std::string, std::string> tensors;  // role ("weight", "bias", "value") -> tensor name
  std::map<std::string, std::int64_t> ints;    // integer attributes
  int order = 0;                               // tie-break for execution order
  bool coded = false;                          // spike-coded synaptic site
};

struct DataEdge {
  int slot = 0;  // which input of the consumer
};

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op, DataEdge>;
using Vertex = Graph::vertex_descriptor;

struct Network {
  std::string source;  // file the network was loaded from
  Graph graph;
  std::map<std::string, Tensor> tensors;
  std::vector<std::shared_ptr<const void>> storage;  // keeps the tensors' bytes alive

  Vertex add_op(const Op& op);
  void connect(Vertex from, Vertex to, int slot = 0);
  // Adds a tensor backed by `values` (moved into storage).
  const Tensor& add_tensor(std::string name, std::vector<std::int64_t> shape, std::vector<float> values);
  [[nodiscard]] const Tensor& tensor(const std::string& name) const;  // ModelError if missing

  // Topological order; ops that are ready together run by `order`, then by name. Throws on a cycle.
  [[nodiscard]] std::vector<Vertex> execution_order() const;
};

}  // namespace spikesim::models
