#pragma once
// One row of a report: a synaptic site (coded or dense) with its shape and counters.

#include <cstdint>
#include <string>
#include <vector>

#include "base/counters.hpp"

namespace spikesim::sim {

struct LayerRecord {
  std::string name;
  std::string kind = "linear";  // linear | conv | dense op kinds added by other paths
  std::int64_t index = 0;       // execution order
  std::int64_t in = 0;          // presynaptic neurons per token
  std::int64_t out = 0;         // postsynaptic neurons per token
  std::int64_t weights = 0;     // synapses stored
  bool coded = true;            // false: run densely in the spiking model too
  SiteCounters counters;
  // Optional: events sent by each presynaptic neuron [in], summed over tokens. The core mapping charges every
  // spike the hops from its own source core; when empty, spikes are spread over the source cores by size.
  std::vector<std::uint64_t> spikes_per_input;
  // Mixture-of-experts steps: tokens routed to each expert [experts] (the per-expert load).
  std::vector<std::uint64_t> expert_tokens;
};

}  // namespace spikesim::sim
