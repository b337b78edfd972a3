#pragma once
// A 2-D convolution as a synaptic layer, lowered once into flat arrays that every executor shares:
//   conv_dense_forward              y = conv(x, W) + b: im2col + Eigen GEMM (GPU-equivalent run)
//   conv_event_forward_reference    every event, step by step: a spike of presynaptic neuron (c, y, x) adds
//                                   w · V_th · step_weight to the kernel footprint it reaches
//   conv_event_forward              the same sum from the coded values (each value is the exact sum of its
//                                   spikes' step weights), scattered per presynaptic neuron
//
// Presynaptic neuron j = (c, iy, ix) of a sample's input map [C][H][W] reaches the output positions
// (oy, ox) with oy · stride_h − pad_top + ky · dilation_h = iy for some kernel row ky (likewise for x) that
// lie inside the output map, times the output channels of its group: its fan-out is
//   (M / groups) · taps_h(iy) · taps_w(ix),   taps_h(iy) = #{ky : (iy + pad_top − ky·dil_h) ≥ 0, divisible by
//                                             stride_h, and the quotient < out_h}
// so SOPs are exact at the borders, with any stride, padding, dilation and groups: padding carries no
// synapses. The dense run performs out_h · out_w · M · (C / groups) · kh · kw MACs (the usual count, which
// includes the taps that land on padding).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "coding/coded_tensor.hpp"
#include "coding/event_stream.hpp"

namespace spikesim::sim {

struct ConvGeometry {
  std::int64_t in_channels = 0, in_h = 0, in_w = 0;
  std::int64_t out_channels = 0, out_h = 0, out_w = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;

  // Fills out_h / out_w from the rest; throws std::invalid_argument naming `what` if the geometry is
  // inconsistent (channels not divisible by groups, kernel larger than the padded input, ...).
  void finish(const std::string& what);
  [[nodiscard]] std::int64_t in_per_group() const { return in_channels / groups; }
  [[nodiscard]] std::int64_t out_per_group() const { return out_channels / groups; }
  [[nodiscard]] std::int64_t in_size() const { return in_channels * in_h * in_w; }      // per sample
  [[nodiscard]] std::int64_t out_size() const { return out_channels * out_h * out_w; }  // per sample
  [[nodiscard]] std::int64_t weight_count() const {
    return out_channels * in_per_group() * kernel_h * kernel_w;
  }
  [[nodiscard]] std::int64_t macs_per_sample() const { return out_h * out_w * weight_count(); }
};

// Kernel taps of one axis that connect input position i to an output position: (kernel index, output
// index) pairs. `taps(i).size()` is taps_h(i) of the header comment.
struct AxisTaps {
  std::vector<std::int64_t> start;   // [in + 1] CSR offsets
  std::vector<std::int64_t> kernel;  // [taps] kernel index k
  std::vector<std::int64_t> output;  // [taps] output index o
  [[nodiscard]] std::int64_t count(std::int64_t i) const {
    return start[static_cast<std::size_t>(i) + 1] - start[static_cast<std::size_t>(i)];
  }
};
AxisTaps axis_taps(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                   std::int64_t pad_begin, std::int64_t dilation);

struct ConvWeights {
  std::string name;
  ConvGeometry geometry;
  std::vector<float> weight;      // [M][C/G][kh][kw] as ONNX / PyTorch store it (dense run)
  std::vector<float> fanout;      // [C][kh][kw][M/G] weights from input channel c to its group's outputs
  std::vector<float> bias;        // [M] or empty
  std::vector<float> window_sum;  // [M][out_h][out_w] sum of the weights over in-bounds taps (zero point)
  AxisTaps taps_h, taps_w;
  std::vector<std::int64_t> fanout_count;    // [C][H][W] synapses of each presynaptic neuron
  std::vector<std::int64_t> fanout_nonzero;  // [C][H][W] of those, non-zero weights

  // Lowers W [M][C/G][kh][kw] (row-major) and an optional bias [M] for `geometry` (finish() already run).
  static ConvWeights lower(std::string name, const ConvGeometry& geometry, std::span<const float> w,
                           std::span<const float> bias = {});
  [[nodiscard]] std::int64_t weight_count() const { return geometry.weight_count(); }
};

// y [samples][M][out_h][out_w] = conv(x [samples][C][H][W], W) + b.
void conv_dense_forward(const ConvWeights& conv, std::span<const float> x, std::int64_t samples,
                        std::span<float> y);

// Reference event-driven delivery, one event at a time in step order. The stream has rows = samples and
// cols = C·H·W presynaptic neurons. y [samples][M][out_h][out_w].
void conv_event_forward_reference(const ConvWeights& conv, const coding::EventStream& events,
                                  std::span<float> y);

// Fast event-driven delivery from the coded values (rows = samples, cols = C·H·W). Deterministic for any
// thread count (output channels are split into fixed blocks, each summing every event in the same order).
void conv_event_forward(const ConvWeights& conv, const coding::CodedTensor& coded, std::span<float> y);

}  // namespace spikesim::sim
