// The core correctness test of the engine: for every coding, event-driven delivery equals W · x̂.

#include "sim/linear.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "neurons/neuron.hpp"
#include "sim/site.hpp"
#include "sim/text.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

double rel_diff(std::span<const float> a, std::span<const float> b) {
  double num = 0.0;
  double den = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

struct Case {
  std::int64_t tokens;
  std::int64_t in;
  std::int64_t out;
  std::uint32_t seed;
};

class LinearIdentity : public ::testing::TestWithParam<coding::Scheme> {};

TEST_P(LinearIdentity, EventDrivenEqualsDenseProductWithReconstructedInput) {
  const coding::Scheme scheme = GetParam();
  for (const Case c : {Case{5, 17, 9, 1}, Case{32, 64, 130, 2}, Case{1, 300, 70, 3}}) {
    SCOPED_TRACE(cat("tokens ", c.tokens, " in ", c.in, " out ", c.out));
    const auto x = test::gaussian(static_cast<std::size_t>(c.tokens * c.in), c.seed);
    const auto w = test::gaussian(static_cast<std::size_t>(c.out * c.in), c.seed + 10, 0.2F);
    const auto b = test::gaussian(static_cast<std::size_t>(c.out), c.seed + 20);
    const LinearWeights layer = LinearWeights::from_row_major("fc", w, c.out, c.in, b);

    const auto counts = neurons::fire(neurons::NeuronConfig{}, x, c.tokens, c.in);
    const coding::CodedTensor coded =
        coding::prepare(counts, {.scheme = scheme, .steps = std::nullopt, .saturate = false}, "x");
    // x̂ = count · V_th, run densely
    std::vector<float> x_hat(x.size());
    for (std::int64_t r = 0; r < c.tokens; ++r) {
      for (std::int64_t j = 0; j < c.in; ++j)
        x_hat[static_cast<std::size_t>(r * c.in + j)] = counts.reconstruct(r, j);
    }
    std::vector<float> y_dense(static_cast<std::size_t>(c.tokens * c.out));
    dense_forward(layer, x_hat, c.tokens, y_dense);

    std::vector<float> y_ref(y_dense.size());
    event_forward_reference(layer, coding::encode(coded), y_ref);
    std::vector<float> y_fast(y_dense.size());
    event_forward(layer, coded, y_fast);

    EXPECT_LT(rel_diff(y_ref, y_dense), 1e-5);
    EXPECT_LT(rel_diff(y_fast, y_dense), 1e-5);
    EXPECT_LT(rel_diff(y_fast, y_ref), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryScheme, LinearIdentity, ::testing::ValuesIn(coding::all_schemes()),
                         [](const auto& param_info) {
                           std::string n(coding::name(param_info.param));
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(LinearWeights, LowersRowMajorWeightsIntoFanoutRows) {
  const std::vector<float> w = {1, 0, 2,   // out 0
                                0, 0, 3};  // out 1
  const LinearWeights l = LinearWeights::from_row_major("fc", w, 2, 3);
  EXPECT_EQ(l.fanout, (std::vector<float>{1, 0, 0, 0, 2, 3}));
  EXPECT_EQ(l.fanout_nonzero, (std::vector<std::int64_t>{1, 0, 2}));
  EXPECT_EQ(l.row_sum, (std::vector<float>{3, 3}));
  EXPECT_THROW((void)LinearWeights::from_row_major("fc", w, 3, 3), std::invalid_argument);
}

TEST(EventForward, IsBitIdenticalForAnyThreadCount) {
  const std::int64_t tokens = 48;
  const std::int64_t in = 96;
  const std::int64_t out = 200;
  const auto x = test::gaussian(static_cast<std::size_t>(tokens * in), 5);
  const auto w = test::gaussian(static_cast<std::size_t>(out * in), 6);
  const LinearWeights layer = LinearWeights::from_row_major("fc", w, out, in);
  const auto coded =
      coding::prepare(neurons::fire(neurons::NeuronConfig{}, x, tokens, in),
                      {.scheme = coding::Scheme::bitwise, .steps = std::nullopt, .saturate = false}, "x");
  const int saved = omp_get_max_threads();
  std::vector<float> y1(static_cast<std::size_t>(tokens * out));
  omp_set_num_threads(1);
  event_forward(layer, coded, y1);
  for (const int threads : {2, 3, 7}) {
    std::vector<float> yn(y1.size());
    omp_set_num_threads(threads);
    event_forward(layer, coded, yn);
    EXPECT_EQ(yn, y1) << threads << " threads";
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace spikesim::sim
