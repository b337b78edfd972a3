// The synthetic outlier-channel generator: distribution, determinism, chunk independence, and the zero
// fraction it gives at k = 3 (the statistic the benchmarks and the 7B accounting rely on).

#include "sim/run/synthetic.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "neurons/neuron.hpp"

namespace spikesim::sim {
namespace {

TEST(Synthetic, StandardNormalHasTheRightMoments) {
  const std::uint64_t n = 400000;
  double s1 = 0.0;
  double s2 = 0.0;
  double s4 = 0.0;
  std::uint64_t beyond_2 = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double z = standard_normal(3, 5, i);
    s1 += z;
    s2 += z * z;
    s4 += z * z * z * z;
    beyond_2 += std::fabs(z) > 2.0 ? 1 : 0;
  }
  const auto nd = static_cast<double>(n);
  EXPECT_NEAR(s1 / nd, 0.0, 0.01);
  EXPECT_NEAR(s2 / nd, 1.0, 0.01);
  EXPECT_NEAR(s4 / nd, 3.0, 0.06);                                 // kurtosis of N(0, 1)
  EXPECT_NEAR(static_cast<double>(beyond_2) / nd, 0.0455, 0.002);  // P(|z| > 2)
}

TEST(Synthetic, IsDeterministicAndIndependentOfChunking) {
  for (const std::int64_t features : {8, 7, 33}) {  // odd sizes put a Box-Muller pair across tokens
    const OutlierChannels gen(9, 2, features);
    const std::vector<float> all = gen.tokens(0, 6);
    for (std::int64_t t0 = 0; t0 < 6; ++t0) {
      for (std::int64_t count = 1; t0 + count <= 6; ++count) {
        const std::vector<float> part = gen.tokens(t0, count);
        for (std::size_t i = 0; i < part.size(); ++i)
          ASSERT_EQ(part[i], all[static_cast<std::size_t>(t0 * features) + i]) << features << " " << t0;
      }
    }
    EXPECT_EQ(OutlierChannels(9, 2, features).tokens(0, 6), all);
    EXPECT_NE(OutlierChannels(9, 3, features).tokens(0, 6), all);
    EXPECT_NE(OutlierChannels(10, 2, features).tokens(0, 6), all);
  }
  EXPECT_THROW(OutlierChannels(1, 1, 0), std::invalid_argument);
  EXPECT_THROW(OutlierChannels(1, 1, 4, -1.0), std::invalid_argument);
}

TEST(Synthetic, ChannelScalesAreLogNormal) {
  const OutlierChannels gen(4, 1, 20000, 2.25);
  double s1 = 0.0;
  double s2 = 0.0;
  for (const float s : gen.scale()) {
    const double u = std::log(static_cast<double>(s));
    s1 += u;
    s2 += u * u;
  }
  const double n = 20000.0;
  EXPECT_NEAR(s1 / n, 0.0, 0.05);
  EXPECT_NEAR(std::sqrt(s2 / n), 2.25, 0.05);
}

TEST(Synthetic, ZeroFractionAtK3IsNearSpikingBrains) {
  // Averaged over 8 layer streams of Qwen2.5-7B width: the per-stream value varies with the few largest
  // channel scales (about 0.645 to 0.74 here); SpikingBrain-7B reports 0.6915.
  const std::int64_t features = 3584;
  const std::int64_t tokens = 32;
  double zero = 0.0;
  for (std::uint64_t stream = 0; stream < 8; ++stream) {
    const std::vector<float> x = OutlierChannels(1, stream, features).tokens(0, tokens);
    const auto counts = neurons::fire(neurons::NeuronConfig{}, x, tokens, features);
    std::int64_t z = 0;
    for (const std::int32_t c : counts.count)
      z += c == 0 ? 1 : 0;
    zero += static_cast<double>(z) / static_cast<double>(counts.count.size());
  }
  EXPECT_NEAR(zero / 8.0, 0.68, 0.04);
}

}  // namespace
}  // namespace spikesim::sim
