#pragma once
// Integer LIF of SpikeYOLO (Luo et al., ECCV 2024): s = round(clamp(x / V_th, 0, D)).
// Training emits integers; at inference each integer is expanded into D virtual steps of binary spikes.

#include <span>

#include "neurons/spike_counts.hpp"

namespace spikesim::neurons {

SpikeCounts ilif_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                        std::vector<float> v_th_per_row, int max_count);

}  // namespace spikesim::neurons
