#include "neurons/adaptive_threshold.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "base/text.hpp"

namespace spikesim::neurons {

float round_to_bf16(float value) {
  auto bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t lsb = (bits >> 16U) & 1U;
  bits += 0x7FFFU + lsb;  // round half to even on the 16 bits that bfloat16 drops
  bits &= 0xFFFF0000U;
  return std::bit_cast<float>(bits);
}

namespace {

// Rows of at least this many elements in total are split over threads (results never depend on it).
constexpr std::size_t threaded_elements = 65536;

// Sum of |x| in double over 8 fixed interleaved partial sums (so the loop vectorises and the order, hence
// the result, is the same for every thread count), then the partials in order.
double sum_abs(const float* x, std::size_t n) {
  using Double8 = double __attribute__((vector_size(64)));
  using Float8 = float __attribute__((vector_size(32)));
  constexpr std::size_t ways = 8;
  Double8 part{};  // lane w: |x[j]| for j % 8 == w (the tail goes to lane 0)
  std::size_t i = 0;
  for (; i + ways <= n; i += ways) {
    Float8 xf;
    std::memcpy(&xf, x + i, sizeof xf);
    const Double8 xd = __builtin_convertvector(xf, Double8);
    part += xd < 0.0 ? -xd : xd;
  }
  for (; i < n; ++i)
    part[0] += std::fabs(static_cast<double>(x[i]));
  double sum = 0.0;
  for (std::size_t w = 0; w < ways; ++w)
    sum += part[w];
  return sum;
}

float threshold_of_sum(double sum_abs_x, std::size_t n, double k) {
  const auto mean_abs = n == 0 ? 0.0F : static_cast<float>(sum_abs_x / static_cast<double>(n));
  const float v_th = round_to_bf16(mean_abs) / static_cast<float>(k);
  return std::clamp(v_th, v_th_min, v_th_max);
}

}  // namespace

float adaptive_threshold(std::span<const float> x, double k) {
  return threshold_of_sum(sum_abs(x.data(), x.size()), x.size(), k);
}

std::vector<float> adaptive_thresholds(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                                       double k, Granularity granularity) {
  std::vector<float> v_th(static_cast<std::size_t>(rows));
  if (granularity == Granularity::per_tensor) {
    std::fill(v_th.begin(), v_th.end(), adaptive_threshold(x, k));
    return v_th;
  }
  const auto n = static_cast<std::size_t>(cols);
#pragma omp parallel for schedule(static) if (x.size() >= threaded_elements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    v_th[ru] = threshold_of_sum(sum_abs(x.data() + ru * n, n), n, k);
  }
  return v_th;
}

bool adaptive_counts_row(std::span<const float> x, float v_th, std::span<std::int32_t> counts) {
  constexpr float count_limit = 1073741824.0F;  // 2^30: far beyond any T a coding can carry
  const float* xr = x.data();
  std::int32_t* cr = counts.data();
  std::int32_t bad = 0;
  for (std::size_t c = 0; c < x.size(); ++c) {     // vectorises: no branch, no call
    const float q = std::nearbyint(xr[c] / v_th);  // FE_TONEAREST: round half to even
    bad |= std::fabs(q) < count_limit ? 0 : 1;     // also catches NaN
    cr[c] = static_cast<std::int32_t>(std::fabs(q) < count_limit ? q : 0.0F);
  }
  return bad == 0;
}

void throw_count_overflow(std::span<const float> x_row, std::int64_t row, float v_th, std::string_view what) {
  for (std::size_t c = 0; c < x_row.size(); ++c) {
    if (!std::isfinite(x_row[c])) {
      throw NeuronError(cat(what, ": element [", row, ", ", c, "] = ", x_row[c], " is not finite"));
    }
  }
  constexpr float count_limit = 1073741824.0F;
  for (std::size_t c = 0; c < x_row.size(); ++c) {
    if (!(std::fabs(std::nearbyint(x_row[c] / v_th)) < count_limit)) {
      throw NeuronError(cat(what, ": element [", row, ", ", c, "] = ", x_row[c], " over V_th ", v_th,
                            " gives a spike count beyond 2^30"));
    }
  }
  throw NeuronError(cat(what, ": row ", row, " gives a spike count beyond 2^30"));
}

SpikeCounts adaptive_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                            std::vector<float> v_th_per_row, std::string_view what) {
  SpikeCounts out;
  out.rows = rows;
  out.cols = cols;
  out.scale = std::move(v_th_per_row);
  out.count.resize(x.size());
  const auto n = static_cast<std::size_t>(cols);
  std::vector<std::uint8_t> row_bad(static_cast<std::size_t>(rows), 0);  // [rows] a count beyond 2^30
#pragma omp parallel for schedule(static) if (x.size() >= threaded_elements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    const bool ok = adaptive_counts_row(x.subspan(ru * n, n), out.scale[ru],
                                        std::span<std::int32_t>(out.count).subspan(ru * n, n));
    row_bad[ru] = ok ? 0 : 1;
  }
  for (std::size_t r = 0; r < row_bad.size(); ++r) {
    if (row_bad[r] != 0)
      throw_count_overflow(x.subspan(r * n, n), static_cast<std::int64_t>(r), out.scale[r], what);
  }
  return out;
}

}  // namespace spikesim::neurons
