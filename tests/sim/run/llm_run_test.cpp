// The lowered LLM plan: dense and spiking runs share it; a very fine threshold (large k) converges to the
// dense logits; decode with the KV cache equals the batched prefill; fused sites count spikes once and SOPs
// over the whole fan-out; ops left dense are counted as dense and uncoded MACs.

#include "sim/run/llm_run.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "models/hf_llm.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

const std::vector<std::int32_t> tokens{1, 9, 260, 33, 33, 4, 150, 299, 2, 71, 18, 64, 200, 7, 7, 90};

class LlmRun : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_hf(dir_ / "m", test::tiny_llm(test::tiny_config("Qwen2ForCausalLM"), 31));
    model_ = models::load_hf_llm(dir_ / "m");
    plan_ = lower_llm(model_, {"qkv,o,gateup,down", false, {}});
  }
  // Dense logits when `site` is null, else the spiking run with the plan's coded sites.
  std::vector<float> logits(const SiteConfig* site, std::vector<LayerRecord>* records = nullptr) const {
    ExecOptions options;
    options.site = site;
    return llm_logits(plan_, tokens, options, records);
  }
  static double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
    double err = 0.0;
    double norm = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      err += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      norm += static_cast<double>(b[i]) * b[i];
    }
    return std::sqrt(err / norm);
  }
  static SiteConfig spiking(coding::Scheme scheme, double k) {
    SiteConfig cfg;
    cfg.coding.scheme = scheme;
    cfg.neuron.k = k;
    return cfg;
  }
  test::ScratchDir dir_;
  models::LlmModel model_;
  Plan plan_;
};

TEST_F(LlmRun, LargeKConvergesToDenseLogits) {
  const std::vector<float> dense = logits(nullptr);
  for (const coding::Scheme scheme :
       {coding::Scheme::ternary, coding::Scheme::bitwise, coding::Scheme::bitwise_twos}) {
    SCOPED_TRACE(coding::name(scheme));
    double previous = INFINITY;
    for (const double k : {3.0, 30.0, 300.0, 3000.0}) {
      const SiteConfig cfg = spiking(scheme, k);
      const double e = rel_error(logits(&cfg), dense);
      EXPECT_LT(e, previous) << "k " << k;
      previous = e;
    }
    EXPECT_LT(previous, 1e-3);  // k = 3000: V_th = mean|x| / 3000
    const SiteConfig cfg = spiking(scheme, 3.0);
    EXPECT_GT(rel_error(logits(&cfg), dense), 1e-3);
  }
  // No coded site: the spiking run is the dense run.
  select_sites(plan_, {"none", false, {}});
  const SiteConfig cfg = spiking(coding::Scheme::ternary, 3.0);
  EXPECT_EQ(logits(&cfg), dense);
}

TEST_F(LlmRun, DecodeWithKvCacheEqualsPrefill) {
  const SiteConfig site = spiking(coding::Scheme::bitwise, 3.0);
  for (const bool coded : {false, true}) {
    SCOPED_TRACE(coded ? "spiking" : "dense");
    ExecOptions options;
    options.site = coded ? &site : nullptr;
    const std::vector<float> batch = llm_logits(plan_, tokens, options);
    RunState state(plan_);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const auto one = execute(plan_, state, PlanInput::of_tokens(std::span(tokens).subspan(i, 1)), options);
      for (std::size_t v = 0; v < 300; ++v)
        ASSERT_NEAR(one[v], batch[i * 300 + v], 1e-4 * std::max(1.0F, std::fabs(batch[i * 300 + v]))) << i;
    }
    EXPECT_EQ(state.pos, static_cast<std::int64_t>(tokens.size()));
  }
}

TEST_F(LlmRun, RecordsCountFusedSitesAndDenseOps) {
  select_sites(plan_, {"qkv,gateup", false, {}});
  std::vector<LayerRecord> records = plan_records(plan_);
  const SiteConfig site = spiking(coding::Scheme::ternary, 3.0);
  (void)logits(&site, &records);
  const auto n = static_cast<std::uint64_t>(tokens.size());
  ASSERT_EQ(records.size(), 1 + 2 * 11 + 2U);
  EXPECT_EQ(records.front().name, "embed");
  EXPECT_EQ(records.back().name, "lm_head");
  std::uint64_t attention_macs = 0;
  for (const LayerRecord& r : records) {
    SCOPED_TRACE(r.name);
    const SiteCounters& c = r.counters;
    if (r.name.ends_with("attn_in")) {
      EXPECT_TRUE(r.coded);
      EXPECT_EQ(r.out, 16 + 2 * 8);   // q | k | v share one input
      EXPECT_EQ(c.elements, n * 16);  // one presynaptic neuron per input feature: spikes counted once
      EXPECT_EQ(c.sops, c.spikes * 32);
      EXPECT_EQ(c.bias_adds, n * 32);  // Qwen2's q/k/v biases go through the site's bias
      EXPECT_EQ(c.uncoded_macs, 0U);
    } else if (r.name.ends_with("mlp_in")) {
      EXPECT_TRUE(r.coded);
      EXPECT_EQ(r.out, 80);
      EXPECT_EQ(c.sops, c.spikes * 80);
    } else if (r.name.ends_with("attn_out") || r.name.ends_with("mlp_out") || r.name == "lm_head") {
      EXPECT_FALSE(r.coded);
      EXPECT_EQ(c.spikes, 0U);
      EXPECT_EQ(c.dense_macs, n * static_cast<std::uint64_t>(r.in * r.out));
      EXPECT_EQ(c.uncoded_macs, c.dense_macs);
    } else {
      EXPECT_FALSE(r.coded);
      EXPECT_EQ(c.uncoded_macs, c.dense_macs);
      EXPECT_EQ(c.tokens, n);
    }
    if (r.kind == "attention") attention_macs += c.dense_macs;
  }
  // Causal attention: sum over positions p of 2 x q_dim x (p + 1), per layer.
  EXPECT_EQ(attention_macs, 2U * 2U * 16U * (n * (n + 1) / 2));
}

