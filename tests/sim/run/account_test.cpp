// 7B-scale accounting: the same plan as a run, lowered with shape-only weights and counted on activations
// from a source. Tested against the site driver run on materialised weights of the same shapes, explicit
// MAC loops, chunk and thread invariance, and traces under every naming.

#include "sim/run/account.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/text.hpp"
#include "models/error.hpp"
#include "models/hf_llm.hpp"
#include "sim/plan/fuse.hpp"
#include "sim/report/report.hpp"
#include "sim/site/synapse.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

// hidden 24 = 4 heads x 6, 2 KV heads, intermediate 40, 2 layers, vocab 50, Qwen2 (q/k/v biases); no
// max_position_embeddings (the accounting needs none).
std::string tiny_config(const test::ScratchDir& dir) {
  const auto file = dir / "config.json";
  std::ofstream(file)
      << R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 24, "intermediate_size": 40,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50})";
  return file.string();
}

const LayerRecord& record(const AccountResult& r, const std::string& name) {
  for (const LayerRecord& l : r.report.layers)
    if (l.name == name) return l;
  throw std::runtime_error("no record " + name);
}

TEST(AccountConfig, ReadsQwen25_7BConfig) {
  const models::LlmConfig c =
      load_llm_config(std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/qwen2.5-7b.json", 1);
  EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(c.dim, 3584);
  EXPECT_EQ(c.hidden_dim, 18944);
  EXPECT_EQ(c.n_layers, 28);
  EXPECT_EQ(c.n_heads, 28);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.kv_dim(), 512);
  EXPECT_EQ(c.vocab_size, 152064);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
}

TEST(AccountConfig, RejectsBadConfigsNamingFileAndField) {
  const test::ScratchDir dir;
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    const auto file = dir / "bad.json";
    std::ofstream(file) << text;
    try {
      (void)load_llm_config(file, 16);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const models::ModelError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(file.string()), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  const std::string arch = R"("architectures": ["LlamaForCausalLM"], )";
  expect_error("{" + arch + R"("hidden_size": 24})", "intermediate_size");
  expect_error("{" + arch + R"("hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
      "num_attention_heads": 5, "vocab_size": 50})",
               "not a multiple of num_attention_heads");
  expect_error("{" + arch + R"("hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 50})",
               "n_kv_heads");
  expect_error("{not json", "not valid JSON");
  EXPECT_THROW((void)load_llm_config(dir / "missing.json", 16), models::ModelError);
}

// Fused weights of one site of the tiny model, materialised with no zeros (the dense-weight assumption).
LinearWeights materialised(const std::vector<std::pair<std::int64_t, bool>>& parts, std::int64_t in,
                           std::uint32_t seed) {
  std::vector<LinearWeights> ws;
  for (const auto& [out, bias] : parts) {
    std::vector<float> w = test::gaussian(static_cast<std::size_t>(out * in), seed++);
    for (float& v : w)
      v = v >= 0.0F ? v + 0.01F : v - 0.01F;
    const std::vector<float> b(bias ? static_cast<std::size_t>(out) : 0, 0.5F);
    ws.push_back(LinearWeights::from_row_major("p", w, out, in, b));
  }
  std::vector<const LinearWeights*> ptrs;
  for (const auto& w : ws)
    ptrs.push_back(&w);
  return concat_projections("site", ptrs);
}

