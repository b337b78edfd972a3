#pragma once
// Break-even spike rate between a spiking estimate and a dense (GPU or same-silicon ANN) estimate.
//
// s = spikes per synapse per inference = SOPs / dense MACs: each presynaptic spike reaches every synapse of
// its fan-out once, so for a fully connected layer s = spikes / (tokens x in) = spikes per presynaptic neuron
// per token (DESIGN §4, energy-constants.md "Break-even analysis").
// Every spiking term is linear in the spike-driven counters (spikes, SOPs, weight reads, active updates,
// packets, hops, per-core work time), so with E(s) the spiking estimate when those counters are scaled by
// s / s_measured and everything else (idle neuron updates, synchronisation time, dense side work) is held:
//   E(s) = F + (E_measured - F) x s / s_measured,   F = E with the spike-driven counters at zero
//   s* = s_measured x (D - F) / (E_measured - F)    where E(s*) = D, the dense estimate.
// s* = 0: the spiking side costs more than the dense one even without a single spike.
// The range pairs the pessimistic ends (low: spiking high, dense low) and the optimistic ones (high).

#include <optional>

#include "energy/profile.hpp"

namespace spikesim::energy {

struct BreakEven {
  double s_measured = 0;  // SOPs / dense MACs of the run
  // Spikes per synapse at which spiking == dense; nullopt per bound when undefined (no spike-driven energy
  // or no spikes measured: the slope is unknown), +inf never happens.
  std::optional<double> s_low, s_nominal, s_high;
  Range spiking_pj;        // measured
  Range spiking_fixed_pj;  // F
  Range dense_pj;          // D
  [[nodiscard]] bool spiking_cheaper() const { return spiking_pj.nominal < dense_pj.nominal; }
};

BreakEven break_even(double s_measured, const Range& spiking_pj, const Range& spiking_fixed_pj,
                     const Range& dense_pj);

}  // namespace spikesim::energy
