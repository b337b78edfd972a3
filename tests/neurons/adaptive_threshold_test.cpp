#include "neurons/adaptive_threshold.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.hpp"

namespace spikesim::neurons {
namespace {

TEST(RoundToBf16, KeepsExactValuesAndRoundsHalfToEven) {
  EXPECT_EQ(round_to_bf16(1.0F), 1.0F);
  EXPECT_EQ(round_to_bf16(1.6875F), 1.6875F);
  // 1 + 2^-8 lies exactly between bf16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(round_to_bf16(1.0F + std::ldexp(1.0F, -8)), 1.0F);
  // 1 + 3 * 2^-8 lies between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up to the even one.
  EXPECT_EQ(round_to_bf16(1.0F + 3.0F * std::ldexp(1.0F, -8)), 1.0F + std::ldexp(1.0F, -6));
  EXPECT_EQ(round_to_bf16(-0.3F), -0.30078125F);
}

TEST(AdaptiveThreshold, IsBf16MeanOverKClamped) {
  const std::vector<float> x = {0.3F, -0.6F, 0.9F, 0.0F};  // mean |x| = 0.45
  EXPECT_EQ(adaptive_threshold(x, 3.0), round_to_bf16(0.45F) / 3.0F);
  EXPECT_EQ(adaptive_threshold(std::vector<float>(8, 0.0F), 3.0), v_th_min);
  EXPECT_EQ(adaptive_threshold(std::vector<float>(8, 1e6F), 3.0), v_th_max);
}

TEST(AdaptiveCounts, RoundHalfToEvenWithoutClipping) {
  // V_th = 1 exactly: counts are round-half-even of x, and large values are not clipped.
  const std::vector<float> x = {0.5F, 1.5F, 2.5F, -0.5F, -1.5F, -2.5F, 1000.0F, -7.49F};
  const SpikeCounts s = adaptive_counts(x, 1, 8, {1.0F}, "x");
  EXPECT_EQ(s.count, (std::vector<std::int32_t>{0, 2, 2, 0, -2, -2, 1000, -7}));
}

TEST(AdaptiveCounts, PerRowAndPerTensorThresholds) {
  const std::vector<float> x = {1, 1, 1, 1, 4, 4, 4, 4};
  NeuronConfig cfg;
  cfg.k = 2.0;
  const SpikeCounts rows = fire(cfg, x, 2, 4);
  EXPECT_EQ(rows.scale, (std::vector<float>{0.5F, 2.0F}));
  EXPECT_EQ(rows.count, (std::vector<std::int32_t>{2, 2, 2, 2, 2, 2, 2, 2}));
  cfg.granularity = Granularity::per_tensor;  // mean |x| = 2.5 -> V_th = 1.25
  const SpikeCounts whole = fire(cfg, x, 2, 4);
  EXPECT_EQ(whole.scale, (std::vector<float>{1.25F, 1.25F}));
  EXPECT_EQ(whole.count, (std::vector<std::int32_t>{1, 1, 1, 1, 3, 3, 3, 3}));
}

TEST(AdaptiveCounts, ReconstructionErrorIsAtMostHalfAThreshold) {
  const auto x = test::gaussian(64 * 32, 7);
  NeuronConfig cfg;
  const SpikeCounts s = fire(cfg, x, 64, 32);
  for (std::int64_t r = 0; r < 64; ++r) {
    for (std::int64_t c = 0; c < 32; ++c) {
      const float err = std::fabs(x[static_cast<std::size_t>(r * 32 + c)] - s.reconstruct(r, c));
      EXPECT_LE(err, 0.5F * s.scale[static_cast<std::size_t>(r)] * (1.0F + 1e-6F));
    }
  }
}

TEST(AdaptiveCounts, HigherKGivesFewerZeros) {
  const auto x = test::gaussian(256 * 64, 11);
  auto zeros = [&](double k) {
    NeuronConfig cfg;
    cfg.k = k;
    const SpikeCounts s = fire(cfg, x, 256, 64);
    return std::count(s.count.begin(), s.count.end(), 0);
  };
  EXPECT_GT(zeros(2.0), zeros(3.0));
  EXPECT_GT(zeros(3.0), zeros(4.0));
}

TEST(NeuronConfig, RejectsBadParameters) {
  NeuronConfig cfg;
  cfg.k = 0.0;
  EXPECT_THROW(validate(cfg), NeuronError);
  cfg.k = 3.0;
  cfg.kind = NeuronKind::lif;
  cfg.lif_beta = 1.5;
  EXPECT_THROW(validate(cfg), NeuronError);
  EXPECT_THROW(parse_neuron_kind("izhikevich"), NeuronError);
  const std::vector<float> x(6, 1.0F);
  EXPECT_THROW(fire(NeuronConfig{}, x, 2, 4), NeuronError);  // 6 values are not 2 x 4
}

}  // namespace
}  // namespace spikesim::neurons
