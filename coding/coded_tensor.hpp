#pragma once
// What the presynaptic neurons of one coded tensor send: the integer each neuron carries over T steps.
// prepare() fixes T, applies the zero-point shift and saturation; encode()/decode() convert to and from
// the event stream exactly.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "coding/scheme.hpp"
#include "neurons/spike_counts.hpp"

namespace spikesim::coding {

struct CodingOptions {
  Scheme scheme = Scheme::ternary;
  std::optional<std::int32_t> steps;  // fixed T; default: the fewest steps for the tensor's largest value
  bool saturate = false;              // clip values a fixed T cannot carry (counted) instead of failing
};

struct CodedTensor {
  Scheme scheme = Scheme::ternary;
  std::int32_t steps = 0;  // T
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::int32_t> value;       // [rows][cols] integer carried by the spikes (count + zero point)
  std::vector<float> scale;              // [rows] V_th: one count is worth scale[r]
  std::vector<std::int32_t> zero_point;  // [rows] shift added before coding (0 for signed schemes)
  std::int64_t saturated = 0;            // elements clipped to fit a fixed T

  [[nodiscard]] std::int64_t size() const { return rows * cols; }
  // The neuron count the spikes stand for: value - zero_point (after any saturation).
  [[nodiscard]] std::int32_t count(std::int64_t r, std::int64_t c) const {
    return value[static_cast<std::size_t>(r * cols + c)] - zero_point[static_cast<std::size_t>(r)];
  }
};

// `what` names the tensor in error messages (e.g. "trace.h5: layer q_proj input").
CodedTensor prepare(const neurons::SpikeCounts& counts, const CodingOptions& options, std::string_view what);
// The same, reusing the counts' buffers (no copy of the [rows][cols] array).
CodedTensor prepare(neurons::SpikeCounts&& counts, const CodingOptions& options, std::string_view what);

// Building blocks of prepare(), for pipelines that code a tensor row by row while it is in cache
// (sim::code_site); prepare() is validate_options + shift_row on every row + finish_steps.
void validate_options(const CodingOptions& options, std::string_view what);
struct RowExtremes {
  std::int32_t lo;  // smallest value of the row after the shift (0 or below)
  std::int32_t hi;  // largest value (0 or above)
};
// Shifts a row of counts by its zero point (-min, when the scheme needs one and min < 0) in place.
RowExtremes shift_row(Scheme scheme, std::span<std::int32_t> values, std::int32_t& zero_point);
// Sets coded.steps from the tensor's extremes (or the fixed T) and checks or clips values the scheme cannot
// carry in T steps, exactly as prepare(); returns true when values were clipped (coded.saturated > 0).
bool finish_steps(CodedTensor& coded, std::int32_t lo, std::int32_t hi, const CodingOptions& options,
                  std::string_view what);

// The neuron counts after saturation, as SpikeCounts (x̂ = count · scale).
neurons::SpikeCounts counts_of(const CodedTensor& coded);

}  // namespace spikesim::coding