TEST_F(LlmRun, SiteSelectionVocabulary) {
  auto coded = [&](const std::string& spec) {
    select_sites(plan_, {spec, false, {}});
    return plan_.sites(true);
  };
  const std::vector<std::string> sb{"layers.0.attn_in", "layers.0.attn_out", "layers.0.mlp_in",
                                    "layers.1.attn_in", "layers.1.attn_out", "layers.1.mlp_in"};
  EXPECT_EQ(coded("default"), sb);
  EXPECT_EQ(coded("spikingbrain"), sb);
  EXPECT_EQ(coded("qkv,o,gateup"), sb);
  EXPECT_EQ(coded("*.q_proj"), (std::vector<std::string>{"layers.0.attn_in", "layers.1.attn_in"}));
  EXPECT_EQ(coded("!layers.1.*"),
            (std::vector<std::string>{"layers.0.attn_in", "layers.0.attn_out", "layers.0.mlp_in"}));
  EXPECT_EQ(coded("all,!lm_head,!*.mlp_out").size(), 6U);
  EXPECT_EQ(coded("all").size(), 9U);  // 4 sites per layer and lm_head
  EXPECT_TRUE(coded("none").empty());
  EXPECT_THROW((void)coded("qkv,ffn"), models::ModelError);  // matches no site
}

TEST_F(LlmRun, GenerationIsGreedyAndStopsAtContext) {
  const auto out = llm_generate(plan_, std::vector<std::int32_t>{1}, {200, false, 1, 2});
  EXPECT_EQ(static_cast<std::int64_t>(out.size()), model_.config.seq_len);  // the context is full
  // Each generated token is the argmax of the teacher-forced logits of the sequence so far.
  const std::vector<float> l = llm_logits(plan_, out);
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    const auto* row = l.data() + i * 300;
    EXPECT_EQ(std::max_element(row, row + 300) - row, out[i + 1]) << i;
  }
  const std::vector<std::int32_t> long_seq(static_cast<std::size_t>(model_.config.seq_len + 1), 5);
  EXPECT_THROW((void)llm_logits(plan_, long_seq), std::invalid_argument);
  const std::vector<std::int32_t> bad{1, 300};
  EXPECT_THROW((void)llm_logits(plan_, bad), std::invalid_argument);
}

TEST(LlmFidelity, MetricsOnKnownLogits) {
  // Two positions, vocab 2: dense (0, 0) -> uniform; spiking (0, log 3) -> (1/4, 3/4).
  const std::vector<float> dense{0, 0, 0, 0, 9, 9};
  const std::vector<float> spk{0, static_cast<float>(std::log(3.0)), 1, 0, 9, 9};
  const std::vector<std::int32_t> toks{0, 1, 0};
  const Fidelity f = fidelity(dense, spk, toks, 2);
  EXPECT_EQ(f.positions, 2);
  const double kl0 = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  const double q1 = std::exp(1.0) / (std::exp(1.0) + 1.0);
  const double kl1 = 0.5 * std::log(0.5 / q1) + 0.5 * std::log(0.5 / (1 - q1));
  EXPECT_NEAR(f.mean_kl_nats, (kl0 + kl1) / 2, 1e-6);
  EXPECT_NEAR(f.perplexity_dense, 2.0, 1e-9);
  EXPECT_NEAR(f.perplexity_spiking, std::exp(-(std::log(0.75) + std::log(q1)) / 2), 1e-6);
  EXPECT_DOUBLE_EQ(f.top1_agreement, 0.5);       // argmax ties pick index 0: position 0 disagrees
  EXPECT_DOUBLE_EQ(f.top1_accuracy_dense, 0.5);  // predicts 0, 0 for next tokens 1, 0
  EXPECT_DOUBLE_EQ(f.top1_accuracy_spiking, 1.0);
}

}  // namespace
}  // namespace spikesim::sim
