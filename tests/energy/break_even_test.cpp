// Break-even spikes per synapse: linearity of the estimate in the spike-driven counters, closed forms.

#include "energy/break_even.hpp"

#include <gtest/gtest.h>

#include "energy/network_estimate.hpp"

namespace spikesim::energy {
namespace {

const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";

SiteCounters layer_counters(std::uint64_t spikes) {
  // 4 tokens x 64 inputs -> 32 outputs, T = 4.
  SiteCounters c;
  c.tokens = 4;
  c.elements = 4 * 64;
  c.element_steps = c.elements * 4;
  c.neuron_updates = c.element_steps;
  c.steps_sum = 4;
  c.token_steps = 16;
  c.spikes = spikes;
  c.sops = spikes * 32;
  c.effective_sops = c.sops;
  c.weight_words_read = c.sops;
  c.post_neuron_updates = 4 * 32 * 4;
  c.post_neuron_updates_active = std::min<std::uint64_t>(spikes, 16) * 32;
  c.rescale_muls = 4 * 32;
  c.dense_macs = 4 * 64 * 32;
  c.dense_weight_words = 64 * 32;
  return c;
}

Breakdown spiking_of(const SiteCounters& c, const HardwareProfile& p) {
  const NetworkEstimate n = estimate_network({{"fc", &c, {64, 32, 64 * 32}, true, {}}}, p);
  return *n.total.spiking;
}

TEST(BreakEven, EveryProfileIsLinearInTheSpikeDrivenCounters) {
  // E(c with spike-driven counters doubled) = F + 2 (E - F): the premise of s*.
  for (const char* name : {"loihi", "horowitz45-memory-int8", "horowitz45-fp32", "truenorth"}) {
    SCOPED_TRACE(name);
    const HardwareProfile p = find_profile(name, data);
    SiteCounters c = layer_counters(40);
    SiteCounters twice = c;
    twice.spikes *= 2;
    twice.sops *= 2;
    twice.effective_sops *= 2;
    twice.weight_words_read *= 2;
    twice.post_neuron_updates_active *= 2;
    const NetworkEstimate n = estimate_network({{"fc", &c, {64, 32, 64 * 32}, true, {}}}, p);
    const double e = n.total.spiking->total_pj.nominal;
    const double f = n.total_fixed.spiking->total_pj.nominal;
    EXPECT_NEAR(spiking_of(twice, p).total_pj.nominal, f + 2 * (e - f), 1e-9 * e);
  }
}

TEST(BreakEven, AllInChipAgainstAComputeBoundGpuIsTheRatioOfEnergiesPerOp) {
  // TrueNorth (26 pJ per event, nothing fixed) vs H100 at 1.41 pJ/MAC: s* = 1.41 / 26 (energy-constants.md).
  const SiteCounters c = layer_counters(100);
  const HardwareProfile tn = find_profile("truenorth", data);
  const HardwareProfile gpu = find_profile("h100-bf16-compute", data);
  const std::vector<LayerActivity> layers = {{"fc", &c, {64, 32, 64 * 32}, true, {}}};
  const NetworkEstimate s = estimate_network(layers, tn);
  const NetworkEstimate d = estimate_network(layers, gpu);
  const double s_measured = static_cast<double>(c.sops) / static_cast<double>(c.dense_macs);
  const BreakEven b = break_even(s_measured, s.total.spiking->total_pj, s.total_fixed.spiking->total_pj,
                                 d.total.dense->total_pj);
  ASSERT_TRUE(b.s_nominal);
  EXPECT_NEAR(*b.s_nominal, 1.41 / 26.0, 1e-12);
  EXPECT_FALSE(b.spiking_cheaper());
}

TEST(BreakEven, RangesAreOrderedAndEdgeCasesAreExplicit) {
  const BreakEven b = break_even(0.5, {90, 100, 120}, {10, 20, 30}, {150, 200, 400});
  ASSERT_TRUE(b.s_low && b.s_nominal && b.s_high);
  EXPECT_NEAR(*b.s_nominal, 0.5 * (200 - 20) / (100 - 20), 1e-12);
  EXPECT_NEAR(*b.s_low, 0.5 * (150 - 30) / (120 - 30), 1e-12);  // spiking high vs dense low
  EXPECT_NEAR(*b.s_high, 0.5 * (400 - 10) / (90 - 10), 1e-12);  // spiking low vs dense high
  EXPECT_LE(*b.s_low, *b.s_nominal);
  EXPECT_LE(*b.s_nominal, *b.s_high);
  // Fixed costs above the dense estimate: never cheaper, s* = 0.
  EXPECT_DOUBLE_EQ(*break_even(0.5, {100, 100, 100}, {80, 80, 80}, {50, 50, 50}).s_nominal, 0.0);
  // No spikes measured, or no spike-driven energy: the slope is unknown.
  EXPECT_FALSE(break_even(0.0, {100, 100, 100}, {100, 100, 100}, {50, 50, 50}).s_nominal);
  EXPECT_FALSE(break_even(0.5, {100, 100, 100}, {100, 100, 100}, {50, 50, 50}).s_nominal);
}

TEST(BreakEven, ComputeOnlySameSiliconIsTheMacToAcRatio) {
  // Compute only, no dense side work: s* = E_MAC / E_AC (energy-constants.md, "Break-even analysis" A).
  for (const auto& [name, ratio] :
       std::vector<std::pair<const char*, double>>{{"horowitz45-fp32", 4.6 / 0.9},
                                                   {"horowitz45-fp16", 1.5 / 0.4},
                                                   {"horowitz45-int8", 0.23 / 0.03}}) {
    SCOPED_TRACE(name);
    SiteCounters c = layer_counters(50);
    c.rescale_muls = 0;
    const HardwareProfile p = find_profile(name, data);
    const NetworkEstimate n = estimate_network({{"fc", &c, {64, 32, 64 * 32}, true, {}}}, p);
    const double s = static_cast<double>(c.sops) / static_cast<double>(c.dense_macs);
    const BreakEven b =
        break_even(s, n.total.spiking->total_pj, n.total_fixed.spiking->total_pj, n.total.dense->total_pj);
    EXPECT_NEAR(*b.s_nominal, ratio, 1e-9);
  }
}

}  // namespace
}  // namespace spikesim::energy
