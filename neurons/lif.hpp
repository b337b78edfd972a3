#pragma once
// Leaky integrate-and-fire neuron driven by a constant input current over a fixed number of virtual steps.
//   v_{t+1} = beta * v_t + x ; spike +1 when v >= theta (v -= theta), spike -1 when signed and v <= -theta.
// theta = steps * V_th, so with beta = 1 the count is trunc(x / V_th) capped at `steps` (rate code, x̂ = s ·
// V_th).

#include <span>
#include <string_view>

#include "neurons/spike_counts.hpp"

namespace spikesim::neurons {

struct LifParams {
  double beta = 1.0;  // fraction of the membrane kept per step
  int steps = 16;     // virtual steps
  bool fire_negative = true;
};

// Spike count of one LIF neuron with threshold theta.
std::int32_t lif_count(float x, float theta, const LifParams& params);

SpikeCounts lif_counts(std::span<const float> x, std::int64_t rows, std::int64_t cols,
                       std::vector<float> v_th_per_row, const LifParams& params);

}  // namespace spikesim::neurons
