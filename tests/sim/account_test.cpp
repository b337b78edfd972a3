// 7B-scale accounting on a tiny config, against counts computed another way (the same activations run
// through the site driver (run_site) on materialised random weights of the same shapes, and explicit MAC
// loops), plus chunk, thread and token-count invariances and the trace path.

#include "sim/run/account.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <fstream>

#include "base/text.hpp"
#include "models/error.hpp"
#include "models/hf_llm.hpp"
#include "sim/site/synapse.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

// hidden 24 = 4 heads x 6, 2 KV heads, intermediate 40, 2 layers, vocab 50, Qwen2 (q/k/v biases).
DecoderShape tiny_shape(const test::ScratchDir& dir) {
  const auto file = dir / "config.json";
  std::ofstream(file)
      << R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 24, "intermediate_size": 40,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50})";
  return load_decoder_shape(file);
}

const LayerRecord& record(const AccountResult& r, const std::string& name) {
  for (const LayerRecord& l : r.report.layers)
    if (l.name == name) return l;
  throw std::runtime_error("no record " + name);
}

TEST(DecoderShape, ReadsQwen25_7BConfig) {
  const DecoderShape s =
      load_decoder_shape(std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/qwen2.5-7b.json");
  EXPECT_EQ(s.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(s.hidden, 3584);
  EXPECT_EQ(s.intermediate, 18944);
  EXPECT_EQ(s.layers, 28);
  EXPECT_EQ(s.heads, 28);
  EXPECT_EQ(s.kv_heads, 4);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.kv_dim(), 512);
  EXPECT_EQ(s.vocab, 152064);
  EXPECT_TRUE(s.qkv_bias);
  EXPECT_FALSE(s.o_bias);
}

// The accounting reads config.json on its own (it needs shapes only, and accepts what the weight loader
// refuses); where both read a config, they must agree on the shapes and on which projections carry biases.
TEST(DecoderShape, AgreesWithTheCheckpointLoaderOnShapesAndBiases) {
  const test::ScratchDir dir;
  const std::string base = R"("hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 16)";
  for (const std::string arch : {"LlamaForCausalLM", "Qwen2ForCausalLM"}) {
    for (const std::string extra : {"", R"(, "attention_bias": true)", R"(, "mlp_bias": true)"}) {
      const auto file = dir / "config.json";
      std::ofstream(file) << "{\"architectures\": [\"" << arch << "\"], " << base << extra << "}";
      const DecoderShape s = load_decoder_shape(file);
      const models::LlmConfig c = models::read_hf_config(file);
      SCOPED_TRACE(arch + extra);
      EXPECT_EQ(s.hidden, c.dim);
      EXPECT_EQ(s.intermediate, c.hidden_dim);
      EXPECT_EQ(s.layers, c.n_layers);
      EXPECT_EQ(s.heads, c.n_heads);
      EXPECT_EQ(s.kv_heads, c.n_kv_heads);
      EXPECT_EQ(s.head_dim, c.head_dim);
      EXPECT_EQ(s.vocab, c.vocab_size);
      EXPECT_EQ(s.qkv_bias, c.qkv_bias);
      EXPECT_EQ(s.o_bias, c.o_bias);
      EXPECT_EQ(s.mlp_bias, c.mlp_bias);
    }
  }
}

TEST(DecoderShape, RejectsBadConfigsNamingFileAndField) {
  const test::ScratchDir dir;
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    const auto file = dir / "bad.json";
    std::ofstream(file) << text;
    try {
      (void)load_decoder_shape(file);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const models::ModelError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(file.string()), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  expect_error(R"({"hidden_size": 24})", "'intermediate_size' missing");
  expect_error(R"({"hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
      "num_attention_heads": 5, "vocab_size": 50})",
               "not a multiple of num_attention_heads");
  expect_error(R"({"hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 50})",
               "num_key_value_heads");
  expect_error(R"({"hidden_size": -3})", "positive integer");
  expect_error("{not json", "not valid JSON");
  EXPECT_THROW((void)load_decoder_shape(dir / "missing.json"), models::ModelError);
}

