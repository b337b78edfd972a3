// Published energy arithmetic, reproduced with the shipped profiles and the estimator:
//  - SpikingBrain (arXiv 2509.05276): 1.13 spikes x 0.03 pJ (int8 add) vs 1.5 pJ FP16 MAC and 0.23 pJ INT8
//    MAC -> 97.7 % and 85.2 % less energy (compute only);
//  - Spike-driven Transformer (Yao et al., NeurIPS 2023): E = 4.6 pJ x FLOPs of the first (encoding) layer
//    + 0.9 pJ x SOPs, with SOPs = T x R x FLOPs of every spiking layer;
//  - a Loihi example computed by hand from Davies et al. 2018, Table 2, with the layer mapped onto cores and
//    every spike charged its router hops.

#include <gtest/gtest.h>

#include <cmath>

#include "energy/estimate.hpp"
#include "energy/network_estimate.hpp"
#include "sim/report/report.hpp"
#include "sim/site/synapse.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";

double truncate_1(double percent) {
  return std::floor(percent * 10.0) / 10.0;
}

TEST(PublishedEnergy, SpikingBrainComputeOnlyEstimate) {
  // 1.13 spikes per channel: every channel's spikes reach its synapses, so SOPs = 1.13 x dense MACs.
  SiteCounters c;
  c.dense_macs = 100000;
  c.sops = 113000;
  c.effective_sops = c.sops;
  const auto spiking = energy::estimate(c, energy::find_profile("horowitz45-int8", data)).spiking->total_pj;
  const auto fp16 = energy::estimate(c, energy::find_profile("horowitz45-fp16", data)).dense->total_pj;
  const auto int8 = energy::estimate(c, energy::find_profile("horowitz45-int8", data)).dense->total_pj;
  EXPECT_NEAR(spiking.nominal, 113000 * 0.03, 1e-9);
  const double vs_fp16 = 100.0 * (1.0 - spiking.nominal / fp16.nominal);  // 97.74 %
  const double vs_int8 = 100.0 * (1.0 - spiking.nominal / int8.nominal);  // 85.26 %
  // SpikingBrain reports both truncated to one decimal.
  EXPECT_DOUBLE_EQ(truncate_1(vs_fp16), 97.7);
  EXPECT_DOUBLE_EQ(truncate_1(vs_int8), 85.2);
}

TEST(PublishedEnergy, SpikeDrivenTransformerForm) {
  // Encoding layer (dense, first conv): FL = 1e6 MACs; a spiking layer with FL = 2e6, T = 4, R = 0.15.
  SiteCounters first;
  first.uncoded_macs = 1000000;
  first.dense_macs = 1000000;
  SiteCounters spiking;
  spiking.dense_macs = 2000000;
  spiking.sops = 4 * 2000000 * 15 / 100;  // SOPs = T x R x FL
  spiking.effective_sops = spiking.sops;
  const energy::HardwareProfile fp32 = energy::find_profile("horowitz45-fp32", data);
  const energy::NetworkEstimate n =
      energy::estimate_network({{"encoder", &first, {}, false, {}}, {"block", &spiking, {}, true, {}}}, fp32);
  EXPECT_NEAR(n.total.spiking->total_pj.nominal, 4.6 * 1e6 + 0.9 * 1.2e6, 1e-6);
}

