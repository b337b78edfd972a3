// The consistency test of the two paths: `spikesim run --save-activations` records the input of every coded
// site, and `spikesim account --activations` on that file must give exactly the run's per-site records (same
// names, spikes, SOPs, dense MACs, T, zero fraction, neuron updates, ...), on the default LLM and on
// stories260K. Only what needs the weights' values may differ: effective SOPs and weight reads (the
// accounting takes every synapse as non-zero) and the output error (the accounting delivers nothing).

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

void expect_same_sites(const std::vector<std::string>& model_args, const std::string& config,
                       const std::string& coding, const std::string& sites = "default") {
  const test::ScratchDir dir;
  std::vector<std::string> run{"run"};
  run.insert(run.end(), model_args.begin(), model_args.end());
  for (const std::string& a : std::vector<std::string>{
           "--coding", coding, "--k", "3", "--sites", sites, "--hardware", "loihi", "--save-activations",
           (dir / "act.h5").string(), "--out", (dir / "run").string(), "-q"})
    run.push_back(a);
  ASSERT_EQ(test::run_cli(run), 0);
  // One chunk holding every token: T is then the run's (set over the tensor coded at once).
  ASSERT_EQ(test::run_cli({"account",
                           "--config",
                           config,
                           "--activations",
                           (dir / "act.h5").string(),
                           "--tokens",
                           "0",
                           "--chunk",
                           "100000",
                           "--coding",
                           coding,
                           "--k",
                           "3",
                           "--sites",
                           sites,
                           "--hardware",
                           "loihi",
                           "--out",
                           (dir / "acc").string(),
                           "-q"}),
            0);
  const json r = read_json(dir / "run" / "report.json");
  const json a = read_json(dir / "acc" / "report.json");
  ASSERT_EQ(r["layers"].size(), a["layers"].size());
  int coded = 0;
  for (std::size_t i = 0; i < r["layers"].size(); ++i) {
    const json& x = r["layers"][i];
    const json& y = a["layers"][i];
    SCOPED_TRACE(x["name"].get<std::string>());
    EXPECT_EQ(x["name"], y["name"]);
    EXPECT_EQ(x["coded"], y["coded"]);
    EXPECT_EQ(x["dense_macs"], y["dense_macs"]);
    if (!x["coded"].get<bool>()) continue;
    ++coded;
    for (const char* f : {"tokens",
                          "calls",
                          "elements",
                          "T",
                          "T_mean",
                          "token_steps",
                          "zero_fraction",
                          "count_histogram",
                          "mean_abs_count",
                          "spikes",
                          "spikes_graded",
                          "spikes_per_element",
                          "firing_rate",
                          "sops",
                          "ac_sops",
                          "graded_sops",
                          "sops_per_dense_mac",
                          "neuron_updates",
                          "post_neuron_updates",
                          "post_neuron_updates_active",
                          "dense_weight_words",
                          "rescale_muls",
                          "zero_point_macs",
                          "bias_adds",
                          "uncoded_macs",
                          "saturated",
                          "reconstruction_rel_error"})
      EXPECT_EQ(x[f], y[f]) << f;
  }
  EXPECT_GT(coded, 0);
  EXPECT_EQ(r["totals"]["spikes"], a["totals"]["spikes"]);
}

TEST(SaveActivations, AccountOnARunsActivationsGivesTheRunsSitesOnTheDefaultLlm) {
  const std::string model = std::string(SPIKESIM_SOURCE_DIR) + "/data/models/kjv-llama";
  for (const char* coding : {"ternary", "bitwise"}) {
    SCOPED_TRACE(coding);
    expect_same_sites(
        {"--model", model, "--text-file", std::string(SPIKESIM_SOURCE_DIR) + "/data/text/psalm.txt"}, model,
        coding);
  }
}

TEST(SaveActivations, AccountOnARunsActivationsGivesTheRunsSitesOnStories260K) {
  const auto model = test::shared_data("llama2c/stories260K.bin");
  const auto tok = test::shared_data("llama2c/tok512.bin");
  if (!model || !tok) GTEST_SKIP() << "SKIPPED: ../shared/data/llama2c/stories260K.bin not present";
  // The llama2.c checkpoint is its own config (only its header is read).
  expect_same_sites({"--model", model->string(), "--tokenizer", tok->string(), "--text-file",
                     std::string(SPIKESIM_SOURCE_DIR) + "/data/text/story.txt"},
                    model->string(), "bitwise", "all,!lm_head");
}

}  // namespace
}  // namespace spikesim
