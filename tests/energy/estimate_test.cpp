#include "energy/estimate.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace spikesim::energy {
namespace {

const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";

SiteCounters example() {
  SiteCounters c;
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
  c.token_steps = 8;  // two tokens, T = 4
  c.tokens = 2;
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
  EXPECT_NEAR((*e.spiking)[Term::routing].nominal, 10 * 1.7, 1e-9);  // one packet per spike when unmapped
  // Not mapped: latency is token_steps x t_step only; static = p_static x latency (mW x ns = pJ) on one chip.
  EXPECT_NEAR(e.spiking->latency_ns.nominal, 8 * 465.0, 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::static_power].nominal, 104.0 * 465.0 * 8, 1e-6);
  EXPECT_NEAR((*e.spiking)[Term::static_power].low, 104.0 * 113.0 * 8, 1e-6);
  // Hops and per-core work are not charged without a core mapping, and the report says so.
  const auto& u = e.spiking->uncharged;
  EXPECT_TRUE(
      std::any_of(u.begin(), u.end(), [](const std::string& s) { return s.starts_with("router hops"); }));
  EXPECT_TRUE(
      std::any_of(u.begin(), u.end(), [](const std::string& s) { return s.starts_with("per-core work"); }));
}

TEST(Estimate, MappedLoihiChargesPacketsHopsByDirectionAndWorkTime) {
  MappingCounts m;
  m.mapped = true;
  m.spike_packets = 30;  // 10 spikes x 3 target cores
  m.hops_ew = 12;
  m.hops_ns = 5;
  m.source_cores = 1;
  m.target_cores = 2;
  m.chips = 3;
  const Estimate e = estimate(example(), find_profile("loihi", data), m);
  EXPECT_NEAR((*e.spiking)[Term::routing].nominal, 30 * 1.7 + 12 * 3.0 + 5 * 4.0, 1e-9);
  // latency = token_steps x t_step + (sops t_synop + post updates t_nu) / 2 target cores + pre updates / 1
  const double target_ns = 800 * 3.5 + 100 * 8.4 + 300 * 5.3;
  const double source_ns = 10 * 8.4 + 40 * 5.3;
  const double latency = 8 * 465.0 + target_ns / 2 + source_ns;
  EXPECT_NEAR(e.spiking->latency_ns.nominal, latency, 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::static_power].nominal, 104.0 * 3 * latency, 1e-6);  // every chip leaks
  EXPECT_NEAR(e.spiking->latency_ns.low, 8 * 113.0 + target_ns / 2 + source_ns, 1e-9);
}

TEST(Estimate, SramModelSizesEveryMemoryByTheLayer) {
  // A 4 x 3 layer: weights 12 x 8 bits, membrane 3 x 16 bits, int8 activations 4 and 3 x 8 bits.
  const auto p = find_profile("horowitz45-memory-int8", data);
  SiteCounters c;
  c.sops = 30;
  c.effective_sops = 30;
  c.spikes = 10;
  c.neuron_updates = 16;
  c.post_neuron_updates = 12;
  c.post_neuron_updates_active = 6;
  c.bias_adds = 3;
  c.tokens = 1;
  c.dense_macs = 12;
  c.dense_weight_words = 12;
  const LayerShape shape{4, 3, 12};
  const Estimate e = estimate(c, p, {}, shape);
  const auto sram = [](double bits) { return 13.2 + 1.09e-5 * bits; };
  EXPECT_NEAR((*e.spiking)[Term::weight_memory].nominal, 30 * sram(96) + 3 * sram(24), 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::state_memory].nominal, 2 * (30 + 12) * sram(48), 1e-9);
  EXPECT_NEAR((*e.spiking)[Term::weight_memory].low, 30 * sram(96) / 4 + 3 * sram(24) / 4, 1e-9);
  // Dense side (Lemaire, fully connected): a weight read per MAC, bias reads, input reads, output writes.
  EXPECT_NEAR((*e.dense)[Term::weight_memory].nominal, 12 * sram(96) + 3 * sram(24), 1e-9);
  EXPECT_NEAR((*e.dense)[Term::state_memory].nominal, 4 * sram(32) + 3 * sram(24), 1e-9);
  EXPECT_NEAR((*e.dense)[Term::compute].nominal, 12 * 0.23 + 3 * 0.03, 1e-12);

  // Without the layer's shape the SRAM model cannot size the memories: listed as uncharged, not zero.
  const Estimate unknown = estimate(c, p);
  EXPECT_EQ((*unknown.spiking)[Term::weight_memory].nominal, 0.0);
  EXPECT_FALSE(unknown.spiking->uncharged.empty());
  EXPECT_FALSE(unknown.dense->uncharged.empty());
}

TEST(Estimate, SramModelIsCappedByADramAccess) {
  const auto p = find_profile("horowitz45-memory-int8", data);
  const auto huge = sram_access_pj(*p.spiking, 1e12);  // 125 GB: DRAM
  ASSERT_TRUE(huge);
  EXPECT_DOUBLE_EQ(huge->nominal, 1300.0);
  EXPECT_DOUBLE_EQ(huge->high, 2600.0);
  EXPECT_NEAR(sram_access_pj(*p.spiking, 8192.0 * 8)->nominal, 13.2 + 1.09e-5 * 65536, 1e-12);
  EXPECT_FALSE(sram_access_pj(*find_profile("loihi", data).spiking, 100.0));
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
  SiteCounters twice = example();
  twice += example();
  const auto p = find_profile("loihi", data);
  EXPECT_NEAR(estimate(twice, p).spiking->total_pj.nominal,
              2 * estimate(example(), p).spiking->total_pj.nominal, 1e-6);
}

}  // namespace
}  // namespace spikesim::energy