TEST(Account, EqualsRunningTheSameActivationsThroughMaterialisedLayers) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.shape = tiny_shape(dir);
  req.tokens = 11;
  req.chunk_tokens = 4;  // chunks of 4, 4, 3
  req.seed = 5;
  req.coded = {Projection::q,    Projection::k,  Projection::v,   Projection::o,
               Projection::gate, Projection::up, Projection::down};
  req.site.coding.scheme = coding::Scheme::bitwise;
  req.site.measure_output_error = false;
  const AccountResult acc = account(req);
  const DecoderShape& s = req.shape;

  struct Site {
    Projection p;
    LayerInput input;
    std::int64_t in;
    std::int64_t out;
    bool bias;
  };
  const std::vector<Site> sites = {{Projection::q, LayerInput::attention, 24, 24, true},
                                   {Projection::k, LayerInput::attention, 24, 12, true},
                                   {Projection::v, LayerInput::attention, 24, 12, true},
                                   {Projection::o, LayerInput::attention_output, 24, 24, false},
                                   {Projection::gate, LayerInput::mlp, 24, 40, false},
                                   {Projection::up, LayerInput::mlp, 24, 40, false},
                                   {Projection::down, LayerInput::mlp_hidden, 40, 24, false}};
  for (std::int64_t l = 0; l < s.layers; ++l) {
    for (const Site& site : sites) {
      SCOPED_TRACE(cat("layer ", l, " ", name(site.p)));
      // Materialised weights of the same shape, no zeros (the accountant's dense-weight assumption).
      std::vector<float> w =
          test::gaussian(static_cast<std::size_t>(site.out * site.in), 40 + static_cast<std::uint32_t>(l));
      for (float& v : w)
        v = v >= 0.0F ? v + 0.01F : v - 0.01F;
      const std::vector<float> b(site.bias ? static_cast<std::size_t>(site.out) : 0, 0.5F);
      const LinearWeights layer = LinearWeights::from_row_major("fc", w, site.out, site.in, b);
      const OutlierChannels source(req.seed, synthetic_stream(l, site.input), site.in);
      SiteCounters expected;
      for (std::int64_t t0 = 0; t0 < req.tokens; t0 += req.chunk_tokens) {
        const std::int64_t n = std::min(req.chunk_tokens, req.tokens - t0);
        const std::vector<float> x = source.tokens(t0, n);
        std::vector<float> y(static_cast<std::size_t>(n * site.out));
        run_site({&layer, nullptr}, x, n, req.site, y, expected, {layer.name, "x", 0, {}, true});
      }
      const LayerRecord& r = record(acc, cat("layers.", l, ".", name(site.p)));
      EXPECT_TRUE(r.coded);
      EXPECT_EQ(r.in, site.in);
      EXPECT_EQ(r.out, site.out);
      const SiteCounters& c = r.counters;
      EXPECT_GT(c.spikes, 0U);
      EXPECT_EQ(c.calls, expected.calls);
      EXPECT_EQ(c.tokens, expected.tokens);
      EXPECT_EQ(c.elements, expected.elements);
      EXPECT_EQ(c.element_steps, expected.element_steps);
      EXPECT_EQ(c.steps_sum, expected.steps_sum);
      EXPECT_EQ(c.steps_max, expected.steps_max);
      EXPECT_EQ(c.count_histogram, expected.count_histogram);
      EXPECT_EQ(c.spikes, expected.spikes);
      EXPECT_EQ(c.spikes_graded, expected.spikes_graded);
      EXPECT_EQ(c.sops, expected.sops);
      EXPECT_EQ(c.effective_sops, expected.effective_sops);
      EXPECT_EQ(c.graded_sops, expected.graded_sops);
      EXPECT_EQ(c.weight_words_read, expected.weight_words_read);
      EXPECT_EQ(c.neuron_updates, expected.neuron_updates);
      EXPECT_EQ(c.post_neuron_updates, expected.post_neuron_updates);
      EXPECT_EQ(c.post_neuron_updates_active, expected.post_neuron_updates_active);
      EXPECT_EQ(c.rescale_muls, expected.rescale_muls);
      EXPECT_EQ(c.bias_adds, expected.bias_adds);
      EXPECT_EQ(c.dense_macs, expected.dense_macs);
      EXPECT_EQ(c.dense_weight_words, expected.dense_weight_words);
      EXPECT_EQ(c.input_sq_norm, expected.input_sq_norm);
      EXPECT_EQ(c.reconstruction_sq_err, expected.reconstruction_sq_err);
    }
    // Attention: QK^T and AV per query head over the causal context, counted with explicit loops.
    std::uint64_t macs = 0;
    for (std::int64_t t = 0; t < req.tokens; ++t)
      for (std::int64_t h = 0; h < s.heads; ++h)
        for (std::int64_t key = 0; key <= t; ++key)
          macs += 2 * static_cast<std::uint64_t>(s.head_dim);
    const LayerRecord& attention = record(acc, cat("layers.", l, ".attention"));
    EXPECT_FALSE(attention.coded);
    EXPECT_EQ(attention.counters.dense_macs, macs);
    EXPECT_EQ(attention.counters.uncoded_macs, macs);
  }
  const LayerRecord& head = record(acc, "lm_head");
  EXPECT_EQ(head.counters.uncoded_macs, 11U * 24U * 50U);
  EXPECT_EQ(acc.report.layers.size(), 2U * 8U + 1U);
  EXPECT_EQ(acc.report.run["tokens"], 11);
  EXPECT_EQ(acc.report.run["coding"], "bitwise");
}

