#pragma once
// SpikingBrain's adaptive-threshold neuron (arXiv 2509.05276 §3.3; DESIGN §2).

#include <cstdint>
#include <span>
#include <string_view>

#include "neurons/neuron.hpp"

namespace spikesim::neurons {

inline constexpr float v_th_min = 1e-5F;
inline constexpr float v_th_max = 1e4F;

// Rounds a float to the nearest bfloat16 value (round half to even), returned as float.
float round_to_bf16(float value);

// V_th = clamp(bf16(mean|x|) / k, 1e-5, 1e4) over `x`.
float adaptive_threshold(std::span<const float> x, double k);

// Per-row (or one per-tensor) thresholds for x [rows][cols].
std::vector<float> adaptive_thresholds(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                                       double k, Granularity granularity);

// s = round_half_even(x / V_th), no clipping. Throws NeuronError if a count would not fit in int32.
SpikeCounts adaptive_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                            std::vector<float> v_th_per_row, std::string_view what);

// Row kernel of adaptive_counts, for pipelines that code a tensor row by row while it is in cache
// (sim::code_site): counts[c] = round_half_even(x[c] / v_th). Returns false (counts unspecified) when a
// count would reach 2^30 in magnitude or x holds NaN; then throw_count_overflow() reports it.
[[nodiscard]] bool adaptive_counts_row(std::span<const float> x, float v_th, std::span<std::int32_t> counts);
[[noreturn]] void throw_count_overflow(std::span<const float> x_row, std::int64_t row, float v_th,
                                       std::string_view what);

}  // namespace spikesim::neurons
