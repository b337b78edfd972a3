// The core correctness test of the engine: for every coding, event-driven delivery equals W · x̂.

#include "sim/kernels/linear.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/text.hpp"
#include "models/safetensors.hpp"
#include "neurons/neuron.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/site.hpp"
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

// Checks y against W · x̂ + b computed in double. Float summation error scales with the magnitude of what is
// summed, not with ||y|| (outlier inputs and zero-point shifts make the terms much larger than y):
// |y - exact| <= tol * (scale * (sum_j |value_j w_j| + |zp * row_sum|) + |b|) per output.
void expect_near_exact(std::span<const float> y, const LinearWeights& layer, const coding::CodedTensor& coded,
                       double tol) {
  const auto in = static_cast<std::size_t>(layer.in);
  const auto out = static_cast<std::size_t>(layer.out);
  for (std::size_t r = 0; r < static_cast<std::size_t>(coded.rows); ++r) {
    const double scale = coded.scale[r];
    const double zp = coded.zero_point[r];
    for (std::size_t o = 0; o < out; ++o) {
      double exact = 0.0;
      double magnitude = std::fabs(zp * layer.row_sum[o]);
      for (std::size_t j = 0; j < in; ++j) {
        const double value = coded.value[r * in + j];
        const double w = layer.fanout[j * out + o];
        exact += (value - zp) * w;
        magnitude += std::fabs(value * w);
      }
      exact *= scale;
      magnitude *= scale;
      if (!layer.bias.empty()) {
        exact += layer.bias[o];
        magnitude += std::fabs(layer.bias[o]);
      }
      ASSERT_LE(std::fabs(y[r * out + o] - exact), tol * magnitude + 1e-30)
          << "token " << r << " output " << o;
    }
  }
}

// Coded values at SpikingBrain-like statistics (outlier channels, ~70 % zero counts at k = 3).
coding::CodedTensor outlier_coded(std::int64_t tokens, std::int64_t in, coding::Scheme scheme,
                                  std::uint64_t seed) {
  const auto x = OutlierChannels(seed, 0, in).tokens(0, tokens);
  return coding::prepare(neurons::fire(neurons::NeuronConfig{}, x, tokens, in),
                         {.scheme = scheme, .steps = std::nullopt, .saturate = false}, "x");
}

// Shapes covering every path of the fast engine: 128/64/32/16-wide tiles and a tail narrower than 16,
// fewer tokens than the packing threshold (weights read in place) and more (packed), several input blocks
// and a partial last block, with bias and zero points.
TEST(EventForward, MatchesReferenceOnEveryTileAndBlockShape) {
  for (const std::int64_t out : {1, 17, 100, 241}) {  // 241 = 128 + 64 + 32 + 16 + 1: every tile width
    for (const std::int64_t tokens : {1, 7, 33}) {
      for (const std::int64_t in : {5, 300}) {
        for (const coding::Scheme scheme :
             {coding::Scheme::bitwise, coding::Scheme::ternary, coding::Scheme::binary}) {
          SCOPED_TRACE(cat("out ", out, " tokens ", tokens, " in ", in, " ", coding::name(scheme)));
          const auto w = test::gaussian(static_cast<std::size_t>(out * in), 21, 0.1F);
          const auto b = test::gaussian(static_cast<std::size_t>(out), 22);
          const LinearWeights layer = LinearWeights::from_row_major("fc", w, out, in, b);
          const coding::CodedTensor coded =
              outlier_coded(tokens, in, scheme, static_cast<std::uint64_t>(out));
          std::vector<float> y_ref(static_cast<std::size_t>(tokens * out));
          event_forward_reference(layer, coding::encode(coded), y_ref);
          expect_near_exact(y_ref, layer, coded, 1e-4);
          for (const std::int64_t block : {1, 7, 128}) {
            SCOPED_TRACE(cat("block ", block));
            std::vector<float> y_fast(y_ref.size(), std::numeric_limits<float>::quiet_NaN());
            event_forward(layer, coded, y_fast, {.block_inputs = block, .prefetch = block != 7});
            expect_near_exact(y_fast, layer, coded, 2e-6);
          }
        }
      }
    }
  }
}

TEST(EventForward, MatchesReferenceAtSpikingBrainStatistics) {
  // A layer large enough for several tiles, blocks and threads: 32 tokens x 512 inputs x 384 outputs.
  const std::int32_t tokens = 64;
  const std::int64_t in = 512;
  const std::int64_t out = 384;
  const auto w = test::gaussian(static_cast<std::size_t>(out * in), 23, 0.05F);
  const LinearWeights layer = LinearWeights::from_row_major("fc", w, out, in);
  for (const coding::Scheme scheme : coding::all_schemes()) {
    SCOPED_TRACE(coding::name(scheme));
    const coding::CodedTensor coded = outlier_coded(tokens, in, scheme, 24);
    std::int64_t zeros = 0;
    for (const std::int32_t v : coded.value)
      zeros += v == 0 ? 1 : 0;
    if (!coding::needs_zero_point(scheme)) {
      EXPECT_GT(zeros, tokens * in / 2);  // really sparse input
    }
    std::vector<float> y_ref(static_cast<std::size_t>(tokens * out));
    std::vector<float> y_fast(y_ref.size());
    event_forward_reference(layer, coding::encode(coded), y_ref);
    event_forward(layer, coded, y_fast);
    // Both agree with W · x̂ in double to float precision of the terms they sum; the reference adds one
    // spike at a time (thousands of steps for ternary), so its rounding is the larger.
    expect_near_exact(y_ref, layer, coded, 1e-4);
    expect_near_exact(y_fast, layer, coded, 2e-6);
  }
}