TEST(PublishedEnergy, SpikeDrivenTransformerSopsAreTimeStepsTimesRateTimesFlops) {
  // The engine's SOPs equal SDT's T x R x FL on a real binary-coded layer, so the energy form above applies.
  const std::int64_t tokens = 16;
  const std::int64_t in = 48;
  const std::int64_t out = 20;
  auto x = test::gaussian(static_cast<std::size_t>(tokens * in), 11);
  for (auto& v : x)
    v = std::fabs(v);  // non-negative: binary coding needs no zero point
  const auto w = test::gaussian(static_cast<std::size_t>(out * in), 12);
  const sim::LinearWeights layer = sim::LinearWeights::from_row_major("fc", w, out, in);
  sim::SiteConfig config;
  config.coding.scheme = coding::Scheme::binary;
  std::vector<float> y(static_cast<std::size_t>(tokens * out));
  SiteCounters c;
  sim::run_site({&layer, nullptr}, x, tokens, config, y, c, {layer.name, "x", 0, {}});
  ASSERT_EQ(c.zero_point_macs, 0U);
  const double T = c.steps_max;
  const double rate = static_cast<double>(c.spikes) / static_cast<double>(c.element_steps);
  EXPECT_NEAR(T * rate * static_cast<double>(c.dense_macs), static_cast<double>(c.sops), 1e-6);
  // Spiking energy on the fp32 profile: 0.9 pJ per SOP, plus the per-token V_th rescale SDT folds away.
  const auto e = energy::estimate(c, energy::find_profile("horowitz45-fp32", data));
  EXPECT_NEAR(e.spiking->total_pj.nominal,
              0.9 * static_cast<double>(c.sops) + 4.6 * static_cast<double>(c.rescale_muls), 1e-6);
}

TEST(PublishedEnergy, LoihiLayerComputedByHandWithRoutingHops) {
  // One token through a 1024 -> 4096 layer (8-bit weights, 4 MiB) for T = 4 steps; 1000 input spikes.
  // Mapping (energy/mapping.hpp, Loihi: 4 cores per tile, 8 x 4 tiles, 128 KiB synapses per core):
  //   source core 0 at tile (0,0); 1 KiB of synapses per neuron -> 128 neurons per core -> 32 target cores
  //   (1..32): 3 in tile (0,0), 4 in each tile (1..7,0), core 32 in tile (7,1).
  //   Unicast, per spike: 32 packets; E-W hops 4 x (1+2+...+7) + 7 = 119; N-S hops 1.
  SiteCounters c;
  c.tokens = 1;
  c.elements = 1024;
  c.element_steps = 4096;
  c.neuron_updates = 4096;  // presynaptic: 1000 active, 3096 idle
  c.steps_sum = 4;
  c.token_steps = 4;
  c.spikes = 1000;
  c.sops = 1000 * 4096;
  c.effective_sops = c.sops;
  c.post_neuron_updates = 4096 * 4;  // every postsynaptic neuron active in every step
  c.post_neuron_updates_active = 4096 * 4;
  c.dense_macs = 1024 * 4096;
  const energy::HardwareProfile loihi = energy::find_profile("loihi", data);
  const energy::NetworkEstimate n =
      energy::estimate_network({{"fc", &c, {1024, 4096, 1024 * 4096}, true, {}}}, loihi);
  const energy::Breakdown& b = *n.total.spiking;

  const double compute = 4096000 * 23.6 + (1000 + 16384) * 81.0 + 3096 * 52.0;  // 98,234,696 pJ
  const double routing = 1000 * (32 * 1.7 + 119 * 3.0 + 1 * 4.0);               // 415,400 pJ
  // Latency: 4 steps x 465 ns + target work / 32 cores + source work on 1 core.
  const double latency = 4 * 465.0 + (4096000 * 3.5 + 16384 * 8.4) / 32 + (1000 * 8.4 + 3096 * 5.3);
  const double static_pj = 104.0 * 1 * latency;  // mW x ns = pJ, one chip
  EXPECT_NEAR(b[energy::Term::compute].nominal, compute, 1e-6);
  EXPECT_NEAR(b[energy::Term::routing].nominal, routing, 1e-6);
  EXPECT_NEAR(b.latency_ns.nominal, latency, 1e-6);
  EXPECT_NEAR(b.latency_ns.nominal, 478969.6, 1e-6);
  EXPECT_NEAR(b[energy::Term::static_power].nominal, static_pj, 1e-4);
  EXPECT_NEAR(b.total_pj.nominal, compute + routing + static_pj, 1e-4);
  EXPECT_NEAR(b.total_pj.nominal, 148462934.4, 1e-3);
  EXPECT_EQ(n.mapping->cores, 33);
  EXPECT_EQ(n.mapping->chips, 1);
}

}  // namespace
}  // namespace spikesim
