#pragma once
// Mapping a network's synaptic layers onto the cores of a neuromorphic chip (or several), so that each spike
// is charged for the router hops it travels and static power for the chips the network needs.
//
// Placement (deterministic, in execution order): every coded layer gets
//   - source cores for its presynaptic (coding) neurons:      ceil(in / neurons_per_core)
//   - target cores for its postsynaptic neurons and synapses: the fewest cores such that each holds at most
//     neurons_per_core neurons and their fan-in synapses (in x weight_bits / 8 bytes per neuron) fit its
//     synaptic memory (synapses live with the postsynaptic neuron, as on Loihi)
// on consecutive cores. Cores fill tiles, tiles fill a chip's tiles_x x tiles_y mesh in serpentine order, and
// chips fill a near-square grid of chips (also serpentine), so consecutive cores are close.
// The mesh of tiles is a Boost.Graph grid (a compressed sparse row graph; links E-W or N-S, flagged when they
// cross a chip boundary); hop counts are shortest paths from a breadth-first search from each source tile,
// stopped once every target tile is reached (a SpikingBrain-7B-sized network maps onto 422 Loihi chips in
// ~0.03 s, onto 27 TrueNorth chips in ~1 s).
// Routing (ChipSpec::routing):
//   unicast    a spike becomes one packet per target core of its layer (Loihi's cores send to each
//              destination core); hops = sum over target cores of the shortest-path length
//   multicast  one packet per spike, copied at routers: hops = edges of the union of the BFS-tree paths
// A fully connected layer's presynaptic neuron reaches every postsynaptic neuron, so every spike goes to
// every target core of its layer. Layers that are not spike-coded (dense ops) are not placed.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "energy/estimate.hpp"
#include "energy/profile.hpp"

namespace spikesim::energy {

struct MeshLayer {
  std::string name;
  std::int64_t in = 0;       // presynaptic neurons
  std::int64_t out = 0;      // postsynaptic neurons
  std::int64_t weights = 0;  // synapses stored (in x out for a fully connected layer)
  bool coded = true;         // false: a dense op, not placed on cores
};

// Per-spike routing cost from one source core to all target cores of its layer.
struct SourceRoute {
  std::int64_t core = 0;
  std::int64_t neurons = 0;   // presynaptic neurons on this core (a contiguous block, in index order)
  double packets = 0;         // per spike
  double hops_ew = 0;         // per spike
  double hops_ns = 0;         // per spike
  double chip_crossings = 0;  // per spike
};

struct LayerPlacement {
  bool placed = false;
  std::int64_t first_source_core = 0;
  std::int64_t source_cores = 0;
  std::int64_t first_target_core = 0;
  std::int64_t target_cores = 0;
  std::int64_t neurons_per_target_core = 0;  // at most; the last core may hold fewer
  double synaptic_bytes = 0;                 // weights x weight_bits / 8
  std::vector<SourceRoute> sources;          // in presynaptic index order
};

struct NetworkMapping {
  std::vector<LayerPlacement> layers;  // one per MeshLayer, same order
  std::int64_t cores = 0;              // cores used
  std::int64_t chips = 0;              // chips needed (cores / cores_per_chip, rounded up)
  std::int64_t chips_x = 0;            // chip grid, E-W
  std::int64_t chips_y = 0;            // chip grid, N-S
  double synaptic_bytes = 0;           // all layers
  Routing routing = Routing::unicast;
};

// Places the layers; ModelError-like ProfileError when one neuron's fan-in cannot fit a core.
NetworkMapping map_network(const std::vector<MeshLayer>& layers, const ChipSpec& chip, double weight_bits);

// Mapping counts of layer `index` for `spikes` events. With spikes_per_input (one count per presynaptic
// neuron) every spike is charged from its own source core; without, spikes are spread over the source
// cores in proportion to the neurons they hold (exact when one core holds all presynaptic neurons).
MappingCounts mapping_counts(const NetworkMapping& mapping, std::size_t index, std::uint64_t spikes,
                             std::span<const std::uint64_t> spikes_per_input = {});

// Tile coordinates (global, over all chips) of a core, and the chip that holds it.
struct TilePosition {
  std::int64_t x = 0;
  std::int64_t y = 0;
  std::int64_t chip = 0;
};
TilePosition tile_of(std::int64_t core, const ChipSpec& chip, std::int64_t chips_x);

}  // namespace spikesim::energy
