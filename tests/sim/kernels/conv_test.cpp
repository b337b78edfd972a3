// Convolution as a synaptic layer: fan-out (SOPs) against a closed form and a brute-force count, at the
// borders, with stride, padding, dilation and groups; event-driven output = dense convolution of x̂ for
// every coding scheme; the fast path against the reference path; thread-count independence.

#include "sim/kernels/conv.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "coding/event_stream.hpp"
#include "neurons/neuron.hpp"
#include "sim/site/synapse.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

ConvGeometry geometry(std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t m, std::int64_t k,
                      std::int64_t stride, std::int64_t pad, std::int64_t dilation, std::int64_t groups) {
  ConvGeometry g;
  g.in_channels = c;
  g.in_h = h;
  g.in_w = w;
  g.out_channels = m;
  g.kernel_h = k;
  g.kernel_w = k;
  g.stride_h = stride;
  g.stride_w = stride;
  g.pad_top = pad;
  g.pad_left = pad;
  g.pad_bottom = pad;
  g.pad_right = pad;
  g.dilation_h = dilation;
  g.dilation_w = dilation;
  g.groups = groups;
  g.finish("test");
  return g;
}

// Every (output position, kernel tap) pair of the dense convolution that reads a real input neuron.
struct BruteForce {
  std::vector<std::int64_t> fanout, nonzero;
};
BruteForce brute_force(const ConvGeometry& g, const std::vector<float>& w) {
  BruteForce b;
  b.fanout.assign(static_cast<std::size_t>(g.in_size()), 0);
  b.nonzero.assign(static_cast<std::size_t>(g.in_size()), 0);
  const std::int64_t cg = g.in_per_group();
  for (std::int64_t m = 0; m < g.out_channels; ++m) {
    const std::int64_t group = m / g.out_per_group();
    for (std::int64_t oy = 0; oy < g.out_h; ++oy)
      for (std::int64_t ox = 0; ox < g.out_w; ++ox)
        for (std::int64_t cl = 0; cl < cg; ++cl)
          for (std::int64_t ky = 0; ky < g.kernel_h; ++ky)
            for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
              const std::int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
              const std::int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              const std::int64_t j = ((group * cg + cl) * g.in_h + iy) * g.in_w + ix;
              b.fanout[static_cast<std::size_t>(j)] += 1;
              b.nonzero[static_cast<std::size_t>(j)] +=
                  w[static_cast<std::size_t>(((m * cg + cl) * g.kernel_h + ky) * g.kernel_w + kx)] != 0.0F
                      ? 1
                      : 0;
            }
  }
  return b;
}

