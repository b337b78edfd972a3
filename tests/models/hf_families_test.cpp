// Hugging Face families (models/hf_llm.hpp) against transformers' own goldens (tests/golden/hf, made by
// scripts/make_hf_goldens.py): every case in both config styles (transformers 5's rope_parameters / dtype and
// the older rope_theta + rope_scaling / torch_dtype) gives transformers' float64 logits within 1e-4 and its
// greedy tokens exactly; RoPE inverse frequencies and attention scaling as transformers computed them;
// sliding windows as transformers masked; MoE routing as transformers chose; and the MoE counting rule (a
// token's spikes reach only its routed experts' synapses).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

const fs::path golden_dir = fs::path(SPIKESIM_SOURCE_DIR) / "tests/golden/hf";

json read_json(const fs::path& f) {
  return json::parse(test::read_file(f));
}

// The case's checkpoint with `config_file` as its config.json (copied: links out of the directory are
// refused).
fs::path checkpoint(const test::ScratchDir& dir, const std::string& name, const std::string& config_file) {
  const fs::path src = golden_dir / name;
  const fs::path dst = dir / name;
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src)) {
    const std::string f = e.path().filename().string();
    if (f.ends_with(".safetensors") || f == "model.safetensors.index.json") fs::copy_file(e.path(), dst / f);
  }
  fs::copy_file(src / config_file, dst / "config.json");
  return dst;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  const json manifest = read_json(golden_dir / "manifest.json");
  for (const json& c : manifest["cases"])
    names.push_back(c["name"].get<std::string>());
  return names;
}

struct Style {
  std::string name;
  std::string file;
};

class HfFamilyGolden : public ::testing::TestWithParam<std::tuple<std::string, Style>> {};

TEST_P(HfFamilyGolden, LogitsAndGreedyTokensAsTransformers) {
  const auto& [name, style] = GetParam();
  const json golden = read_json(golden_dir / name / "golden.json");
  test::ScratchDir dir;
  const fs::path model_dir = checkpoint(dir, name, style.file);
  const models::LlmModel model = sim::load_llm(model_dir);
  EXPECT_EQ(model.config.architecture, golden["architecture"].get<std::string>());
  const sim::Plan plan = sim::lower_llm(model, {"none", false, {}});

  const auto ids = golden["input_ids"].get<std::vector<std::int32_t>>();
  const std::vector<float> logits = sim::llm_logits(plan, ids);
  const auto vocab = golden["logits"]["shape"][1].get<std::size_t>();
  ASSERT_EQ(logits.size(), ids.size() * vocab);
  const auto positions = golden["logits"]["positions"].get<std::vector<std::size_t>>();
  double worst = 0.0;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto want = golden["logits"]["values"][i].get<std::vector<double>>();
    for (std::size_t v = 0; v < vocab; ++v)
      worst = std::max(worst, std::fabs(static_cast<double>(logits[positions[i] * vocab + v]) - want[v]));
  }
  EXPECT_LT(worst, 1e-4) << "largest |logit - transformers float64| over the golden positions";
  std::printf("%s (%s): max |logit - transformers float64| = %.3g\n", name.c_str(), style.file.c_str(),
              worst);
  // Every position's argmax (transformers' full forward).
  const auto argmax = golden["logits_all_positions"]["argmax"].get<std::vector<std::size_t>>();
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const auto row = std::span<const float>(logits).subspan(p * vocab, vocab);
    EXPECT_EQ(static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin()), argmax[p])
        << "position " << p;
  }

  // Greedy with the KV cache (no eos stop), as the golden's argmax loop.
  for (const char* key : {"greedy", "greedy_long"}) {
    if (!golden.contains(key)) continue;
    const json& g = golden[key];
    const auto prompt = g["prompt_ids"].get<std::vector<std::int32_t>>();
    const auto want = g["generated_ids"].get<std::vector<std::int32_t>>();
    const std::vector<std::int32_t> out =
        sim::llm_generate(plan, prompt, {static_cast<std::int64_t>(want.size()), false});
    const std::vector<std::int32_t> generated(out.begin() + static_cast<std::ptrdiff_t>(prompt.size()),
                                              out.end());
    EXPECT_EQ(generated, want) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, HfFamilyGolden,
                         ::testing::Combine(::testing::ValuesIn(case_names()),
                                            ::testing::Values(Style{"v5", "config.json"},
                                                              Style{"legacy", "config.legacy.json"})),
                         [](const auto& param_info) {
                           return std::get<0>(param_info.param) + "_" + std::get<1>(param_info.param).name;
                         });

