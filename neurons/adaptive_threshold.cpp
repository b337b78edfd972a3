#include "neurons/adaptive_threshold.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/text.hpp"

namespace spikesim::neurons {

float round_to_bf16(float value) {
  auto bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t lsb = (bits >> 16U) & 1U;
  bits += 0x7FFFU + lsb;  // round half to even on the 16 bits that bfloat16 drops
  bits &= 0xFFFF0000U;
  return std::bit_cast<float>(bits);
}

float adaptive_threshold(std::span<const float> x, double k) {
  double sum_abs = 0.0;
  for (const float v : x)
    sum_abs += std::fabs(static_cast<double>(v));
  const auto mean_abs = x.empty() ? 0.0F : static_cast<float>(sum_abs / static_cast<double>(x.size()));
  const float v_th = round_to_bf16(mean_abs) / static_cast<float>(k);
  return std::clamp(v_th, v_th_min, v_th_max);
}

std::vector<float> adaptive_thresholds(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                                       double k, Granularity granularity) {
  std::vector<float> v_th(static_cast<std::size_t>(rows));
  if (granularity == Granularity::per_tensor) {
    std::fill(v_th.begin(), v_th.end(), adaptive_threshold(x, k));
    return v_th;
  }
  const auto n = static_cast<std::size_t>(cols);
  for (std::size_t r = 0; r < v_th.size(); ++r)
    v_th[r] = adaptive_threshold(x.subspan(r * n, n), k);
  return v_th;
}

SpikeCounts adaptive_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                            std::vector<float> v_th_per_row, std::string_view what) {
  SpikeCounts out;
  out.rows = rows;
  out.cols = cols;
  out.scale = std::move(v_th_per_row);
  out.count.resize(x.size());
  constexpr float count_limit = 1073741824.0F;  // 2^30: far beyond any T a coding can carry
  const auto n = static_cast<std::size_t>(cols);
  for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) {
    const float v_th = out.scale[r];
    for (std::size_t c = 0; c < n; ++c) {
      const float q = std::nearbyint(x[r * n + c] / v_th);  // FE_TONEAREST: round half to even
      if (!(std::fabs(q) < count_limit)) {
        throw NeuronError(cat(what, ": element [", r, ", ", c, "] = ", x[r * n + c], " over V_th ", v_th,
                              " gives a spike count beyond 2^30"));
      }
      out.count[r * n + c] = static_cast<std::int32_t>(q);
    }
  }
  return out;
}

}  // namespace spikesim::neurons