// Closed form of the taps of one axis: kernel rows k in [max(0, ceil((i + pad - stride (out-1)) / dil)),
// min(kernel-1, floor((i + pad) / dil))] with (i + pad - k·dil) divisible by the stride. For dilation 1:
// k ≡ (i + pad) mod stride over [lo, hi] -> floor((hi - r) / s) - ceil((lo - r) / s) + 1.
std::int64_t closed_form_taps(std::int64_t i, std::int64_t in_out, std::int64_t kernel, std::int64_t stride,
                              std::int64_t pad) {
  const std::int64_t lo = std::max<std::int64_t>(0, i + pad - stride * (in_out - 1));
  const std::int64_t hi = std::min<std::int64_t>(kernel - 1, i + pad);
  if (hi < lo) return 0;
  const std::int64_t r = (i + pad) % stride;
  auto floor_div = [](std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  const std::int64_t first = -floor_div(-(lo - r), stride);  // ceil((lo - r) / s)
  const std::int64_t last = floor_div(hi - r, stride);
  return std::max<std::int64_t>(0, last - first + 1);
}

TEST(ConvFanout, HandCountsAtTheBorders) {
  // 3x3 input, 3x3 kernel, padding 1, stride 1, 2 output channels: a corner neuron reaches 4 output positions
  // per channel, an edge neuron 6, the centre 9.
  const ConvGeometry g = geometry(1, 3, 3, 2, 3, 1, 1, 1, 1);
  const std::vector<float> w(static_cast<std::size_t>(g.weight_count()), 1.0F);
  const ConvWeights conv = ConvWeights::lower("c", g, w);
  EXPECT_EQ(conv.fanout_count, (std::vector<std::int64_t>{8, 12, 8, 12, 18, 12, 8, 12, 8}));
  // Stride 2 without padding on a 5x5 input: rows 0, 4 are reached by one window row, 1, 3 by one, 2 by two.
  const ConvGeometry s = geometry(1, 5, 5, 1, 3, 2, 0, 1, 1);
  const ConvWeights strided = ConvWeights::lower("s", s, std::vector<float>(9, 1.0F));
  EXPECT_EQ(strided.fanout_count[0], 1);          // (0, 0)
  EXPECT_EQ(strided.fanout_count[2], 2);          // (0, 2): column 2 is in both windows
  EXPECT_EQ(strided.fanout_count[2 * 5 + 2], 4);  // centre
}

TEST(ConvFanout, MatchesClosedFormAndBruteForceForEveryGeometry) {
  struct Case {
    std::int64_t c, h, w, m, k, stride, pad, dilation, groups;
  };
  const std::vector<Case> cases = {{1, 6, 5, 3, 3, 1, 0, 1, 1},  {2, 7, 7, 4, 3, 2, 1, 1, 1},
                                   {3, 8, 6, 6, 3, 2, 2, 1, 3},  {4, 9, 9, 2, 2, 3, 1, 1, 2},
                                   {2, 9, 8, 4, 3, 1, 2, 2, 2},  {6, 5, 7, 6, 5, 1, 2, 1, 6},
                                   {2, 10, 10, 4, 3, 3, 0, 2, 1}};
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << "C" << c.c << " " << c.h << "x" << c.w << " M" << c.m << " k" << c.k
                                    << " s" << c.stride << " p" << c.pad << " d" << c.dilation << " g"
                                    << c.groups);
    const ConvGeometry g = geometry(c.c, c.h, c.w, c.m, c.k, c.stride, c.pad, c.dilation, c.groups);
    auto w = test::gaussian(static_cast<std::size_t>(g.weight_count()), 3);
    for (std::size_t i = 0; i < w.size(); i += 4)
      w[i] = 0.0F;
    const ConvWeights conv = ConvWeights::lower("c", g, w);
    const BruteForce b = brute_force(g, w);
    EXPECT_EQ(conv.fanout_count, b.fanout);
    EXPECT_EQ(conv.fanout_nonzero, b.nonzero);
    std::int64_t total = 0;
    for (std::int64_t ch = 0; ch < g.in_channels; ++ch)
      for (std::int64_t iy = 0; iy < g.in_h; ++iy)
        for (std::int64_t ix = 0; ix < g.in_w; ++ix) {
          const auto j = static_cast<std::size_t>((ch * g.in_h + iy) * g.in_w + ix);
          total += conv.fanout_count[j];
          if (c.dilation == 1) {
            EXPECT_EQ(conv.fanout_count[j],
                      g.out_per_group() * closed_form_taps(iy, g.out_h, g.kernel_h, g.stride_h, g.pad_top) *
                          closed_form_taps(ix, g.out_w, g.kernel_w, g.stride_w, g.pad_left));
          }
        }
    // Summed over neurons, the synapses are the dense MACs minus the taps that land on padding.
    if (c.pad == 0) {
      EXPECT_EQ(total, g.macs_per_sample());
    }
    EXPECT_LE(total, g.macs_per_sample());
  }
}