TEST(HfFamilies, RopeFrequenciesAsTransformersComputedThem) {
  int checked = 0;
  for (const std::string& name : case_names()) {
    const json golden = read_json(golden_dir / name / "golden.json");
    const json& rope = golden["rope_after_forward"];
    const models::LlmConfig c = models::read_hf_config(golden_dir / name / "config.json");
    SCOPED_TRACE(name);
    EXPECT_EQ(std::string(models::name(c.rope_scaling.type)), rope["rope_type"].get<std::string>());
    const auto want = rope["inv_freq"].get<std::vector<double>>();
    std::vector<double> got;
    double scaling = 1.0;
    if (c.rope_scaling.type == models::RopeType::dynamic) {  // the 64-token forward's θ'
      const double theta = sim::ops::dynamic_ntk_theta(c.rope_theta, c.rope_scaling.factor,
                                                       static_cast<std::int64_t>(golden["input_ids"].size()),
                                                       c.rope_scaling.original_context, c.head_dim);
      got = models::rope_frequencies({}, theta, c.head_dim, c.seq_len).inv_freq;
    } else {
      const auto f = models::rope_frequencies(c.rope_scaling, c.rope_theta, c.head_dim, c.seq_len);
      got = f.inv_freq;
      scaling = f.attention_scaling;
    }
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-6 * want[i] + 1e-12) << "inv_freq[" << i << "]";
    EXPECT_NEAR(scaling, rope["attention_scaling"].get<double>(), 1e-6);
    ++checked;
  }
  EXPECT_EQ(checked, 13);
}

TEST(HfFamilies, SlidingWindowsAsTransformersMaskedThem) {
  for (const std::string& name : case_names()) {
    const json golden = read_json(golden_dir / name / "golden.json");
    for (const char* file : {"config.json", "config.legacy.json"}) {
      const models::LlmConfig c = models::read_hf_config(golden_dir / name / file);
      SCOPED_TRACE(name + " " + file);
      for (const json& mask : golden["attention_masks"]) {
        const auto layer = mask["layer"].get<std::int64_t>();
        const auto last = static_cast<std::int64_t>(golden["input_ids"].size()) - 1;
        // The keys the last query attends: a window of w ends at itself.
        EXPECT_EQ(sim::ops::attended_keys(last, c.window_of(layer)),
                  static_cast<std::int64_t>(mask["keys_of_last_query"].size()))
            << "layer " << layer;
        EXPECT_EQ(sim::ops::attended_keys(last, c.window_of(layer)),
                  mask["max_keys_per_query"].get<std::int64_t>());
      }
    }
  }
}

TEST(HfFamilies, MoeRoutingAsTransformersChose) {
  for (const std::string name : {"mixtral", "qwen2_moe", "qwen3_moe"}) {
    const json golden = read_json(golden_dir / name / "golden.json");
    const models::LlmConfig c = models::read_hf_config(golden_dir / name / "config.json");
    SCOPED_TRACE(name);
    std::vector<bool> sparse(golden["moe"]["mlp_per_layer"].size(), false);
    for (const json& l : golden["moe"]["sparse_layers"])
      sparse.at(l["layer"].get<std::size_t>()) = true;
    ASSERT_EQ(sparse.size(), static_cast<std::size_t>(c.n_layers));
    for (std::int64_t l = 0; l < c.n_layers; ++l)
      EXPECT_EQ(c.moe.sparse_layer(l), sparse[static_cast<std::size_t>(l)]) << "layer " << l;
    for (const json& layer : golden["moe"]["sparse_layers"]) {
      const auto probs = layer["router_probs_float64"].get<std::vector<std::vector<double>>>();
      const auto top = layer["topk_indices"].get<std::vector<std::vector<std::int32_t>>>();
      const auto weights = layer["topk_weights"].get<std::vector<std::vector<double>>>();
      // Logits whose softmax is the golden's probabilities: log p.
      std::vector<float> logits;
      for (const auto& row : probs)
        for (const double p : row)
          logits.push_back(static_cast<float>(std::log(p)));
      const sim::ops::Routing r =
          sim::ops::moe_route(logits, c.moe.experts, c.moe.top_k, c.moe.norm_topk_prob);
      for (std::size_t t = 0; t < top.size(); ++t) {
        for (std::size_t j = 0; j < top[t].size(); ++j) {
          EXPECT_EQ(r.expert[t * top[t].size() + j], top[t][j]) << "token " << t;
          EXPECT_NEAR(r.weight[t * top[t].size() + j], weights[t][j], 1e-5) << "token " << t;
        }
      }
    }
  }
}

