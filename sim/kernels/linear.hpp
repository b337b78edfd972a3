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
