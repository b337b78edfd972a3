#include "models/network.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <queue>
#include <tuple>

#include "base/text.hpp"

namespace spikesim::models {

namespace {

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16U;
  std::uint32_t exp = (h >> 10U) & 0x1FU;
  std::uint32_t mant = h & 0x3FFU;
  if (exp == 0x1FU) return std::bit_cast<float>(sign | 0x7F800000U | (mant << 13U));  // inf / nan
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    // subnormal: normalise
    exp = 1;
    while ((mant & 0x400U) == 0) {
      mant <<= 1U;
      --exp;
    }
    mant &= 0x3FFU;
    return std::bit_cast<float>(sign | ((exp + 112U) << 23U) | (mant << 13U));
  }
  return std::bit_cast<float>(sign | ((exp + 112U) << 23U) | (mant << 13U));
}

}  // namespace

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (const auto d : shape)
    n *= d;
  return n;
}

std::span<const float> Tensor::f32() const {
  if (dtype != DType::f32) throw ModelError(cat("tensor '", name, "': expected f32 storage"));
  return {reinterpret_cast<const float*>(bytes.data()), static_cast<std::size_t>(numel())};  // NOLINT
}

std::vector<float> Tensor::to_f32() const {
  const auto n = static_cast<std::size_t>(numel());
  std::vector<float> out(n);
  switch (dtype) {
    case DType::i64:
      for (std::size_t i = 0; i < n; ++i) {
        std::int64_t v = 0;
        std::memcpy(&v, bytes.data() + 8 * i, 8);
        out[i] = static_cast<float>(v);
      }
      break;
    case DType::f32:
      std::memcpy(out.data(), bytes.data(), n * sizeof(float));
      break;
    case DType::f16:
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h = 0;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        out[i] = dtype == DType::f16 ? half_to_float(h)
                                     : std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16U);
      }
      break;
  }
  return out;
}

std::vector<std::int64_t> Tensor::to_i64() const {
  const auto n = static_cast<std::size_t>(numel());
  std::vector<std::int64_t> out(n);
  if (dtype == DType::i64) {
    if (n > 0) std::memcpy(out.data(), bytes.data(), n * sizeof(std::int64_t));
    return out;
  }
  const std::vector<float> values = to_f32();
  for (std::size_t i = 0; i < n; ++i) {
    const float v = values[i];
    if (!(std::abs(v) < 9.0e15F) || std::trunc(v) != v)
      throw ModelError(cat("tensor '", name, "': expected integer values, found ", v, " at ", i));
    out[i] = static_cast<std::int64_t>(v);
  }
  return out;
}

std::string_view name(OpKind kind) {
  switch (kind) {
    case OpKind::input:
      return "input";
    case OpKind::linear:
      return "linear";
    case OpKind::embedding:
      return "embedding";
    case OpKind::rmsnorm:
      return "rmsnorm";
    case OpKind::rope:
      return "rope";
    case OpKind::attention:
      return "attention";
    case OpKind::silu_mul:
      return "silu_mul";
    case OpKind::moe:
      return "moe";
    case OpKind::gla:
      return "gla";
    case OpKind::constant:
      return "constant";
    case OpKind::output:
      return "output";
    case OpKind::conv:
      return "conv";
    case OpKind::gemm:
      return "gemm";
    case OpKind::matmul:
      return "matmul";
    case OpKind::add:
      return "add";
    case OpKind::sub:
      return "sub";
    case OpKind::mul:
      return "mul";
    case OpKind::div:
      return "div";
    case OpKind::relu:
      return "relu";
    case OpKind::leaky_relu:
      return "leaky_relu";
    case OpKind::sigmoid:
      return "sigmoid";
    case OpKind::tanh:
      return "tanh";
    case OpKind::clip:
      return "clip";
    case OpKind::max_pool:
      return "max_pool";
    case OpKind::average_pool:
      return "average_pool";
    case OpKind::global_average_pool:
      return "global_average_pool";
    case OpKind::batch_norm:
      return "batch_norm";
    case OpKind::flatten:
      return "flatten";
    case OpKind::reshape:
      return "reshape";
    case OpKind::transpose:
      return "transpose";
    case OpKind::squeeze:
      return "squeeze";
    case OpKind::unsqueeze:
      return "unsqueeze";
    case OpKind::concat:
      return "concat";
    case OpKind::softmax:
      return "softmax";
    case OpKind::log_softmax:
      return "log_softmax";
    case OpKind::identity:
      return "identity";
  }
  return "?";
}

Vertex Network::add_op(const Op& op) {
  return boost::add_vertex(op, graph);
}

void Network::connect(Vertex from, Vertex to, int slot, int output) {
  boost::add_edge(from, to, DataEdge{slot, output}, graph);
}

const Tensor& Network::add_tensor(std::string name, std::vector<std::int64_t> shape,
                                  std::vector<float> values) {
  auto owned = std::make_shared<std::vector<float>>(std::move(values));
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = DType::f32;
  t.bytes = std::as_bytes(std::span<const float>(*owned));
  storage.push_back(owned);
  return tensors.insert_or_assign(std::move(name), std::move(t)).first->second;
}

const Tensor& Network::add_tensor(std::string name, std::vector<std::int64_t> shape,
                                  std::vector<std::int64_t> values) {
  auto owned = std::make_shared<std::vector<std::int64_t>>(std::move(values));
  const auto bytes = std::as_bytes(std::span<const std::int64_t>(*owned));
  return add_tensor_view(std::move(name), std::move(shape), DType::i64, bytes, owned);
}

const Tensor& Network::add_tensor_view(std::string name, std::vector<std::int64_t> shape, DType dtype,
                                       std::span<const std::byte> bytes, std::shared_ptr<const void> owner) {
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = dtype;
  t.bytes = bytes;
  storage.push_back(std::move(owner));
  return tensors.insert_or_assign(std::move(name), std::move(t)).first->second;
}

const Tensor& Network::tensor(const std::string& name) const {
  const auto it = tensors.find(name);
  if (it == tensors.end()) throw ModelError(cat(source, ": tensor '", name, "' missing"));
  return it->second;
}

std::vector<Vertex> Network::execution_order() const {
  const auto n = boost::num_vertices(graph);
  std::vector<std::size_t> pending(n, 0);
  for (Vertex v = 0; v < n; ++v)
    pending[v] = boost::in_degree(v, graph);
  auto later = [this](Vertex a, Vertex b) {
    return std::tie(graph[a].order, graph[a].name) > std::tie(graph[b].order, graph[b].name);
  };
  std::priority_queue<Vertex, std::vector<Vertex>, decltype(later)> ready(later);
  for (Vertex v = 0; v < n; ++v) {
    if (pending[v] == 0) ready.push(v);
  }
  std::vector<Vertex> order;
  order.reserve(n);
  while (!ready.empty()) {
    const Vertex v = ready.top();
    ready.pop();
    order.push_back(v);
    for (auto [e, end] = boost::out_edges(v, graph); e != end; ++e) {
      const Vertex w = boost::target(*e, graph);
      if (--pending[w] == 0) ready.push(w);
    }
  }
  if (order.size() != n) throw ModelError(cat(source, ": the op graph has a cycle"));
  return order;
}

}  // namespace spikesim::models
