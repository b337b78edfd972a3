// SpikingBrain-7B checkpoints (GLAswaForCausalLM, models/gla_swa.hpp) against the independent float64
// reference (scripts/spikingbrain_reference.py; goldens in tests/golden/spikingbrain, made by
// scripts/spikingbrain_goldens.py): the three generated checkpoints (F32 default layers and window, BF16 with
// W = 16, F16 sharded with attn_layers [0, 3], W = 8, eps 1e-5, GQA 4:1) give the reference's prefill
// logits within 1e-4, its greedy tokens exactly, and token-by-token decode (recurrent GLA state, bounded SWA
// cache) equal to prefill. Bad checkpoints (the generator's --broken set) are errors naming file and key or
// tensor. Spiking runs: the GLA and SWA sites are where the release codes them, the SWA query site counts its
// SOPs over the attended keys.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "models/error.hpp"
#include "models/hf_llm.hpp"
#include "sim/kernels/llm_ops.hpp"
#include "sim/run/llm_run.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path golden_dir = fs::path(SPIKESIM_SOURCE_DIR) / "tests/golden/spikingbrain";

class GlaSwa : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    const std::string cmd = "/usr/bin/python3 " + std::string(SPIKESIM_SOURCE_DIR) +
                            "/scripts/make_spikingbrain_checkpoints.py " + dir_->path().string() +
                            " --broken > /dev/null";
    status_ = std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe)
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (WIFEXITED(status_) && WEXITSTATUS(status_) == 77) GTEST_SKIP() << "SKIPPED: numpy not available";
    ASSERT_EQ(status_, 0) << "scripts/make_spikingbrain_checkpoints.py failed";
  }
  static fs::path checkpoint(const std::string& name) { return dir_->path() / name; }
  static json golden(const std::string& name) {
    return json::parse(test::read_file(golden_dir / (name + ".json")));
  }

  static test::ScratchDir* dir_;
  static int status_;
};
test::ScratchDir* GlaSwa::dir_ = nullptr;
int GlaSwa::status_ = 0;