// A token's spikes reach only its routed experts' synapses: the coded MoE block's SOPs are its events times
// the fan-out of the experts it was routed to (plus the shared expert's), and the per-expert load is the
// routing's.
TEST(HfFamilies, MoeSopsCoverOnlyTheRoutedExperts) {
  for (const std::string name : {"mixtral", "qwen2_moe"}) {
    SCOPED_TRACE(name);
    test::ScratchDir dir;
    const models::LlmModel model = sim::load_llm(checkpoint(dir, name, "config.json"));
    const models::LlmConfig& c = model.config;
    sim::Plan plan = sim::lower_llm(model, {"*.mlp_in", false, {}});
    const json golden = read_json(golden_dir / name / "golden.json");
    const auto ids = golden["input_ids"].get<std::vector<std::int32_t>>();
    sim::SiteConfig site;
    site.coding.scheme = coding::Scheme::ternary;
    sim::ExecOptions options;
    options.site = &site;
    std::vector<sim::LayerRecord> records = sim::plan_records(plan);
    (void)sim::llm_logits(plan, ids, options, &records);
    int moe_steps = 0;
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      const sim::Step& s = plan.steps[i];
      if (s.kind() != sim::StepKind::moe) continue;
      ++moe_steps;
      ASSERT_TRUE(s.coded);
      const sim::LayerRecord& r = records[i];
      const auto& m = s.as<sim::MoeStep>();
      // Each token goes to exactly top_k experts.
      std::uint64_t routed = 0;
      for (const auto n : r.expert_tokens)
        routed += n;
      EXPECT_EQ(routed, ids.size() * static_cast<std::size_t>(c.moe.top_k));
      // Fan-out of one presynaptic neuron: 2 x expert hidden per routed expert (gate and up), and the shared
      // expert's 2 x shared + 1 for every token. Spikes counted once per token.
      const std::uint64_t spikes = r.counters.spikes;
      ASSERT_GT(spikes, 0U);
      const auto per_expert = static_cast<std::uint64_t>(2 * m.hidden);
      const std::uint64_t shared =
          m.shared_hidden > 0 ? static_cast<std::uint64_t>(2 * m.shared_hidden + 1) : 0;
      EXPECT_GE(r.counters.sops, spikes * shared);
      EXPECT_LE(r.counters.sops, spikes * (shared + per_expert * static_cast<std::uint64_t>(c.moe.top_k)));
      // Not the all-experts fan-out.
      EXPECT_LT(r.counters.sops, spikes * (shared + per_expert * static_cast<std::uint64_t>(c.moe.experts)));
      EXPECT_EQ(r.counters.tokens, ids.size());
    }
    EXPECT_GT(moe_steps, 0);
  }
}