TEST(Account, EqualsRunningTheSameActivationsThroughMaterialisedLayers) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_config(dir);
  req.tokens = 11;
  req.chunk_tokens = 4;  // chunks of 4, 4, 3
  req.seed = 5;
  req.sites = "qkv,o,gateup,down";
  req.site.coding.scheme = coding::Scheme::bitwise;
  req.site.measure_output_error = false;
  const AccountResult acc = account(req);

  struct Site {
    std::string name;
    std::vector<std::pair<std::int64_t, bool>> parts;  // (out, bias) of each projection
    std::int64_t in;
  };
  const std::vector<Site> sites = {{"attn_in", {{24, true}, {12, true}, {12, true}}, 24},
                                   {"attn_out", {{24, false}}, 24},
                                   {"mlp_in", {{40, false}, {40, false}}, 24},
                                   {"mlp_out", {{24, false}}, 40}};
  for (std::int64_t l = 0; l < 2; ++l) {
    for (std::size_t j = 0; j < sites.size(); ++j) {
      const Site& site = sites[j];
      SCOPED_TRACE(cat("layer ", l, " ", site.name));
      const LinearWeights layer = materialised(site.parts, site.in, 40 + static_cast<std::uint32_t>(l));
      const OutlierChannels source(req.seed, synthetic_stream(static_cast<std::size_t>(4 * l) + j), site.in);
      SiteCounters expected;
      for (std::int64_t t0 = 0; t0 < req.tokens; t0 += req.chunk_tokens) {
        const std::int64_t n = std::min(req.chunk_tokens, req.tokens - t0);
        const std::vector<float> x = source.tokens(t0, n);
        std::vector<float> y(static_cast<std::size_t>(n * layer.out));
        run_site({&layer, nullptr}, x, n, req.site, y, expected, {layer.name, "x", 0, {}});
      }
      const LayerRecord& r = record(acc, cat("layers.", l, ".", site.name));
      EXPECT_TRUE(r.coded);
      EXPECT_EQ(r.in, site.in);
      EXPECT_EQ(r.out, layer.out);
      const SiteCounters& c = r.counters;
      EXPECT_GT(c.spikes, 0U);
      for_each_counter_field(
          [&](const char* field, auto member, Merge) { EXPECT_EQ(c.*member, expected.*member) << field; });
    }
    // Attention: QK^T and AV per query head over the causal context, counted with explicit loops.
    std::uint64_t macs = 0;
    for (std::int64_t t = 0; t < req.tokens; ++t)
      for (std::int64_t h = 0; h < 4; ++h)
        for (std::int64_t key = 0; key <= t; ++key)
          macs += 2 * 6U;
    const LayerRecord& attention = record(acc, cat("layers.", l, ".attention"));
    EXPECT_FALSE(attention.coded);
    EXPECT_EQ(attention.counters.dense_macs, macs);
    EXPECT_EQ(attention.counters.uncoded_macs, macs);
  }
  const LayerRecord& head = record(acc, "lm_head");
  EXPECT_EQ(head.counters.uncoded_macs, 11U * 24U * 50U);
  EXPECT_EQ(acc.report.layers.size(), 1U + 2U * 11U + 2U);  // the rows of a run: embed .. final_norm, lm_head
  EXPECT_EQ(acc.report.run["tokens"], 11);
  EXPECT_EQ(acc.report.run["coding"], "bitwise");
}

TEST(Account, DownProjIsDenseByDefaultAndSequencesRestartTheContext) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_config(dir);
  req.tokens = 10;
  req.chunk_tokens = 3;
  req.sequence_tokens = 4;  // positions 0 1 2 3 0 1 2 3 0 1
  const AccountResult acc = account(req);
  const LayerRecord& down = record(acc, "layers.1.mlp_out");
  EXPECT_FALSE(down.coded);
  EXPECT_EQ(down.counters.spikes, 0U);
  EXPECT_EQ(down.counters.uncoded_macs, 10U * 40U * 24U);
  const std::uint64_t context = (1 + 2 + 3 + 4) * 2 + 1 + 2;
  EXPECT_EQ(record(acc, "layers.0.attention").counters.dense_macs, 2U * 24U * context);
}

TEST(Account, ChunkSizeChangesOnlyPerCallCountersWhenTIsFixed) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_config(dir);
  req.tokens = 12;
  req.site.coding.scheme = coding::Scheme::ternary;
  req.site.coding.steps = 40;
  req.site.coding.saturate = true;
  req.chunk_tokens = 12;
  const AccountResult one = account(req);
  req.chunk_tokens = 5;
  const AccountResult three = account(req);
  for (std::size_t i = 0; i < one.report.layers.size(); ++i) {
    const SiteCounters& a = one.report.layers[i].counters;
    const SiteCounters& b = three.report.layers[i].counters;
    SCOPED_TRACE(one.report.layers[i].name);
    EXPECT_EQ(a.spikes, b.spikes);
    EXPECT_EQ(a.sops, b.sops);
    EXPECT_EQ(a.count_histogram, b.count_histogram);
    EXPECT_EQ(a.neuron_updates, b.neuron_updates);
    EXPECT_EQ(a.post_neuron_updates, b.post_neuron_updates);
    EXPECT_EQ(a.dense_macs, b.dense_macs);
    EXPECT_EQ(a.uncoded_macs, b.uncoded_macs);
    EXPECT_EQ(b.calls, 3 * a.calls);
  }
}