std::size_t argmax(std::span<const float> row) {
  return static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

double max_abs_diff(std::span<const float> got, const json& want_rows, std::size_t vocab) {
  double worst = 0.0;
  for (std::size_t r = 0; r < want_rows.size(); ++r) {
    for (std::size_t v = 0; v < vocab; ++v)
      worst =
          std::max(worst, std::abs(static_cast<double>(got[r * vocab + v]) - want_rows[r][v].get<double>()));
  }
  return worst;
}

class GlaSwaGolden : public GlaSwa, public ::testing::WithParamInterface<std::string> {};

TEST_P(GlaSwaGolden, PrefillDecodeAndGreedyTokensAsTheReference) {
  const std::string name = GetParam();
  const json g = golden(name);
  const models::LlmModel model = sim::load_llm(checkpoint(name));
  EXPECT_EQ(model.config.architecture, "GLAswaForCausalLM");
  const auto types = g["layer_types"].get<std::vector<std::string>>();
  ASSERT_EQ(model.config.layer_kinds.size(), types.size());
  for (std::size_t l = 0; l < types.size(); ++l) {
    EXPECT_EQ(types[l] == "swa", model.config.layer_kinds[l] == models::LayerKind::attention) << l;
    if (types[l] == "swa") {
      EXPECT_EQ(model.config.window[l], g["swa_keys_seen"].get<std::int64_t>());
    }
  }
  const sim::Plan plan = sim::lower_llm(model, {"none", false, {}});
  const auto prompt = g["tokens"].get<std::vector<std::int32_t>>();
  const auto vocab = static_cast<std::size_t>(model.config.vocab_size);

  // Prefill: every position's logits.
  const std::vector<float> prefill = sim::llm_logits(plan, prompt);
  ASSERT_EQ(prefill.size(), prompt.size() * vocab);
  EXPECT_LT(max_abs_diff(prefill, g["prefill_logits"], vocab), 1e-4) << name;

  // Greedy decode through the recurrent state and the window cache: the reference's tokens and the logits
  // of each decode step.
  const auto want_tokens = g["generated_tokens"].get<std::vector<std::int32_t>>();
  sim::RunState state(plan);
  std::span<const float> out = sim::execute(plan, state, sim::PlanInput::of_tokens(prompt));
  std::vector<std::int32_t> generated;
  std::vector<float> step_logits;
  generated.push_back(static_cast<std::int32_t>(argmax(out.subspan((prompt.size() - 1) * vocab, vocab))));
  for (std::size_t i = 0; i < want_tokens.size(); ++i) {
    const std::int32_t token = generated.back();
    out = sim::execute(plan, state, sim::PlanInput::of_tokens(std::span<const std::int32_t>(&token, 1)));
    step_logits.insert(step_logits.end(), out.begin(), out.end());
    if (i + 1 < want_tokens.size()) generated.push_back(static_cast<std::int32_t>(argmax(out)));
  }
  EXPECT_EQ(generated, want_tokens) << name;
  EXPECT_LT(max_abs_diff(step_logits, g["generated_logits"], vocab), 1e-4) << name;

  // Decode equals prefill over prompt + generated (positions past the small windows included).
  std::vector<std::int32_t> all = prompt;
  all.insert(all.end(), want_tokens.begin(), want_tokens.end());
  const std::vector<float> full = sim::llm_logits(plan, all);
  sim::RunState one(plan);
  double worst = 0.0;
  for (std::size_t p = 0; p < all.size(); ++p) {
    const auto row =
        sim::execute(plan, one, sim::PlanInput::of_tokens(std::span<const std::int32_t>(&all[p], 1)));
    for (std::size_t v = 0; v < vocab; ++v)
      worst = std::max(worst, static_cast<double>(std::abs(row[v] - full[p * vocab + v])));
  }
  EXPECT_LT(worst, 1e-4) << name;
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, GlaSwaGolden,
                         ::testing::Values("sb_f32_default", "sb_bf16_w16", "sb_f16_sharded"));

TEST_F(GlaSwa, BrokenCheckpointsNameTheFileAndTheKeyOrTensor) {
  const auto message = [&](const std::string& name) {
    try {
      (void)sim::load_llm(checkpoint("broken/" + name));
    } catch (const models::ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message("missing_gk_proj"), HasSubstr("model.layers.0.attn.gk_proj.1.weight' missing"));
  EXPECT_THAT(message("shape_mismatch"), HasSubstr("model.layers.1.attn.k_proj.weight"));
  EXPECT_THAT(message("shape_mismatch"), HasSubstr("[32, 64]"));
  EXPECT_THAT(message("window_zero"), HasSubstr("sliding_window"));
  EXPECT_THAT(message("unknown_layer_type"), HasSubstr("layer_types[2]"));
  EXPECT_THAT(message("unknown_layer_type"), HasSubstr("mamba"));
  EXPECT_THAT(message("attn_layer_out_of_range"), HasSubstr("attn_layers[1]"));
  EXPECT_THAT(message("truncated"), HasSubstr("model.safetensors"));
  for (const char* name : {"missing_gk_proj", "shape_mismatch", "window_zero", "unknown_layer_type",
                           "attn_layer_out_of_range", "truncated"})
    EXPECT_THAT(message(name), HasSubstr(checkpoint("broken/" + std::string(name)).string())) << name;
}

TEST_F(GlaSwa, ConfigKeysTheReleaseRefusesAreRefused) {
  const fs::path src = checkpoint("sb_f32_default");
  test::ScratchDir dir;
  for (const auto& e : fs::directory_iterator(src))
    fs::copy_file(e.path(), dir / e.path().filename().string());
  json config = json::parse(test::read_file(src / "config.json"));
  const auto message = [&](const json& c) {
    test::write_file(dir / "config.json", c.dump());
    try {
      (void)sim::load_llm(dir.path());
    } catch (const models::ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  json c = config;
  c["use_short_conv"] = true;
  EXPECT_THAT(message(c), HasSubstr("use_short_conv"));
  c = config;
  c["hidden_act"] = "gelu";
  EXPECT_THAT(message(c), HasSubstr("hidden_act"));
  c = config;
  c["gate_low_rank_dim"] = 8;
  EXPECT_THAT(message(c), HasSubstr("gk_proj.0.weight' has 16 rows"));
  c = config;
  c["layer_types"] = {"gla", "gla", "gla", "swa"};
  c["attn_layers"] = {1, 3};
  EXPECT_THAT(message(c), HasSubstr("disagrees with attn_layers"));
  c = config;
  c["sliding_window"] = 2.5;
  EXPECT_THAT(message(c), HasSubstr("sliding_window"));
}

// The spiking run codes the release's sites: GLA q/k/v/gk_proj.0 (one site), o; SWA q/k/v, the query after
// RoPE (per token and head), o; MLP gate/up. The query's SOPs are its events times the attended keys.
TEST_F(GlaSwa, SpikingRunCodesTheReleasesSitesAndCountsQueryEventsOverAttendedKeys) {
  const models::LlmModel model = sim::load_llm(checkpoint("sb_bf16_w16"));
  const sim::Plan plan = sim::lower_llm(model, {});
  std::vector<std::string> coded = plan.sites(true);
  std::vector<std::string> query_sites;
  for (const sim::Step& s : plan.steps) {
    if (s.kind() == sim::StepKind::attention) {
      EXPECT_TRUE(s.coded) << s.name;
      query_sites.push_back(s.name);
    }
  }
  EXPECT_THAT(query_sites, ::testing::ElementsAre("layers.1.attn_query", "layers.3.attn_query"));
  EXPECT_THAT(coded, ::testing::Contains("layers.0.attn_in"));
  EXPECT_THAT(coded, ::testing::Contains("layers.0.attn_out"));
  EXPECT_THAT(coded, ::testing::Contains("layers.0.mlp_in"));
  EXPECT_THAT(coded, ::testing::Not(::testing::Contains("layers.0.gate_in")));
  EXPECT_THAT(coded, ::testing::Not(::testing::Contains("layers.0.mlp_out")));

  const auto prompt = golden("sb_bf16_w16")["tokens"].get<std::vector<std::int32_t>>();
  sim::SiteConfig site;
  site.coding.scheme = coding::Scheme::ternary;
  sim::ExecOptions options;
  options.site = &site;
  std::vector<sim::LayerRecord> records = sim::plan_records(plan);
  const std::vector<float> spiking = sim::llm_logits(plan, prompt, options, &records);
  const std::vector<float> dense = sim::llm_logits(plan, prompt);
  double diff = 0.0;
  for (std::size_t i = 0; i < dense.size(); ++i)
    diff = std::max(diff, static_cast<double>(std::abs(spiking[i] - dense[i])));
  EXPECT_GT(diff, 0.0);  // coding changes the logits
  const auto n = static_cast<std::uint64_t>(prompt.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const sim::Step& s = plan.steps[i];
    const SiteCounters& c = records[i].counters;
    if (s.kind() == sim::StepKind::attention) {
      // 40 tokens, W + 1 = 17 keys: positions 0..16 attend p + 1, the rest 17.
      std::uint64_t keys = 0;
      for (std::uint64_t p = 0; p < n; ++p)
        keys += std::min<std::uint64_t>(p + 1, 17);
      EXPECT_EQ(c.elements, n * static_cast<std::uint64_t>(model.config.q_dim())) << s.name;
      EXPECT_EQ(c.tokens, n);
      EXPECT_GT(c.spikes, 0U);
      EXPECT_GT(c.sops, c.spikes);
      EXPECT_LE(c.sops, c.spikes * 17);
      EXPECT_GE(c.sops, c.spikes);
      EXPECT_EQ(c.dense_macs, 2 * keys * static_cast<std::uint64_t>(model.config.q_dim()));
      EXPECT_EQ(c.uncoded_macs, keys * static_cast<std::uint64_t>(model.config.q_dim()));
    }
    if (s.kind() == sim::StepKind::gla) {
      const std::uint64_t d = 16;
      const std::uint64_t state = 2 * d * d;  // 2 KV heads
      EXPECT_EQ(c.dense_macs, n * (state + 4 * d * d)) << s.name;
      EXPECT_EQ(c.uncoded_macs, c.dense_macs);
    }
  }
}

// The release's SWA decode keeps W keys (cache.py:81-104), its prefill W + 1 (flash-attn (W, 0)); spikesim
// follows the prefill in both. A cache bounded by the window: a long decode keeps at most 2 x (W + 1) keys.
TEST_F(GlaSwa, SlidingWindowCacheIsBoundedByTheWindow) {
  const models::LlmModel model = sim::load_llm(checkpoint("sb_f16_sharded"));  // W = 8
  const sim::Plan plan = sim::lower_llm(model, {"none", false, {}});
  sim::RunState state(plan);
  for (std::int32_t t = 0; t < 100; ++t)
    (void)sim::execute(plan, state, sim::PlanInput::of_tokens(std::span<const std::int32_t>(&t, 1)));
  const std::size_t kv = static_cast<std::size_t>(model.config.kv_dim());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const sim::Step& s = plan.steps[i];
    if (s.kind() == sim::StepKind::attention) {
      EXPECT_LE(state.cache_key[i].size(), 2 * 9 * kv) << s.name;
      EXPECT_GT(state.cache_first[i], 0) << s.name;
    }
    if (s.kind() == sim::StepKind::gla) {
      EXPECT_EQ(state.cache_key[i].size(), static_cast<std::size_t>(16 * 16)) << s.name;  // 1 KV head
    }
  }
}

TEST(Int8FakeQuant, AbsmaxPerGroupRoundHalfEven) {
  std::vector<float> x = {1.0F, -0.5F, 0.25F, 127.0F, 0.0F, 0.0F, 0.0F, 0.0F};
  sim::ops::int8_fake_quant(x, 4);
  const float scale = 127.0F / 127.0F;
  EXPECT_FLOAT_EQ(x[3], 127.0F);
  EXPECT_FLOAT_EQ(x[0], 1.0F * scale);
  EXPECT_FLOAT_EQ(x[1], -0.0F);  // -0.5 rounds to even 0
  EXPECT_FLOAT_EQ(x[2], 0.0F);
  for (std::size_t i = 4; i < 8; ++i)
    EXPECT_EQ(x[i], 0.0F);  // scale clamps at 1e-5: zeros stay zeros
}

}  // namespace
}  // namespace spikesim