// `spikesim run` end to end on a MoE and a sliding-window checkpoint: the MoE rows carry the per-expert load
// (each token counted top_k times), the config block names the family features, and the windowed attention
// counts only the window's keys.
TEST(HfFamilies, RunReportsExpertLoadAndWindowedAttention) {
  test::ScratchDir dir;
  {
    const fs::path model = checkpoint(dir, "qwen2_moe", "config.legacy.json");
    std::ofstream(dir / "ids.txt") << "5 17 99 3 42 7 8 200 31 64 12 9";
    ASSERT_EQ(test::run_cli({"run", "--model", model.string(), "--tokens", (dir / "ids.txt").string(),
                             "--out", (dir / "moe").string(), "-q"}),
              0);
    const json r = read_json(dir / "moe" / "report.json");
    EXPECT_EQ(r["run"]["llm"]["moe"]["experts"], 4);
    EXPECT_EQ(r["run"]["llm"]["moe"]["sparse_layers"], json::array({1}));
    EXPECT_LT(r["run"]["llm"]["active_parameters"].get<std::int64_t>(),
              r["run"]["llm"]["parameters"].get<std::int64_t>());
    int moe_rows = 0;
    for (const json& l : r["layers"]) {
      if (l["kind"] != "moe") continue;
      ++moe_rows;
      EXPECT_EQ(l["name"], "layers.1.mlp_in");
      EXPECT_TRUE(l["coded"].get<bool>());
      std::uint64_t routed = 0;
      for (const json& n : l["expert_tokens"])
        routed += n.get<std::uint64_t>();
      EXPECT_EQ(routed, 12U * 2U);  // 12 tokens, top-2
    }
    EXPECT_EQ(moe_rows, 1);
  }
  {
    const fs::path model = checkpoint(dir, "mistral", "config.json");
    std::ofstream(dir / "ids40.txt") << [] {
      std::string ids;
      for (int i = 0; i < 40; ++i)
        ids += std::to_string(3 + (i * 37) % 400) + " ";
      return ids;
    }();
    ASSERT_EQ(test::run_cli({"run", "--model", model.string(), "--tokens", (dir / "ids40.txt").string(),
                             "--out", (dir / "swa").string(), "-q"}),
              0);
    const json r = read_json(dir / "swa" / "report.json");
    EXPECT_EQ(r["run"]["llm"]["sliding_window_per_layer"], json::array({12, 12}));
    for (const json& l : r["layers"]) {
      if (l["name"] != "layers.0.attention") continue;
      // Keys attended: 1 + 2 + ... + 12, then 12 for each of the other 28 positions; 2 MACs per key and
      // head dimension (q.k and p.v), 4 heads x 16, in the dense and in the spiking run alike.
      const std::uint64_t keys = 12 * 13 / 2 + 28 * 12;
      EXPECT_EQ(l["uncoded_macs"].get<std::uint64_t>(), 2 * 64 * keys);
    }
  }
}

TEST(HfFamilies, BadConfigsNameTheKey) {
  const fs::path base = golden_dir / "llama_yarn" / "config.json";
  const json cfg = read_json(base);
  const auto refuse = [&](const std::function<void(json&)>& edit, const std::string& expected) {
    test::ScratchDir dir;
    json j = cfg;
    edit(j);
    std::ofstream(dir / "config.json") << j.dump();
    try {
      (void)models::read_hf_config(dir / "config.json");
      ADD_FAILURE() << "accepted: " << expected;
    } catch (const models::ModelError& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected));
      EXPECT_THAT(e.what(), HasSubstr("config.json"));
    }
  };
  refuse([](json& j) { j["rope_parameters"]["rope_type"] = "longrope"; },
         "rope_type 'longrope' not supported");
  refuse([](json& j) { j["rope_parameters"]["mscale"] = 0.7; }, "rope_parameters.mscale");
  refuse([](json& j) { j["rope_parameters"].erase("factor"); }, "rope_parameters.factor");
  refuse([](json& j) { j["rope_parameters"]["factor"] = "four"; }, "rope_parameters.factor");
  refuse([](json& j) { j["architectures"] = {"GPTNeoXForCausalLM"}; }, "architecture 'GPTNeoXForCausalLM'");
  refuse([](json& j) { j["sliding_window"] = 8; }, "sliding_window");
  refuse([](json& j) { j["partial_rotary_factor"] = 0.5; }, "partial_rotary_factor");
  refuse(
      [](json& j) {
        j["architectures"] = {"Qwen2ForCausalLM"};
        j["use_sliding_window"] = true;
        j["sliding_window"] = 8;
        j["layer_types"] = {"full_attention"};
      },
      "layer_types");
  refuse(
      [](json& j) {
        j["architectures"] = {"MixtralForCausalLM"};
        j["num_local_experts"] = 4;
        j["num_experts_per_tok"] = 5;
      },
      "num_experts_per_tok");
}

TEST(HfFamilies, MissingExpertTensorIsNamed) {
  test::ScratchDir dir;
  const fs::path model_dir = checkpoint(dir, "qwen3_moe", "config.json");
  // Claim one more expert than the checkpoint holds.
  json cfg = read_json(model_dir / "config.json");
  cfg["num_local_experts"] = cfg["num_local_experts"].get<int>() + 1;
  fs::remove(model_dir / "config.json");
  std::ofstream(model_dir / "config.json") << cfg.dump();
  try {
    (void)sim::load_llm(model_dir);
    ADD_FAILURE() << "accepted a missing expert";
  } catch (const models::ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("model.layers.1.mlp.gate.weight"));
  }
}

}  // namespace
}  // namespace spikesim
