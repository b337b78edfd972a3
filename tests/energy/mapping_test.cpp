// Core mapping: placement by capacity, serpentine tile layout, BFS hop counts, chips needed.

#include "energy/mapping.hpp"

#include <gtest/gtest.h>

namespace spikesim::energy {
namespace {

const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";

ChipSpec loihi_chip() {
  return *find_profile("loihi", data).chip;
}

TEST(Mapping, TilesFillTheChipInSerpentineOrder) {
  const ChipSpec chip = loihi_chip();  // 4 cores per tile, 8 x 4 tiles
  const auto at = [&](std::int64_t core, std::int64_t chips_x = 1) { return tile_of(core, chip, chips_x); };
  EXPECT_EQ(at(0).x, 0);
  EXPECT_EQ(at(3).x, 0);
  EXPECT_EQ(at(4).x, 1);
  EXPECT_EQ(at(31).x, 7);  // end of row 0
  EXPECT_EQ(at(32).x, 7);  // row 1 runs back
  EXPECT_EQ(at(32).y, 1);
  EXPECT_EQ(at(63).x, 0);
  EXPECT_EQ(at(64).y, 2);
  EXPECT_EQ(at(64).x, 0);
  // Chip 1 of a 2 x 1 chip grid sits east of chip 0.
  EXPECT_EQ(at(128, 2).chip, 1);
  EXPECT_EQ(at(128, 2).x, 8);
  EXPECT_EQ(at(128, 2).y, 0);
}

TEST(Mapping, PlacesLayersByNeuronAndSynapticMemoryCapacity) {
  const ChipSpec chip = loihi_chip();
  // 1024 x 4096 at 8 bits: 1 KiB of synapses per postsynaptic neuron, 128 per 128 KiB core -> 32 cores.
  // 64 x 2000: 2000 neurons need 2 cores (1024 each), memory 128 KiB would allow 2048 per core.
  const NetworkMapping m = map_network({{"a", 1024, 4096, 1024 * 4096, true},
                                        {"dense_op", 10, 10, 0, false},
                                        {"b", 64, 2000, 64 * 2000, true}},
                                       chip, 8);
  ASSERT_EQ(m.layers.size(), 3U);
  const LayerPlacement& a = m.layers[0];
  EXPECT_TRUE(a.placed);
  EXPECT_EQ(a.source_cores, 1);
  EXPECT_EQ(a.target_cores, 32);
  EXPECT_EQ(a.neurons_per_target_core, 128);
  EXPECT_FALSE(m.layers[1].placed);
  const LayerPlacement& b = m.layers[2];
  EXPECT_EQ(b.first_source_core, 33);
  EXPECT_EQ(b.target_cores, 2);
  EXPECT_EQ(b.neurons_per_target_core, 1024);
  EXPECT_EQ(m.cores, 36);
  EXPECT_EQ(m.chips, 1);
  EXPECT_DOUBLE_EQ(m.synaptic_bytes, 1024.0 * 4096 + 64.0 * 2000);
}

TEST(Mapping, UnicastHopsAreShortestPathsToEveryTargetCore) {
  // Source core 0 at tile (0,0); target cores 1..32: cores 1-3 share its tile, cores 4k..4k+3 sit at tile
  // (k,0) for k = 1..7, core 32 at tile (7,1). Per spike: 32 packets, E-W hops 4 x (1+...+7) + 7 = 119,
  // N-S hops 1.
  const NetworkMapping m = map_network({{"a", 1024, 4096, 1024 * 4096, true}}, loihi_chip(), 8);
  ASSERT_EQ(m.layers[0].sources.size(), 1U);
  const SourceRoute& r = m.layers[0].sources[0];
  EXPECT_DOUBLE_EQ(r.packets, 32);
  EXPECT_DOUBLE_EQ(r.hops_ew, 119);
  EXPECT_DOUBLE_EQ(r.hops_ns, 1);
  EXPECT_DOUBLE_EQ(r.chip_crossings, 0);
  const MappingCounts mc = mapping_counts(m, 0, 10);
  EXPECT_TRUE(mc.mapped);
  EXPECT_DOUBLE_EQ(mc.spike_packets, 320);
  EXPECT_DOUBLE_EQ(mc.hops_ew, 1190);
  EXPECT_DOUBLE_EQ(mc.hops_ns, 10);
  EXPECT_EQ(mc.target_cores, 32);
  EXPECT_EQ(mc.chips, 1);
}

TEST(Mapping, MulticastSendsOnePacketAlongATree) {
  ChipSpec chip = loihi_chip();
  chip.routing = Routing::multicast;
  const NetworkMapping m = map_network({{"a", 1024, 4096, 1024 * 4096, true}}, chip, 8);
  const SourceRoute& r = m.layers[0].sources[0];
  EXPECT_DOUBLE_EQ(r.packets, 1);
  // The tree must reach tiles (1..7, 0) and (7, 1): at least 8 edges, at most the 7 + 7 of two separate
  // paths.
  EXPECT_GE(r.hops_ew + r.hops_ns, 8);
  EXPECT_LE(r.hops_ew + r.hops_ns, 14);
}

TEST(Mapping, WeightsBeyondOneChipNeedMoreChipsAndCrossChipHops) {
  // 1024 x 16384 at 8 bits = 16 MiB of synapses: 128 target cores + 1 source core = 129 cores, 2 chips.
  const NetworkMapping m = map_network({{"big", 1024, 16384, 1024 * 16384, true}}, loihi_chip(), 8);
  EXPECT_EQ(m.cores, 129);
  EXPECT_EQ(m.chips, 2);
  EXPECT_EQ(m.chips_x, 2);
  const SourceRoute& r = m.layers[0].sources[0];
  EXPECT_DOUBLE_EQ(r.chip_crossings, 1);  // only core 128, on chip 1, is across the boundary
  const MappingCounts mc = mapping_counts(m, 0, 4);
  EXPECT_DOUBLE_EQ(mc.chip_crossings, 4);
  EXPECT_EQ(mc.chips, 2);
}

TEST(Mapping, SpikesPerInputChargeEachSpikeFromItsOwnSourceCore) {
  // 5120 presynaptic neurons: source cores 0-4 (core 4 on tile 1). 5120 bytes of synapses per target neuron:
  // 25 per core, so 50 neurons need target cores 5 and 6, both on tile (1,0): one E-W hop from tile (0,0).
  const NetworkMapping m = map_network({{"a", 5120, 50, 5120 * 50, true}}, loihi_chip(), 8);
  const auto& s = m.layers[0].sources;
  ASSERT_EQ(s.size(), 5U);
  EXPECT_DOUBLE_EQ(s[0].hops_ew, 2);  // two packets, one hop each
  EXPECT_DOUBLE_EQ(s[4].hops_ew, 0);  // same tile as the targets
  std::vector<std::uint64_t> spikes(5120, 0);
  spikes[0] = 6;     // core 0
  spikes[5119] = 2;  // core 4
  EXPECT_DOUBLE_EQ(mapping_counts(m, 0, 8, spikes).hops_ew, 6 * 2.0);
  // Without per-neuron counts the 8 spikes are spread by neurons: 1.6 per core, cores 0-3 two hops each.
  EXPECT_DOUBLE_EQ(mapping_counts(m, 0, 8).hops_ew, 4 * 1.6 * 2.0);
}

TEST(Mapping, AFanInLargerThanACoreIsAnErrorNamingTheLayer) {
  try {
    (void)map_network({{"wide", 200000, 4, 800000, true}}, loihi_chip(), 8);
    FAIL() << "expected an error";
  } catch (const ProfileError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'wide'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace spikesim::energy