TEST(Account, DownProjIsDenseByDefaultAndSequencesRestartTheContext) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.shape = tiny_shape(dir);
  req.tokens = 10;
  req.chunk_tokens = 3;
  req.sequence_tokens = 4;  // positions 0 1 2 3 0 1 2 3 0 1
  const AccountResult acc = account(req);
  const LayerRecord& down = record(acc, "layers.1.down_proj");
  EXPECT_FALSE(down.coded);
  EXPECT_EQ(down.counters.spikes, 0U);
  EXPECT_EQ(down.counters.uncoded_macs, 10U * 40U * 24U);
  const std::uint64_t context = (1 + 2 + 3 + 4) * 2 + 1 + 2;
  EXPECT_EQ(record(acc, "layers.0.attention").counters.dense_macs, 2U * 24U * context);
}

TEST(Account, ChunkSizeChangesOnlyPerCallCountersWhenTIsFixed) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.shape = tiny_shape(dir);
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
  req.shape = tiny_shape(dir);
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

TEST(Account, ReadsActivationsFromATraceUnderEitherNaming) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.shape = tiny_shape(dir);
  req.tokens = 7;
  req.chunk_tokens = 3;
  req.seed = 9;
  const AccountResult synthetic = account(req);

  // The same activations, recorded in a trace: our names for layer 0, Hugging Face module names for layer 1.
  std::vector<test::TraceLayer> layers;
  for (std::int64_t l = 0; l < 2; ++l) {
    for (const auto& [role, block, input, width] :
         std::vector<std::tuple<std::string, std::string, LayerInput, std::int64_t>>{
             {"q_proj", "self_attn", LayerInput::attention, 24},
             {"o_proj", "self_attn", LayerInput::attention_output, 24},
             {"gate_proj", "mlp", LayerInput::mlp, 24}}) {
      test::TraceLayer t;
      t.name = l == 0 ? cat("layers.0.", role) : cat("model.layers.1.", block, ".", role);
      t.index = static_cast<std::int64_t>(layers.size());
      t.tokens = 9;  // more than requested: the accountant reads only what it needs
      t.in = width;
      t.out = 2;
      t.input = OutlierChannels(req.seed, synthetic_stream(l, input), width).tokens(0, 9);
      t.weight.assign(static_cast<std::size_t>(2 * width), 0.1F);
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
  req.coded.push_back(Projection::down);  // the trace has no down_proj input
  try {
    (void)account(req);
    FAIL() << "accepted a trace without down_proj inputs";
  } catch (const models::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("no recorded input for layer 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layers.0.down_proj"), std::string::npos) << e.what();
  }
}

TEST(Account, RejectsNonFiniteTraceValuesNamingTheTokenRange) {
  const test::ScratchDir dir;
  AccountRequest req;
  req.shape = tiny_shape(dir);
  req.tokens = 4;
  req.chunk_tokens = 2;
  req.coded = {Projection::o};
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

}  // namespace
}  // namespace spikesim::sim