TEST(EventForward, IsBitIdenticalForAnyThreadCountBlockSizeAndPrefetch) {
  const std::int64_t tokens = 48;
  const std::int64_t in = 300;
  const std::int64_t out = 467;  // 3 x 128 + 64 + 16 + a tail of 3
  const auto w = test::gaussian(static_cast<std::size_t>(out * in), 6);
  const auto b = test::gaussian(static_cast<std::size_t>(out), 7);
  const LinearWeights layer = LinearWeights::from_row_major("fc", w, out, in, b);
  for (const coding::Scheme scheme : {coding::Scheme::bitwise, coding::Scheme::binary}) {
    SCOPED_TRACE(coding::name(scheme));
    const coding::CodedTensor coded = outlier_coded(tokens, in, scheme, 5);
    const int saved = omp_get_max_threads();
    std::vector<float> y1(static_cast<std::size_t>(tokens * out));
    omp_set_num_threads(1);
    event_forward(layer, coded, y1);
    for (const int threads : {2, 3, 7}) {
      omp_set_num_threads(threads);
      for (const std::int64_t block : {16, 128, 1000}) {
        for (const bool prefetch : {false, true}) {
          std::vector<float> yn(y1.size());
          event_forward(layer, coded, yn, {.block_inputs = block, .prefetch = prefetch});
          EXPECT_EQ(yn, y1) << threads << " threads, block " << block << ", prefetch " << prefetch;
        }
      }
    }
    omp_set_num_threads(saved);
  }
}

TEST(EventForward, RejectsMismatchedShapesAndOptions) {
  const LinearWeights layer = LinearWeights::from_row_major("fc", test::gaussian(12, 1), 3, 4);
  const coding::CodedTensor coded = outlier_coded(2, 5, coding::Scheme::ternary, 1);
  std::vector<float> y(6);
  EXPECT_THROW(event_forward(layer, coded, y), std::invalid_argument);
  const coding::CodedTensor ok = outlier_coded(2, 4, coding::Scheme::ternary, 1);
  std::vector<float> short_y(5);
  EXPECT_THROW(event_forward(layer, ok, short_y), std::invalid_argument);
  EXPECT_THROW(event_forward(layer, ok, y, {.block_inputs = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace spikesim::sim

namespace spikesim::sim {
namespace {

// Weights kept as F16 / BF16 give exactly the results of the same weights widened to F32 first: dense GEMM
// and event delivery, packed (many tokens) and in place (few tokens), every tile width.
TEST(StoredWeights, SixteenBitLayersEqualTheirWidenedF32Copies) {
  for (const WeightType type : {WeightType::f16, WeightType::bf16}) {
    for (const auto& [out, in, tokens] : std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{
             {5, 7, 3}, {200, 150, 2}, {300, 130, 20}, {16, 32, 9}}) {
      SCOPED_TRACE(cat(type == WeightType::f16 ? "f16 " : "bf16 ", out, "x", in, ", ", tokens, " tokens"));
      const std::vector<float> w = test::gaussian(static_cast<std::size_t>(out * in), 7, 0.3F);
      std::vector<std::uint16_t> bits(w.size());
      std::vector<float> widened(w.size());
      for (std::size_t i = 0; i < w.size(); ++i) {
        bits[i] = type == WeightType::f16 ? models::float_to_half(w[i]) : models::float_to_bf16(w[i]);
        widened[i] = type == WeightType::f16 ? half_to_float(bits[i]) : bf16_to_float(bits[i]);
      }
      const auto bias = test::gaussian(static_cast<std::size_t>(out), 8);
      const LinearWeights narrow = LinearWeights::from_stored("n", bits.data(), type, out, in, bias);
      const LinearWeights wide = LinearWeights::from_row_major("w", widened, out, in, bias);
      EXPECT_EQ(narrow.weight_bytes(), wide.weight_bytes() / 2);
      EXPECT_EQ(narrow.row_sum, wide.row_sum);
      EXPECT_EQ(narrow.fanout_nonzero, wide.fanout_nonzero);
      const auto x = test::gaussian(static_cast<std::size_t>(tokens * in), 9);
      std::vector<float> a(static_cast<std::size_t>(tokens * out));
      std::vector<float> b(a.size());
      dense_forward(narrow, x, tokens, a);
      dense_forward(wide, x, tokens, b);
      EXPECT_EQ(a, b);
      neurons::NeuronConfig neuron;
      const auto coded =
          coding::prepare(neurons::fire(neuron, x, tokens, in),
                          {.scheme = coding::Scheme::bitwise, .steps = std::nullopt, .saturate = false}, "x");
      event_forward(narrow, coded, a);
      event_forward(wide, coded, b);
      EXPECT_EQ(a, b);
      event_forward_reference(narrow, coding::encode(coded), a);
      event_forward_reference(wide, coding::encode(coded), b);
      EXPECT_EQ(a, b);
    }
  }
}

}  // namespace
}  // namespace spikesim::sim
