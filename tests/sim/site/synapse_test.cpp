// Counters of a coded site: closed forms against explicit counting over the encoded event stream.

#include "sim/site/synapse.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "coding/event_stream.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

TEST(CountCoded, MatchesCountingTheEventStream) {
  const std::int64_t tokens = 12;
  const std::int64_t in = 40;
  const std::int64_t out = 23;
  const auto x = test::gaussian(static_cast<std::size_t>(tokens * in), 3);
  auto w = test::gaussian(static_cast<std::size_t>(out * in), 4);
  for (std::size_t i = 0; i < w.size(); i += 3)
    w[i] = 0.0F;  // some zero synapses
  const LinearWeights layer = LinearWeights::from_row_major("fc", w, out, in);
  for (const coding::Scheme scheme : coding::all_schemes()) {
    SCOPED_TRACE(coding::name(scheme));
    const auto counts = neurons::fire(neurons::NeuronConfig{}, x, tokens, in);
    const auto coded =
        coding::prepare(counts, {.scheme = scheme, .steps = std::nullopt, .saturate = false}, "x");
    const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), out);
    const SiteCounters c = count_coded(coded, fanout, layer.fanout_nonzero, out);

    // Walk the explicit stream: every event reaches `out` synapses, fanout_nonzero[j] of them non-zero.
    const coding::EventStream events = coding::encode(coded);
    std::uint64_t sops = 0;
    std::uint64_t effective = 0;
    std::uint64_t graded = 0;
    std::uint64_t active = 0;  // (token, step) pairs with at least one event
    for (std::int32_t t = 0; t < events.steps; ++t) {
      std::vector<bool> token_active(static_cast<std::size_t>(tokens), false);
      const bool is_graded = std::fabs(coding::step_weight(scheme, events.steps, t)) > 1.0;
      for (auto e = events.step_offset[static_cast<std::size_t>(t)];
           e < events.step_offset[static_cast<std::size_t>(t) + 1]; ++e) {
        const auto j = static_cast<std::size_t>(events.neuron[e] % static_cast<std::uint32_t>(in));
        token_active[events.neuron[e] / static_cast<std::uint32_t>(in)] = true;
        sops += static_cast<std::uint64_t>(out);
        effective += static_cast<std::uint64_t>(layer.fanout_nonzero[j]);
        graded += is_graded ? static_cast<std::uint64_t>(out) : 0;
      }
      active += static_cast<std::uint64_t>(std::count(token_active.begin(), token_active.end(), true));
    }
    EXPECT_EQ(c.spikes, events.events());
    EXPECT_EQ(c.sops, sops);
    EXPECT_EQ(c.sops, c.spikes * static_cast<std::uint64_t>(out));  // closed form: sum |spikes| x fan-out
    EXPECT_EQ(c.effective_sops, effective);
    EXPECT_LT(c.effective_sops, c.sops);
    EXPECT_EQ(c.graded_sops, graded);
    EXPECT_EQ(c.post_neuron_updates_active, active * static_cast<std::uint64_t>(out));
    EXPECT_EQ(c.neuron_updates, static_cast<std::uint64_t>(tokens * in * events.steps));
    EXPECT_EQ(c.count_histogram[0] + c.count_histogram[1] + c.count_histogram[2] + c.count_histogram[3],
              static_cast<std::uint64_t>(tokens * in));
    EXPECT_EQ(c.count_histogram[0],
              static_cast<std::uint64_t>(std::count(counts.count.begin(), counts.count.end(), 0)));
  }
}

TEST(RunCodedLinear, AccumulatesCountersAndFidelity) {
  const std::int64_t tokens = 16;
  const std::int64_t in = 32;
  const std::int64_t out = 8;
  const auto x = test::gaussian(static_cast<std::size_t>(tokens * in), 8);
  const auto w = test::gaussian(static_cast<std::size_t>(out * in), 9);
  const auto b = test::gaussian(static_cast<std::size_t>(out), 10);
  const LinearWeights layer = LinearWeights::from_row_major("fc", w, out, in, b);
  SiteConfig cfg;
  cfg.coding.scheme = coding::Scheme::binary;
  SiteCounters c;
  std::vector<float> y(static_cast<std::size_t>(tokens * out));
  run_site({&layer, nullptr}, x, tokens, cfg, y, c, {layer.name, "x", 0, {}});
  run_site({&layer, nullptr}, x, tokens, cfg, y, c, {layer.name, "x", 0, {}});
  EXPECT_EQ(c.calls, 2U);
  EXPECT_EQ(c.tokens, 32U);
  EXPECT_EQ(c.dense_macs, static_cast<std::uint64_t>(2 * tokens * in * out));
  EXPECT_EQ(c.bias_adds, static_cast<std::uint64_t>(2 * tokens * out));
  EXPECT_EQ(c.rescale_muls, static_cast<std::uint64_t>(2 * tokens * out));
  EXPECT_GT(c.zero_point_macs, 0U);  // Gaussian inputs are signed: binary needs a zero point
  const double recon = std::sqrt(c.reconstruction_sq_err / c.input_sq_norm);
  const double out_err = std::sqrt(c.output_sq_err / c.output_sq_norm);
  EXPECT_GT(recon, 0.01);
  EXPECT_LT(recon, 0.3);
  EXPECT_GT(out_err, 0.0);
  EXPECT_LT(out_err, 0.3);

  // A finer threshold (larger k) reconstructs better.
  cfg.neuron.k = 50.0;
  SiteCounters fine;
  run_site({&layer, nullptr}, x, tokens, cfg, y, fine, {layer.name, "x", 0, {}});
  EXPECT_LT(std::sqrt(fine.reconstruction_sq_err / fine.input_sq_norm), recon / 5.0);
}

TEST(RunCodedLinear, ReferenceAndFastEnginesCountTheSame) {
  const auto x = test::gaussian(10 * 20, 12);
  const auto w = test::gaussian(6 * 20, 13);
  const LinearWeights layer = LinearWeights::from_row_major("fc", w, 6, 20);
  SiteConfig fast;
  fast.coding.scheme = coding::Scheme::bitwise_twos;
  SiteConfig ref = fast;
  ref.engine = Engine::reference;
  SiteCounters cf;
  SiteCounters cr;
  std::vector<float> yf(60);
  std::vector<float> yr(60);
  run_site({&layer, nullptr}, x, 10, fast, yf, cf, {layer.name, "x", 0, {}});
  run_site({&layer, nullptr}, x, 10, ref, yr, cr, {layer.name, "x", 0, {}});
  EXPECT_EQ(cf.sops, cr.sops);
  EXPECT_EQ(cf.spikes, cr.spikes);
  for (std::size_t i = 0; i < yf.size(); ++i)
    EXPECT_NEAR(yf[i], yr[i], 1e-4F * (1.0F + std::fabs(yr[i])));
}

}  // namespace
}  // namespace spikesim::sim
