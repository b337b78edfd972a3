// Raster capture: one token at one site, across calls, decoding exactly to the neuron counts.

#include "sim/site/raster.hpp"

#include <gtest/gtest.h>

#include "coding/coded_tensor.hpp"
#include "sim/site/synapse.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

TEST(Raster, CapturesTheRequestedTokenOfTheRequestedSiteAcrossCalls) {
  const std::int64_t in = 24;
  const std::int64_t out = 5;
  const auto w = test::gaussian(static_cast<std::size_t>(out * in), 2);
  const LinearWeights q = LinearWeights::from_row_major("q", w, out, in);
  const LinearWeights k = LinearWeights::from_row_major("k", w, out, in);
  SiteConfig config;
  config.coding.scheme = coding::Scheme::bitwise;
  config.raster = std::make_shared<RasterCapture>("k", 5);  // token 5 of site k: row 1 of the second call
  std::vector<float> y(static_cast<std::size_t>(4 * out));
  SiteCounters c;
  std::vector<float> second;
  for (int call = 0; call < 2; ++call) {
    const auto x = test::gaussian(static_cast<std::size_t>(4 * in), 10 + static_cast<std::uint32_t>(call));
    run_site({&q, nullptr}, x, 4, config, y, c, {q.name, "q", 4 * call, {}});
    run_site({&k, nullptr}, x, 4, config, y, c, {k.name, "k", 4 * call, {}});
    if (call == 1) second = x;
  }
  const auto r = config.raster->raster();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->site, "k");
  EXPECT_EQ(r->token, 5);
  EXPECT_EQ(r->neurons, in);
  EXPECT_EQ(config.raster->rows_seen(), 8);
  // The events decode to the counts, and the counts are those of row 1 of the second call.
  std::vector<std::int64_t> decoded(static_cast<std::size_t>(in), 0);
  for (std::size_t e = 0; e < r->step.size(); ++e)
    decoded[static_cast<std::size_t>(r->neuron[e])] +=
        r->sign[e] * (std::int64_t{1} << (r->steps - 1 - r->step[e]));
  const auto counts = neurons::fire(config.neuron, second, 4, in);
  for (std::int64_t j = 0; j < in; ++j) {
    EXPECT_EQ(decoded[static_cast<std::size_t>(j)], r->count[static_cast<std::size_t>(j)]);
    EXPECT_EQ(r->count[static_cast<std::size_t>(j)], counts.count[static_cast<std::size_t>(in + j)]);
  }
}

TEST(Raster, DefaultsToTheFirstSiteAndReportsRowsSeen) {
  RasterCapture capture;
  coding::CodedTensor t;
  t.scheme = coding::Scheme::ternary;
  t.steps = 2;
  t.rows = 2;
  t.cols = 3;
  t.value = {1, -2, 0, 0, 0, 2};
  t.scale = {0.5F, 0.25F};
  t.zero_point = {0, 0};
  capture.offer("first", t, 0);
  capture.offer("second", t, 0);
  const auto r = capture.raster();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->site, "first");
  EXPECT_EQ(r->count, (std::vector<std::int32_t>{1, -2, 0}));
  EXPECT_EQ(r->step.size(), 3U);  // |1| + |-2| spikes
  EXPECT_FLOAT_EQ(r->v_th, 0.5F);

  RasterCapture late("first", 7);
  late.offer("first", t, 0);
  EXPECT_FALSE(late.raster());
  EXPECT_EQ(late.rows_seen(), 2);
}

// Rows coded in parallel arrive in any order: the raster is the row with the requested absolute index.
TEST(Raster, RowIndexDoesNotDependOnArrivalOrder) {
  coding::CodedTensor a;
  a.scheme = coding::Scheme::ternary;
  a.steps = 1;
  a.rows = 1;
  a.cols = 2;
  a.value = {1, 0};
  a.scale = {1.0F};
  a.zero_point = {0};
  coding::CodedTensor b = a;
  b.value = {0, -1};
  RasterCapture capture("s", 1);
  capture.offer("s", b, 1);  // row 1 first
  capture.offer("s", a, 0);
  ASSERT_TRUE(capture.raster());
  EXPECT_EQ(capture.raster()->count, (std::vector<std::int32_t>{0, -1}));
  EXPECT_EQ(capture.rows_seen(), 2);
}

}  // namespace
}  // namespace spikesim::sim