TEST(Account, StreamBuffersDoNotGrowWithTokensAndReportIsThreadIndependent) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_config(dir);
  req.chunk_tokens = 4;
  req.tokens = 8;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  const AccountResult small = account(req);
  req.tokens = 200;
  const AccountResult large = account(req);
  EXPECT_EQ(large.buffer_bytes, small.buffer_bytes);
  EXPECT_GT(large.buffer_bytes, 0U);
  omp_set_num_threads(1);
  const AccountResult serial = account(req);
  omp_set_num_threads(3);
  const AccountResult three = account(req);
  omp_set_num_threads(saved);
  EXPECT_EQ(report_json(serial.report).dump(), report_json(large.report).dump());
  EXPECT_EQ(report_json(three.report).dump(), report_json(large.report).dump());
}

TEST(Account, ReadsActivationsFromATraceUnderEveryNaming) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_config(dir);
  req.tokens = 7;
  req.chunk_tokens = 3;
  req.seed = 9;
  const AccountResult synthetic = account(req);

  // The same activations in a trace: site names for layer 0's attention input, projection names for its
  // o and gate/up inputs, Hugging Face module names for layer 1.
  std::vector<test::TraceLayer> layers;
  for (std::int64_t l = 0; l < 2; ++l) {
    for (const auto& [ours, hf, site, ordinal] :
         std::vector<std::tuple<std::string, std::string, std::string, std::size_t>>{
             {"attn_in", "self_attn.q_proj", "attn_in", 0},
             {"o_proj", "self_attn.o_proj", "attn_out", 1},
             {"gate_proj", "mlp.gate_proj", "mlp_in", 2}}) {
      test::TraceLayer t;
      t.name = l == 0 ? cat("layers.0.", ours) : cat("model.layers.1.", hf);
      t.index = static_cast<std::int64_t>(layers.size());
      t.tokens = 9;  // more than requested: the accountant reads only what it needs
      t.in = 24;
      t.out = 2;
      t.input = OutlierChannels(req.seed, synthetic_stream(static_cast<std::size_t>(4 * l) + ordinal), 24)
                    .tokens(0, 9);
      t.weight.assign(static_cast<std::size_t>(2 * 24), 0.1F);
      layers.push_back(t);
    }
  }
  test::write_trace(dir / "trace.h5", layers);
  req.activations = (dir / "trace.h5").string();
  const AccountResult traced = account(req);
  ASSERT_EQ(traced.report.layers.size(), synthetic.report.layers.size());
  for (std::size_t i = 0; i < traced.report.layers.size(); ++i) {
    EXPECT_EQ(traced.report.layers[i].counters.spikes, synthetic.report.layers[i].counters.spikes);
    EXPECT_EQ(traced.report.layers[i].counters.reconstruction_sq_err,
              synthetic.report.layers[i].counters.reconstruction_sq_err);
  }

  req.tokens = 0;  // all the trace holds
  EXPECT_EQ(account(req).tokens, 9);
  req.tokens = 10;  // more than it holds
  try {
    (void)account(req);
    FAIL() << "accepted 10 tokens from a 9-token trace";
  } catch (const models::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("holds 9 tokens, 10 requested"), std::string::npos) << e.what();
  }
  req.tokens = 4;
  req.sites = "qkv,o,gateup,down";  // the trace has no down_proj input
  try {
    (void)account(req);
    FAIL() << "accepted a trace without down_proj inputs";
  } catch (const models::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("no recorded input for site 'layers.0.mlp_out'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.down_proj"), std::string::npos) << e.what();
  }
}

TEST(Account, RejectsNonFiniteTraceValuesNamingTheTokenRange) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_config(dir);
  req.tokens = 4;
  req.chunk_tokens = 2;
  req.sites = "o";
  std::vector<test::TraceLayer> layers;
  for (std::int64_t l = 0; l < 2; ++l) {
    test::TraceLayer t;
    t.name = cat("layers.", l, ".o_proj");
    t.index = l;
    t.tokens = 4;
    t.in = 24;
    t.out = 1;
    t.input = test::gaussian(4 * 24, 3);
    t.weight.assign(24, 0.1F);
    if (l == 1) t.input[3 * 24 + 5] = std::numeric_limits<float>::infinity();
    layers.push_back(t);
  }
  test::write_trace(dir / "trace.h5", layers);
  req.activations = (dir / "trace.h5").string();
  try {
    (void)account(req);
    FAIL() << "accepted Inf";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layers.1.o_proj/input tokens 2..3"), std::string::npos) << what;
    EXPECT_NE(what.find("element [1, 5]"), std::string::npos) << what;
    EXPECT_NE(what.find("not finite"), std::string::npos) << what;
  }
}

