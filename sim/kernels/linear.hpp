#pragma once
// A fully connected synaptic layer, lowered once into flat arrays that both executors share:
//   dense_forward      y = x W^T + b                 (GPU-equivalent run; Eigen GEMM)
//   event_forward_reference  every event, step by step, adds w * V_th * step_weight to its token's outputs
//   event_forward      the same sum, events batched by presynaptic neuron across tokens, threaded over
//                      output neurons (so results do not depend on the thread count)

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "coding/coded_tensor.hpp"
#include "coding/event_stream.hpp"
#include "sim/kernels/weights.hpp"

namespace spikesim::sim {

// The weights are kept in the checkpoint's dtype: F32 in `fanout`, F16 / BF16 as their 16-bit patterns in
// `fanout16` (half the memory; widened exactly where a kernel reads them). A layer with neither holds shapes
// only (the accounting counts it but cannot run it).
struct LinearWeights {
  std::string name;
  std::int64_t in = 0;   // presynaptic neurons (input features)
  std::int64_t out = 0;  // postsynaptic neurons (output features)
  WeightType type = WeightType::f32;
  std::vector<float> fanout;  // [in][out] (f32): row j = weights of presynaptic neuron j (W transposed)
  std::vector<std::uint16_t> fanout16;       // [in][out] (f16 / bf16): the same layout, stored bits
  std::vector<float> bias;                   // [out] or empty
  std::vector<float> row_sum;                // [out] sum_j W[o][j], for the zero-point correction
  std::vector<std::int64_t> fanout_nonzero;  // [in] non-zero weights in each fan-out row

  // Lowers W [out][in] (row-major, as stored by PyTorch/HF/llama2.c) and an optional bias [out].
  static LinearWeights from_row_major(std::string name, std::span<const float> w, std::int64_t out,
                                      std::int64_t in, std::span<const float> bias = {});
  // The same from stored values of `type` (W [out][in] row-major at `w`), kept in that type. done_with
  // (optional, 16-bit types) gets each block of stored rows once it is transposed (to release its pages).
  static LinearWeights from_stored(std::string name, const void* w, WeightType type, std::int64_t out,
                                   std::int64_t in, std::span<const float> bias = {},
                                   const std::function<void(std::span<const std::byte>)>& done_with = {});
  [[nodiscard]] std::int64_t weight_count() const { return in * out; }
  [[nodiscard]] bool shape_only() const { return fanout.empty() && fanout16.empty(); }
  // Weight of presynaptic neuron j to output o, as float.
  [[nodiscard]] float weight(std::size_t j, std::size_t o) const {
    const std::size_t i = j * static_cast<std::size_t>(out) + o;
    return type == WeightType::f32
               ? fanout[i]
               : (type == WeightType::f16 ? half_to_float(fanout16[i]) : bf16_to_float(fanout16[i]));
  }
  // Bytes the weights take in memory.
  [[nodiscard]] std::size_t weight_bytes() const { return fanout.size() * 4 + fanout16.size() * 2; }
};

// y [tokens][out] = x [tokens][in] W^T + b.
void dense_forward(const LinearWeights& layer, std::span<const float> x, std::int64_t tokens,
                   std::span<float> y);

// The last step of event-driven delivery, whose accumulators y [rows][outputs] hold sums of coded values
// times weights: y[r][i] = scale[r] * (y[r][i] - zero_point[r] * correction[i]) + bias[i / plane], with
// outputs = correction.size(). correction: the weight sums that undo a zero-point shift (a linear layer's
// row sums, a convolution's in-bounds window sums); bias: one per output (plane 1) or per channel of
// `plane` positions, or empty.
void finish_event_outputs(std::span<const float> scale, std::span<const std::int32_t> zero_point,
                          std::span<const float> correction, std::span<const float> bias, std::size_t plane,
                          std::span<float> y);

// Reference event-driven delivery: one event at a time, in step order. y [rows][out].
void event_forward_reference(const LinearWeights& layer, const coding::EventStream& events,
                             std::span<float> y);

// Fast event-driven delivery straight from the coded values (each value is the exact sum of its spikes'
// step weights, so a neuron's bit planes cost one accumulate, not one per spike). Deterministic for any
// thread count. y [rows][out].
//
// Layout: every token's events (presynaptic neuron j, coded value), j ascending, cut into blocks of
// `block_inputs` presynaptic neurons. Output neurons are split into fixed tiles of 128 (then 64/32/16/rest);
// threads take whole tiles. Within a tile, for each input block the weight rows of its presynaptic neurons
// (block_inputs x 128 floats) stay in cache while every token that spiked on them is served, and each
// token's 128 accumulators stay in registers while its events are summed. Only non-zero values are touched:
// work = events x out, never tokens x in x out.
struct EventForwardOptions {
  std::int64_t block_inputs = 128;  // presynaptic neurons per cache block (tuning only; any value is exact)
  bool prefetch = true;             // prefetch the next block's weight rows while serving this one
};
void event_forward(const LinearWeights& layer, const coding::CodedTensor& coded, std::span<float> y);
void event_forward(const LinearWeights& layer, const coding::CodedTensor& coded, std::span<float> y,
                   const EventForwardOptions& options);

}  // namespace spikesim::sim
