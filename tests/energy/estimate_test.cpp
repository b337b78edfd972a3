#include "energy/estimate.hpp"

#include <gtest/gtest.h>

namespace spikesim::energy {
namespace {

const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";

sim::SiteCounters example() {
  sim::SiteCounters c;
  c.sops = 1000;
  c.effective_sops = 800;
  c.graded_sops = 300;
  c.graded_effective_sops = 240;
  c.spikes = 10;
  c.neuron_updates = 50;
  c.post_neuron_updates = 400;
  c.post_neuron_updates_active = 100;
  c.rescale_muls = 20;
  c.zero_point_macs = 5;
  c.bias_adds = 20;
  c.uncoded_macs = 7;
  c.dense_macs = 4000;
  c.dense_weight_words = 100;
  c.steps_sum = 4;
  return c;
}

TEST(Estimate, ComputeOnlyFp32IsAcPerSopAndMacPerDenseMac) {
  const Estimate e = estimate(example(), find_profile("horowitz45-fp32", data));
  ASSERT_TRUE(e.spiking && e.dense);
  // 1000 SOPs x 0.9 + (25 + 7 uncoded) MACs x 4.6 + 20 adds x 0.9
  EXPECT_NEAR(e.spiking->total_pj.nominal, 1000 * 0.9 + 32 * 4.6 + 20 * 0.9, 1e-9);
  EXPECT_NEAR(e.dense->total_pj.nominal, 4000 * 4.6 + 20 * 0.9, 1e-9);
  EXPECT_NEAR(e.spiking->total_pj.nominal, e.spiking->term_pj[0].nominal, 1e-12);  // compute only
}

TEST(Estimate, LoihiChargesEffectiveSopsNeuronUpdatesSpikesAndStatic) {
  const Estimate e = estimate(example(), find_profile("loihi", data));
  ASSERT_TRUE(e.spiking);
  EXPECT_FALSE(e.dense);
  const double compute = 800 * 23.6 + (10 + 100) * 81.0 + (40 + 300) * 52.0;
  EXPECT_NEAR((*e.spiking)[Term::compute].nominal, compute, 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::routing].nominal, 10 * 1.7, 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::static_power].nominal, 104.0 * 465.0 * 4, 1e-6);  // mW x ns = pJ
  EXPECT_NEAR((*e.spiking)[Term::static_power].low, 104.0 * 113.0 * 4, 1e-6);
  // Hops are not charged without a core mapping, and the report says so.
  EXPECT_FALSE(e.spiking->uncharged.empty());
}

TEST(Estimate, AllInProfileChargesNothingElse) {
  const Estimate e = estimate(example(), find_profile("truenorth", data));
  EXPECT_NEAR(e.spiking->total_pj.nominal, 1000 * 26.0, 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::routing].nominal + (*e.spiking)[Term::static_power].nominal, 0.0, 0.0);
}

TEST(Estimate, MemoryBoundGpuStreamsWeightsPerTokenWithARange) {
  const Estimate e = estimate(example(), find_profile("h100-bf16-memory", data));
  ASSERT_TRUE(e.dense);
  // per token: dense_macs weights x 2 bytes
  EXPECT_NEAR(e.dense->total_pj.high, 4000 * 2 * 209.0, 1e-6);
  EXPECT_NEAR(e.dense->total_pj.low, 4000 * 2 * 23.0, 1e-6);
  EXPECT_LT(e.dense->total_pj.low, e.dense->total_pj.nominal);
}

TEST(Estimate, IsLinearInTheCounters) {
  sim::SiteCounters twice = example();
  twice += example();
  const auto p = find_profile("loihi", data);
  EXPECT_NEAR(estimate(twice, p).spiking->total_pj.nominal,
              2 * estimate(example(), p).spiking->total_pj.nominal, 1e-6);
}

}  // namespace
}  // namespace spikesim::energy
