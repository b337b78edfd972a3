#pragma once
// Integer spike counts of one coded tensor: what every neuron model produces and every coding consumes.

#include <cstdint>
#include <vector>

namespace spikesim::neurons {

struct SpikeCounts {
  std::int64_t rows = 0;            // tokens (or samples × positions)
  std::int64_t cols = 0;            // features = presynaptic neurons
  std::vector<std::int32_t> count;  // [rows][cols] signed integer spike count
  std::vector<float> scale;         // [rows] value of one count (V_th); x̂[r][c] = count[r][c] * scale[r]

  [[nodiscard]] std::int64_t size() const { return rows * cols; }
  [[nodiscard]] float reconstruct(std::int64_t r, std::int64_t c) const {
    return static_cast<float>(count[static_cast<std::size_t>(r * cols + c)]) *
           scale[static_cast<std::size_t>(r)];
  }
};

}  // namespace spikesim::neurons
