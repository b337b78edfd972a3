#pragma once
// A fully connected synaptic layer, lowered once into flat arrays that both executors share:
//   dense_forward      y = x W^T + b                 (GPU-equivalent run; Eigen GEMM)
//   event_forward_reference  every event, step by step, adds w * V_th * step_weight to its token's outputs
//   event_forward      the same sum, events batched by presynaptic neuron across tokens, threaded over
//                      output neurons (so results do not depend on the thread count)

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "coding/coded_tensor.hpp"
#include "coding/event_stream.hpp"

namespace spikesim::sim {

struct LinearWeights {
  std::string name;
  std::int64_t in = 0;         // presynaptic neurons (input features)
  std::int64_t out = 0;        // postsynaptic neurons (output features)
  std::vector<float> fanout;   // [in][out] row j = weights of presynaptic neuron j (W transposed)
  std::vector<float> bias;     // [out] or empty
  std::vector<float> row_sum;  // [out] sum_j W[o][j], for the zero-point correction
  std::vector<std::int64_t> fanout_nonzero;  // [in] non-zero weights in each fan-out row

  // Lowers W [out][in] (row-major, as stored by PyTorch/HF/llama2.c) and an optional bias [out].
  static LinearWeights from_row_major(std::string name, std::span<const float> w, std::int64_t out,
                                      std::int64_t in, std::span<const float> bias = {});
  [[nodiscard]] std::int64_t weight_count() const { return in * out; }
};

// y [tokens][out] = x [tokens][in] W^T + b.
void dense_forward(const LinearWeights& layer, std::span<const float> x, std::int64_t tokens,
                   std::span<float> y);

// Reference event-driven delivery: one event at a time, in step order. y [rows][out].
void event_forward_reference(const LinearWeights& layer, const coding::EventStream& events,
                             std::span<float> y);

// Fast event-driven delivery straight from the coded values (each value is the exact sum of its spikes'
// step weights). Deterministic for any thread count. y [rows][out].
void event_forward(const LinearWeights& layer, const coding::CodedTensor& coded, std::span<float> y);

}  // namespace spikesim::sim