// x̂ = count · V_th, convolved densely: what every event-driven path must reproduce.
std::vector<float> dense_of_reconstruction(const ConvWeights& conv, const coding::CodedTensor& coded) {
  std::vector<float> xhat(coded.value.size());
  for (std::int64_t r = 0; r < coded.rows; ++r)
    for (std::int64_t j = 0; j < coded.cols; ++j)
      xhat[static_cast<std::size_t>(r * coded.cols + j)] =
          static_cast<float>(coded.count(r, j)) * coded.scale[static_cast<std::size_t>(r)];
  std::vector<float> y(static_cast<std::size_t>(coded.rows * conv.geometry.out_size()));
  conv_dense_forward(conv, xhat, coded.rows, y);
  return y;
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0.0;
  double den = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

TEST(ConvEvents, EventDrivenOutputEqualsDenseConvOfReconstructionForEveryScheme) {
  struct Case {
    std::int64_t c, h, w, m, k, stride, pad, dilation, groups;
  };
  const std::vector<Case> cases = {{3, 8, 8, 4, 3, 1, 1, 1, 1},
                                   {4, 9, 7, 6, 3, 2, 1, 1, 2},
                                   {2, 10, 10, 4, 3, 1, 2, 2, 2},
                                   {6, 6, 6, 6, 3, 2, 0, 1, 6}};
  const std::int64_t samples = 3;
  for (const auto& c : cases) {
    const ConvGeometry g = geometry(c.c, c.h, c.w, c.m, c.k, c.stride, c.pad, c.dilation, c.groups);
    const auto w = test::gaussian(static_cast<std::size_t>(g.weight_count()), 11, 0.3F);
    const auto b = test::gaussian(static_cast<std::size_t>(g.out_channels), 12);
    const ConvWeights conv = ConvWeights::lower("c", g, w, b);
    const auto x = test::gaussian(static_cast<std::size_t>(samples * g.in_size()), 13);
    for (const coding::Scheme scheme : coding::all_schemes()) {
      SCOPED_TRACE(testing::Message() << coding::name(scheme) << " s" << c.stride << " p" << c.pad << " d"
                                      << c.dilation << " g" << c.groups);
      const auto counts = neurons::fire(neurons::NeuronConfig{}, x, samples, g.in_size());
      const auto coded =
          coding::prepare(counts, {.scheme = scheme, .steps = std::nullopt, .saturate = false}, "x");
      const auto want = dense_of_reconstruction(conv, coded);
      std::vector<float> fast(want.size());
      std::vector<float> reference(want.size());
      conv_event_forward(conv, coded, fast);
      conv_event_forward_reference(conv, coding::encode(coded), reference);
      EXPECT_LT(rel_diff(fast, want), 1e-5);
      EXPECT_LT(rel_diff(reference, want), 1e-5);
      EXPECT_LT(rel_diff(fast, reference), 1e-5);
    }
  }
}

TEST(ConvEvents, ResultsDoNotDependOnTheThreadCount) {
  const ConvGeometry g = geometry(8, 12, 12, 130, 3, 1, 1, 1, 1);  // 130 outputs: three channel blocks
  const ConvWeights conv =
      ConvWeights::lower("c", g, test::gaussian(static_cast<std::size_t>(g.weight_count()), 21, 0.2F));
  const auto x = test::gaussian(static_cast<std::size_t>(4 * g.in_size()), 22);
  const auto coded =
      coding::prepare(neurons::fire(neurons::NeuronConfig{}, x, 4, g.in_size()),
                      {.scheme = coding::Scheme::bitwise, .steps = std::nullopt, .saturate = false}, "x");
  std::vector<std::vector<float>> outs;
  const int saved = omp_get_max_threads();
  for (const int threads : {1, 2, 5}) {
    omp_set_num_threads(threads);
    outs.emplace_back(static_cast<std::size_t>(4 * g.out_size()));
    conv_event_forward(conv, coded, outs.back());
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(outs[0], outs[1]);
  EXPECT_EQ(outs[0], outs[2]);
}

TEST(ConvSite, CountersFollowTheFanOut) {
  const ConvGeometry g = geometry(2, 6, 6, 3, 3, 2, 1, 1, 1);
  auto w = test::gaussian(static_cast<std::size_t>(g.weight_count()), 31);
  w[0] = 0.0F;
  w[5] = 0.0F;
  const ConvWeights conv = ConvWeights::lower("c", g, w, test::gaussian(3, 32));
  const std::int64_t samples = 2;
  const auto x = test::gaussian(static_cast<std::size_t>(samples * g.in_size()), 33);
  for (const coding::Scheme scheme : coding::all_schemes()) {
    SCOPED_TRACE(coding::name(scheme));
    SiteConfig cfg;
    cfg.coding.scheme = scheme;
    SiteCounters c;
    std::vector<float> y(static_cast<std::size_t>(samples * g.out_size()));
    run_site({nullptr, &conv}, x, samples, cfg, y, c, {"c", "x", 0, {}});
    // Walk the explicit event stream: each event reaches the brute-force fan-out of its neuron.
    const auto coded = coding::prepare(neurons::fire(cfg.neuron, x, samples, g.in_size()), cfg.coding, "x");
    const auto events = coding::encode(coded);
    const BruteForce b = brute_force(g, w);
    std::uint64_t sops = 0;
    std::uint64_t effective = 0;
    for (std::size_t e = 0; e < events.neuron.size(); ++e) {
      const auto j = static_cast<std::size_t>(events.neuron[e] % static_cast<std::uint32_t>(g.in_size()));
      sops += static_cast<std::uint64_t>(b.fanout[j]);
      effective += static_cast<std::uint64_t>(b.nonzero[j]);
    }
    EXPECT_EQ(c.spikes, events.events());
    EXPECT_EQ(c.sops, sops);
    EXPECT_EQ(c.effective_sops, effective);
    EXPECT_EQ(c.tokens, static_cast<std::uint64_t>(samples));
    EXPECT_EQ(c.dense_macs, static_cast<std::uint64_t>(samples * g.macs_per_sample()));
    EXPECT_EQ(c.bias_adds, static_cast<std::uint64_t>(samples * g.out_size()));
    EXPECT_EQ(c.post_neuron_updates, static_cast<std::uint64_t>(samples * g.out_size() * coded.steps));
    EXPECT_LT(std::sqrt(c.output_sq_err / c.output_sq_norm), 0.5);
  }
}

TEST(ConvGeometryCheck, RejectsInconsistentShapes) {
  ConvGeometry g;
  g.in_channels = 3;
  g.in_h = 4;
  g.in_w = 4;
  g.out_channels = 4;
  g.kernel_h = 3;
  g.kernel_w = 3;
  g.groups = 2;  // 3 input channels are not divisible into 2 groups
  EXPECT_THROW(g.finish("conv"), std::invalid_argument);
  g.groups = 1;
  g.kernel_h = 5;  // larger than the unpadded input
  EXPECT_THROW(g.finish("conv"), std::invalid_argument);
}

}  // namespace
}  // namespace spikesim::sim
