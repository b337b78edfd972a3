// The fused per-row path (code_site) against the separate API calls it replaces, for every neuron, coding
// and option, and its determinism across thread counts.

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "base/text.hpp"
#include "coding/coded_tensor.hpp"
#include "neurons/neuron.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/site.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

void expect_same(const SiteCounters& a, const SiteCounters& b) {
  EXPECT_EQ(a.calls, b.calls);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.elements, b.elements);
  EXPECT_EQ(a.element_steps, b.element_steps);
  EXPECT_EQ(a.steps_sum, b.steps_sum);
  EXPECT_EQ(a.steps_max, b.steps_max);
  EXPECT_EQ(a.count_histogram, b.count_histogram);
  EXPECT_EQ(a.abs_count_sum, b.abs_count_sum);
  EXPECT_EQ(a.saturated, b.saturated);
  EXPECT_EQ(a.spikes, b.spikes);
  EXPECT_EQ(a.spikes_graded, b.spikes_graded);
  EXPECT_EQ(a.sops, b.sops);
  EXPECT_EQ(a.effective_sops, b.effective_sops);
  EXPECT_EQ(a.graded_sops, b.graded_sops);
  EXPECT_EQ(a.graded_effective_sops, b.graded_effective_sops);
  EXPECT_EQ(a.weight_words_read, b.weight_words_read);
  EXPECT_EQ(a.neuron_updates, b.neuron_updates);
  EXPECT_EQ(a.post_neuron_updates, b.post_neuron_updates);
  EXPECT_EQ(a.post_neuron_updates_active, b.post_neuron_updates_active);
  EXPECT_EQ(a.rescale_muls, b.rescale_muls);
  EXPECT_EQ(a.zero_point_macs, b.zero_point_macs);
  // Same partial sums in the same order: equal to the last bit.
  EXPECT_EQ(a.input_sq_norm, b.input_sq_norm);
  EXPECT_EQ(a.reconstruction_sq_err, b.reconstruction_sq_err);
}

struct NeuronCase {
  std::string name;
  neurons::NeuronConfig config;
};

std::vector<NeuronCase> neuron_cases() {
  neurons::NeuronConfig row;
  neurons::NeuronConfig tensor;
  tensor.granularity = neurons::Granularity::per_tensor;
  neurons::NeuronConfig fixed;
  fixed.v_th = 0.3;
  neurons::NeuronConfig k2;
  k2.k = 2.0;
  neurons::NeuronConfig lif;
  lif.kind = neurons::NeuronKind::lif;
  lif.lif_steps = 8;
  neurons::NeuronConfig ilif;
  ilif.kind = neurons::NeuronKind::ilif;
  return {{"adaptive_row", row}, {"adaptive_tensor", tensor}, {"fixed_v_th", fixed}, {"k2", k2}, {"lif", lif},
          {"ilif", ilif}};
}

// 1100 features: two full 512-element chunks and a tail that is not a multiple of 8.
constexpr std::int64_t tokens = 9;
constexpr std::int64_t in = 1100;

TEST(CodeSite, EqualsFirePrepareCountAndReconstructionError) {
  const OutlierChannels source(11, 0, in);
  const std::vector<float> x = source.tokens(0, tokens);
  const std::vector<std::int64_t> uniform(static_cast<std::size_t>(in), 37);
  std::vector<std::int64_t> varied(static_cast<std::size_t>(in));
  std::vector<std::int64_t> varied_nonzero(static_cast<std::size_t>(in));
  for (std::size_t j = 0; j < varied.size(); ++j) {
    varied[j] = static_cast<std::int64_t>(1 + j % 13);
    varied_nonzero[j] = varied[j] - static_cast<std::int64_t>(j % 2);
  }
  for (const NeuronCase& n : neuron_cases()) {
    for (const coding::Scheme scheme : coding::all_schemes()) {
      for (const bool per_column : {false, true}) {
        SCOPED_TRACE(
            cat(n.name, " ", coding::name(scheme), per_column ? " varied fan-out" : " uniform fan-out"));
        SiteConfig config;
        config.neuron = n.config;
        config.coding.scheme = scheme;
        const std::span<const std::int64_t> fanout = per_column ? varied : uniform;
        const std::span<const std::int64_t> nonzero = per_column ? varied_nonzero : uniform;

        const coding::CodedTensor coded =
            coding::prepare(neurons::fire(config.neuron, x, tokens, in, "x"), config.coding, "x");
        SiteCounters expected = count_coded(coded, fanout, nonzero, 5);
        add_reconstruction_error(coded, x, expected);

        const CodedSite site = code_site(config, x, tokens, in, fanout, nonzero, 5, "x");
        EXPECT_EQ(site.coded.value, coded.value);
        EXPECT_EQ(site.coded.scale, coded.scale);
        EXPECT_EQ(site.coded.zero_point, coded.zero_point);
        EXPECT_EQ(site.coded.steps, coded.steps);
        expect_same(site.counters, expected);
      }
    }
  }
}