// SpikingBrain GLAswa configs: GLA layers counted by the cost table (state update + readout), the SWA query
// site coded per token and head with its events over the attended keys (W + 1 keys), the fitted activation
// mixture by default, stream buffers constant in tokens.
std::string tiny_gla_swa_config(const test::ScratchDir& dir) {
  const auto file = dir / "config.json";
  std::ofstream(file)
      << R"({"architectures": ["GLAswaForCausalLM"], "model_type": "gla_swa", "hidden_size": 32,
    "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
    "vocab_size": 50, "attn_layers": [1], "sliding_window": 4})";
  return file.string();
}

TEST(Account, GlaSwaCountsTheQuerySiteOverTheWindowAndTheGlaStateDensely) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.config = tiny_gla_swa_config(dir);
  req.tokens = 11;
  req.chunk_tokens = 4;
  req.seed = 3;
  req.site.measure_output_error = false;
  const AccountResult acc = account(req);
  EXPECT_EQ(acc.report.run["activations"]["generator"].get<std::string>().ends_with(
                "configs/spikingbrain_activation_generator.json"),
            true);
  // GLA: per token kv_heads x D^2 (k^T v) + heads x D^2 (readout) MACs, D = 16.
  const LayerRecord& gla = record(acc, "layers.0.gla");
  EXPECT_EQ(gla.counters.dense_macs, 11U * (256U + 2U * 256U));
  EXPECT_EQ(gla.counters.uncoded_macs, gla.counters.dense_macs);
  // The query site: ordinal 5 among the coded-site candidates (layer 0: attn_in, gate_in, attn_out, mlp_in,
  // mlp_out; layer 1: attn_in, attn_query, ...) -> stream 6.
  const LayerRecord& q = record(acc, "layers.1.attn_query");
  EXPECT_TRUE(q.coded);
  const ChannelMixture mix = read_channel_mixture(std::string(SPIKESIM_SOURCE_DIR) +
                                                  "/data/configs/spikingbrain_activation_generator.json");
  const OutlierChannels source(req.seed, synthetic_stream(6), 16, mix);
  std::uint64_t spikes = 0;
  std::uint64_t sops = 0;
  std::uint64_t macs = 0;
  for (std::int64_t t0 = 0; t0 < req.tokens; t0 += req.chunk_tokens) {
    const std::int64_t n = std::min(req.chunk_tokens, req.tokens - t0);
    const std::vector<float> x = source.tokens(t0 * 2, n * 2);  // [tokens x heads][16]
    const std::vector<std::int64_t> one(16, 1);
    const CodedSite site = code_site(req.site, x, n * 2, 16, one, one, 1, "x");
    spikes += site.counters.spikes;
    for (std::int64_t t = 0; t < n; ++t) {  // spikes of token t (both heads) x its attended keys
      coding::CodedTensor token = site.coded;
      token.rows = 2;
      token.value.assign(site.coded.value.begin() + t * 32, site.coded.value.begin() + (t + 1) * 32);
      token.scale.assign(site.coded.scale.begin() + t * 2, site.coded.scale.begin() + (t + 1) * 2);
      token.zero_point.assign(site.coded.zero_point.begin() + t * 2,
                              site.coded.zero_point.begin() + (t + 1) * 2);
      const std::uint64_t keys = std::min<std::uint64_t>(static_cast<std::uint64_t>(t0 + t) + 1, 5);
      sops += count_coded(token, one, one, 1).spikes * keys;
      macs += 2 * 32 * keys;
    }
  }
  EXPECT_GT(spikes, 0U);
  EXPECT_EQ(q.counters.spikes, spikes);
  EXPECT_EQ(q.counters.sops, sops);
  EXPECT_EQ(q.counters.dense_macs, macs);
  EXPECT_EQ(q.counters.uncoded_macs, macs / 2);
  EXPECT_EQ(q.counters.elements, 11U * 32U);

  req.tokens = 200;
  const AccountResult large = account(req);
  EXPECT_EQ(large.buffer_bytes, acc.buffer_bytes);
}

