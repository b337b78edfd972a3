#include "neurons/ilif.hpp"

#include <algorithm>
#include <cmath>

namespace spikesim::neurons {

SpikeCounts ilif_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                        std::vector<float> v_th_per_row, int max_count) {
  SpikeCounts out;
  out.rows = rows;
  out.cols = cols;
  out.scale = std::move(v_th_per_row);
  out.count.resize(x.size());
  const auto d = static_cast<float>(max_count);
  const auto n = static_cast<std::size_t>(cols);
  for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) {
    for (std::size_t c = 0; c < n; ++c) {
      const float mem = x[r * n + c] / out.scale[r];
      out.count[r * n + c] = static_cast<std::int32_t>(std::nearbyint(std::clamp(mem, 0.0F, d)));
    }
  }
  return out;
}

}  // namespace spikesim::neurons
