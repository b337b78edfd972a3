#pragma once
// Energy of a whole network on one hardware profile: every layer's counters x the profile, with the layers
// mapped onto the chip's cores first when the profile has a chip layout. Totals are sums over layers (each
// layer's memories have their own size, so the total is not the estimate of the summed counters).
// Also the estimate with every spike-driven counter set to zero (the "fixed" part), which makes the
// break-even analysis (energy/break_even.hpp) exact: every term is linear in the spike-driven counters.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/counters.hpp"
#include "energy/estimate.hpp"
#include "energy/mapping.hpp"
#include "energy/profile.hpp"

namespace spikesim::energy {

struct LayerActivity {
  std::string name;
  const SiteCounters* counters = nullptr;
  LayerShape shape;
  bool coded = true;
  std::span<const std::uint64_t> spikes_per_input;  // optional: events per presynaptic neuron
};

struct NetworkEstimate {
  std::optional<NetworkMapping> mapping;     // when the profile has a chip section
  std::vector<MappingCounts> layer_mapping;  // [layers]
  std::vector<Estimate> layers;              // [layers]
  std::vector<Estimate> layers_fixed;        // [layers] spike-driven counters set to zero
  Estimate total;
  Estimate total_fixed;
};

// `dense`: how the run calls the dense projections (tokens per call), used by measured dense profiles only.
NetworkEstimate estimate_network(const std::vector<LayerActivity>& layers, const HardwareProfile& profile,
                                 const DenseContext& dense = {});

// The counters with every spike-driven count set to zero: spikes, SOPs (all kinds), weight words read and
// active postsynaptic updates. Idle updates grow accordingly (they are total minus active).
SiteCounters without_spikes(const SiteCounters& counters);
MappingCounts without_spikes(const MappingCounts& mapping);

}  // namespace spikesim::energy
