#include "neurons/lif.hpp"

namespace spikesim::neurons {

std::int32_t lif_count(float x, float theta, const LifParams& params) {
  const double th = theta;
  double v = 0.0;
  std::int32_t count = 0;
  for (int t = 0; t < params.steps; ++t) {
    v = params.beta * v + static_cast<double>(x);
    if (v >= th) {
      v -= th;
      ++count;
    } else if (params.fire_negative && v <= -th) {
      v += th;
      --count;
    }
  }
  return count;
}

SpikeCounts lif_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                       std::vector<float> v_th_per_row, const LifParams& params) {
  SpikeCounts out;
  out.rows = rows;
  out.cols = cols;
  out.scale = std::move(v_th_per_row);
  out.count.resize(x.size());
  const auto n = static_cast<std::size_t>(cols);
  for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) {
    // theta = steps * V_th: with no leak the rate count approximates x / V_th.
    const float theta = static_cast<float>(params.steps) * out.scale[r];
    for (std::size_t c = 0; c < n; ++c)
      out.count[r * n + c] = lif_count(x[r * n + c], theta, params);
  }
  return out;
}

}  // namespace spikesim::neurons