// The fitted mixture on the released SpikingBrain-7B config at k = 3: the zero fraction of the coded
// q/k/v/gk, o and gate/up inputs is the fit's (0.6883 on its own draws, data/configs/README.md; the report's
// Table 11: 0.692).
TEST(Account, SpikingBrain7BConfigWithTheFittedGeneratorMatchesTheFit) {
  AccountRequest req;
  req.config = std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/spikingbrain-7b.json";
  req.tokens = 64;
  req.chunk_tokens = 64;
  req.sites = "qkv,o,gateup";
  req.site.measure_output_error = false;
  const AccountResult acc = account(req);
  std::uint64_t zeros = 0;
  std::uint64_t elements = 0;
  for (const LayerRecord& l : acc.report.layers) {
    if (!l.coded) continue;
    zeros += l.counters.count_histogram[0];
    elements += l.counters.elements;
  }
  ASSERT_GT(elements, 0U);
  EXPECT_NEAR(static_cast<double>(zeros) / static_cast<double>(elements), 0.6883, 0.01);
  EXPECT_EQ(acc.config.layer_kinds.size(), 28U);
  req.generator = "outlier";
  const AccountResult old = account(req);
  EXPECT_EQ(old.report.run["activations"]["sigma"], 2.25);
}

// SpikingBrain-76B (reconstructed config, accounting only): GLA (key-gated) beside sliding-window / full
// softmax attention over sink tokens, MoE with an ungated shared expert; the report's 76B / A12B.
TEST(Account, SpikingBrain76BConfigCountsBothBranchesSinksAndRoutedExperts) {
  const std::string config = std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/spikingbrain-76b.json";
  const models::LlmConfig c = load_llm_config(config, 1);
  EXPECT_EQ(c.architecture, "SpikingBrain76B");
  EXPECT_NEAR(static_cast<double>(c.parameter_count()) / 1e9, 76.9, 0.05);
  EXPECT_NEAR(static_cast<double>(c.active_parameter_count()) / 1e9, 12.7, 0.05);
  EXPECT_EQ(c.window[0], 4097);
  EXPECT_EQ(c.window[6], 0);  // "gla+full"
  EXPECT_FALSE(c.moe.sparse_layer(0));
  EXPECT_TRUE(c.moe.sparse_layer(3));
  EXPECT_THROW((void)models::load_hf_llm(config), models::ModelError);  // no weights exist: accounting only

  AccountRequest req;
  req.config = config;
  req.tokens = 8;
  req.chunk_tokens = 8;
  req.site.measure_output_error = false;
  const AccountResult acc = account(req);
  // Softmax branch of layer 6 (full attention): every token attends its causal keys and the 128 sinks.
  std::uint64_t keys = 0;
  for (std::uint64_t t = 0; t < 8; ++t)
    keys += t + 1 + 128;
  const LayerRecord& q6 = record(acc, "layers.6.attn_query");
  EXPECT_TRUE(q6.coded);
  EXPECT_EQ(q6.counters.dense_macs, 2 * keys * 28U * 128U);
  // MoE: each token's events reach the gate/up rows of its top-1 expert and of the shared expert.
  const LayerRecord& moe = record(acc, "layers.3.mlp_in");
  EXPECT_TRUE(moe.coded);
  EXPECT_EQ(moe.counters.sops, moe.counters.spikes * (2U * 18944U + 2U * 18944U));
  EXPECT_EQ(moe.counters.uncoded_macs, 8U * 2U * 18944U * 3584U);  // the two down projections
  EXPECT_TRUE(record(acc, "layers.3.la_out").coded);
  EXPECT_FALSE(record(acc, "layers.3.router").coded);
  EXPECT_EQ(record(acc, "layers.3.linear_attn.gla").counters.dense_macs, 8U * (4U + 28U) * 128U * 128U);
}

TEST(Account, SpikingBrain76BValuesSpikesimDoesNotImplementAreRefusedByKey) {
  const test::ScratchDir dir;
  const auto original = nlohmann::json::parse(
      test::read_file(std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/spikingbrain-76b.json"));
  const auto message = [&](const nlohmann::json& j) {
    std::ofstream(dir / "c.json") << j.dump();
    try {
      (void)load_llm_config(dir / "c.json", 1);
    } catch (const models::ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json j = original;
  j["linear_attention"]["feature_map"] = "relu";
  EXPECT_NE(message(j).find("linear_attention.feature_map"), std::string::npos) << message(j);
  j = original;
  j["layer_types"][3] = "gla+mamba";
  EXPECT_NE(message(j).find("layer_types[3]"), std::string::npos) << message(j);
  j = original;
  j["mlp_layer_types"].erase(0);
  EXPECT_NE(message(j).find("mlp_layer_types"), std::string::npos) << message(j);
  j = original;
  j["sink_tokens"]["per_layer"] = true;
  EXPECT_NE(message(j).find("sink_tokens.per_layer"), std::string::npos) << message(j);
}
}  // namespace
}  // namespace spikesim::sim
