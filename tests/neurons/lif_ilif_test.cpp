#include "neurons/lif.hpp"

#include <gtest/gtest.h>

#include "neurons/ilif.hpp"
#include "neurons/neuron.hpp"

namespace spikesim::neurons {
namespace {

TEST(Lif, WithoutLeakCountsFloorOfInputOverThreshold) {
  // theta = steps * V_th; constant current x for `steps` steps fires floor(x / V_th) times (capped at steps).
  const LifParams p{.beta = 1.0, .steps = 8, .fire_negative = true};
  EXPECT_EQ(lif_count(2.9F, 8.0F, p), 2);
  EXPECT_EQ(lif_count(3.0F, 8.0F, p), 3);
  EXPECT_EQ(lif_count(-3.0F, 8.0F, p), -3);
  EXPECT_EQ(lif_count(100.0F, 8.0F, p), 8);  // at most one spike per step
}

TEST(Lif, LeakLowersTheCount) {
  const LifParams no_leak{.beta = 1.0, .steps = 16, .fire_negative = false};
  const LifParams leak{.beta = 0.8, .steps = 16, .fire_negative = false};
  EXPECT_EQ(lif_count(1.0F, 4.0F, no_leak), 4);
  EXPECT_LT(lif_count(1.0F, 4.0F, leak), 4);
  // A current that never reaches theta under leak (steady state x / (1 - beta) = 4.5 < 5) never fires.
  EXPECT_EQ(lif_count(0.9F, 5.0F, leak), 0);
  EXPECT_EQ(lif_count(-3.0F, 4.0F, no_leak), 0);  // unsigned: no negative spikes
}

TEST(Ilif, RoundsAndClampsToZeroAndD) {
  const std::vector<float> x = {-1.0F, 0.4F, 0.5F, 1.5F, 2.6F, 9.0F};
  const SpikeCounts s = ilif_counts(x, 1, 6, {1.0F}, 4);
  EXPECT_EQ(s.count, (std::vector<std::int32_t>{0, 0, 0, 2, 3, 4}));
}

TEST(Neuron, InterfaceDispatchesEveryKind) {
  const std::vector<float> x = {1.0F, 2.0F, 3.0F, -6.0F};  // mean |x| = 3; k = 3 -> V_th = 1
  NeuronConfig cfg;
  EXPECT_EQ(fire(cfg, x, 1, 4).count, (std::vector<std::int32_t>{1, 2, 3, -6}));
  cfg.kind = NeuronKind::ilif;
  cfg.ilif_max_count = 2;
  EXPECT_EQ(fire(cfg, x, 1, 4).count, (std::vector<std::int32_t>{1, 2, 2, 0}));
  cfg.kind = NeuronKind::lif;
  cfg.lif_steps = 8;
  EXPECT_EQ(fire(cfg, x, 1, 4).count, (std::vector<std::int32_t>{1, 2, 3, -6}));
  cfg.v_th = 2.0;  // fixed threshold overrides the adaptive one
  EXPECT_EQ(fire(cfg, x, 1, 4).scale, (std::vector<float>{2.0F}));
}

}  // namespace
}  // namespace spikesim::neurons