TEST(CodeSite, FixedStepsSaturateOrFailLikePrepare) {
  const OutlierChannels source(12, 0, in);
  const std::vector<float> x = source.tokens(0, tokens);
  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), 3);
  for (const coding::Scheme scheme : coding::all_schemes()) {
    SCOPED_TRACE(coding::name(scheme));
    SiteConfig config;
    config.coding.scheme = scheme;
    config.coding.steps = 2;
    config.coding.saturate = true;
    const coding::CodedTensor coded =
        coding::prepare(neurons::fire(config.neuron, x, tokens, in, "x"), config.coding, "x");
    ASSERT_GT(coded.saturated, 0);
    SiteCounters expected = count_coded(coded, fanout, fanout, 4);
    add_reconstruction_error(coded, x, expected);
    const CodedSite site = code_site(config, x, tokens, in, fanout, fanout, 4, "x");
    EXPECT_EQ(site.coded.value, coded.value);
    expect_same(site.counters, expected);

    config.coding.saturate = false;
    std::string prepare_error;
    std::string site_error;
    try {
      (void)coding::prepare(neurons::fire(config.neuron, x, tokens, in, "x"), config.coding, "x");
    } catch (const coding::CodingError& e) {
      prepare_error = e.what();
    }
    try {
      (void)code_site(config, x, tokens, in, fanout, fanout, 4, "x");
    } catch (const coding::CodingError& e) {
      site_error = e.what();
    }
    EXPECT_FALSE(site_error.empty());
    EXPECT_EQ(site_error, prepare_error);
  }
}

TEST(CodeSite, IsBitIdenticalForAnyThreadCountAndReusesBuffers) {
  // 80 x 1100 = 88000 elements: above the threshold where rows are split over threads.
  const std::int64_t rows = 80;
  const OutlierChannels source(13, 0, in);
  const std::vector<float> x = source.tokens(0, rows);
  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), 7);
  for (const coding::Scheme scheme :
       {coding::Scheme::bitwise, coding::Scheme::binary, coding::Scheme::bitwise_twos}) {
    SCOPED_TRACE(coding::name(scheme));
    SiteConfig config;
    config.coding.scheme = scheme;
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const CodedSite one = code_site(config, x, rows, in, fanout, fanout, 7, "x");
    CodedSite reused = code_site(config, std::span(x).first(static_cast<std::size_t>(3 * in)), 3, in, fanout,
                                 fanout, 7, "x");  // different shape first
    for (const int threads : {2, 3, 5}) {
      omp_set_num_threads(threads);
      code_site(config, x, rows, in, fanout, fanout, 7, "x", reused);
      EXPECT_EQ(reused.coded.value, one.coded.value) << threads << " threads";
      expect_same(reused.counters, one.counters);
    }
    omp_set_num_threads(saved);
  }
}

TEST(CodeSite, RejectsNonFiniteInputAndBadShapes) {
  std::vector<float> x = test::gaussian(static_cast<std::size_t>(tokens * in), 14);
  x[static_cast<std::size_t>(3 * in + 17)] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), 1);
  const SiteConfig config;
  try {
    (void)code_site(config, x, tokens, in, fanout, fanout, 1, "trace.h5: layer 'q' input");
    FAIL() << "NaN accepted";
  } catch (const neurons::NeuronError& e) {
    EXPECT_NE(std::string(e.what()).find("trace.h5: layer 'q' input: element [3, 17]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)code_site(config, x, tokens + 1, in, fanout, fanout, 1, "x"), neurons::NeuronError);
  const std::vector<std::int64_t> short_fanout(3, 1);
  EXPECT_THROW((void)code_site(config, test::gaussian(static_cast<std::size_t>(tokens * in), 15), tokens, in,
                               short_fanout, short_fanout, 1, "x"),
               std::invalid_argument);
}

}  // namespace
}  // namespace spikesim::sim
