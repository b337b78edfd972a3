// spikesim run / generate / convert on LLM checkpoints the test writes itself: report fields, fidelity,
// determinism across thread counts, and errors that leave nothing behind.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "sim/cli/cli.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

class LlmCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto m = test::tiny_llm(test::tiny_config("llama2.c"), 41);
    test::write_llama2c(dir_ / "m.bin", m);
    test::write_file(dir_ / "tok.bin", test::byte_tokenizer(300));
    test::write_file(dir_ / "text.txt", "the cat and the hat and the end\n");
  }
  [[nodiscard]] std::string p(const std::string& name) const { return (dir_ / name).string(); }
  test::ScratchDir dir_;
};

TEST_F(LlmCli, RunWritesLayersSitesAndFidelity) {
  ASSERT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--text-file",
                           p("text.txt"), "--coding", "bitwise", "--k", "3", "--out", p("out"), "-q"}),
            0);
  const json r = read_json(dir_ / "out" / "report.json");
  EXPECT_EQ(r["run"]["model_kind"], "llama2c");
  EXPECT_EQ(r["run"]["sites"], "qkv,o,gateup");
  EXPECT_EQ(r["run"]["llm"]["n_kv_heads"], 2);
  const auto n = r["run"]["tokens"].get<std::uint64_t>();
  EXPECT_GT(n, 5U);
  std::map<std::string, json> by_name;
  for (const auto& l : r["layers"])
    by_name[l["name"].get<std::string>()] = l;
  for (const char* coded : {"layers.0.attn_in", "layers.0.attn_out", "layers.1.mlp_in"}) {
    SCOPED_TRACE(coded);
    EXPECT_TRUE(by_name.at(coded)["coded"].get<bool>());
    EXPECT_EQ(by_name.at(coded)["tokens"].get<std::uint64_t>(), n);
    EXPECT_GT(by_name.at(coded)["spikes"].get<std::uint64_t>(), 0U);
  }
  EXPECT_FALSE(by_name.at("layers.1.mlp_out")["coded"].get<bool>());
  EXPECT_EQ(by_name.at("lm_head")["uncoded_macs"].get<std::uint64_t>(), n * 16 * 300);
  EXPECT_EQ(by_name.at("layers.0.attention")["kind"], "attention");
  const json& f = r["fidelity"];
  EXPECT_EQ(f["positions"].get<std::uint64_t>(), n - 1);
  for (const char* key : {"top1_agreement", "mean_kl_nats", "perplexity_dense", "perplexity_spiking"})
    EXPECT_TRUE(f[key].is_number()) << key;
  EXPECT_GE(f["top1_agreement"].get<double>(), 0.0);
  EXPECT_LE(f["top1_agreement"].get<double>(), 1.0);
  EXPECT_GT(f["perplexity_dense"].get<double>(), 1.0);
  EXPECT_EQ(r["totals"]["sops"].get<std::uint64_t>() > 0, true);
}

TEST_F(LlmCli, ReportIsIdenticalWhateverTheThreadCount) {
  std::vector<std::string> reports;
  for (const char* threads : {"1", "3"}) {
    ASSERT_EQ(test::run_cli({"--threads", threads, "run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"),
                             "--prompt", "the and the hat the end and a hand", "--coding", "ternary",
                             "--sites", "all", "--out", p(std::string("t") + threads), "-q"}),
              0);
    reports.push_back(test::read_file(dir_ / (std::string("t") + threads) / "report.json"));
  }
  EXPECT_EQ(reports[0], reports[1]);
}

TEST_F(LlmCli, ConvertThenRunGivesTheSameReport) {
  ASSERT_EQ(
      test::run_cli({"convert", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--out", p("hf"), "-q"}),
      0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "hf" / "tokenizer.bin"));
  for (const char* model : {"m.bin", "hf"}) {
    ASSERT_EQ(test::run_cli({"run", "--model", p(model), "--tokenizer", p("tok.bin"), "--text-file",
                             p("text.txt"), "--out", p(std::string("r_") + model), "-q"}),
              0);
  }
  const json a = read_json(dir_ / "r_m.bin" / "report.json");
  const json b = read_json(dir_ / "r_hf" / "report.json");
  EXPECT_EQ(b["run"]["model_kind"], "safetensors");
  EXPECT_NEAR(a["fidelity"]["perplexity_dense"].get<double>(),
              b["fidelity"]["perplexity_dense"].get<double>(), 1e-4);
  EXPECT_EQ(a["totals"]["elements"], b["totals"]["elements"]);
}

TEST_F(LlmCli, GenerateWritesTextAndReport) {
  test::write_file(dir_ / "prompt.txt", "1 263 264");
  ASSERT_EQ(test::run_cli({"generate", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--tokens",
                           p("prompt.txt"), "--steps", "5", "--no-stop", "--coding", "ternary", "--out",
                           p("g"), "-q"}),
            0);
  const json r = read_json(dir_ / "g" / "report.json");
  EXPECT_EQ(r["run"]["mode"], "spiking");
  EXPECT_EQ(r["generation"]["generated_tokens"], 5);
  EXPECT_EQ(r["generation"]["tokens"].size(), 8U);
  EXPECT_EQ(r["generation"]["tokens"][1], 263);
  EXPECT_TRUE(r["generation"]["text"].is_string());
}

// The measured GPU profile prices a decode (generate: 1 token per call) far above a teacher-forced run of
// the same model (one call of every token of the text), and the break-even against a chip moves with it.
TEST_F(LlmCli, MeasuredGpuPricesDecodeAboveTeacherForcing) {
  test::write_file(dir_ / "prompt.txt", "1 263 264");
  const std::vector<std::string> hw{"--hardware", "loihi", "--hardware", "h200-bf16-measured"};
  auto with_hw = [&](std::vector<std::string> args) {
    args.insert(args.end(), hw.begin(), hw.end());
    return args;
  };
  ASSERT_EQ(test::run_cli(with_hw({"generate", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--tokens",
                                   p("prompt.txt"), "--steps", "20", "--no-stop", "--coding", "ternary",
                                   "--out", p("gen"), "-q"})),
            0);
  ASSERT_EQ(test::run_cli(with_hw({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--text-file",
                                   p("text.txt"), "--coding", "ternary", "--out", p("tf"), "-q"})),
            0);
  const json g = read_json(dir_ / "gen" / "report.json");
  const json t = read_json(dir_ / "tf" / "report.json");
  EXPECT_EQ(g["run"]["tokens_per_call"], 1.0);
  EXPECT_EQ(t["run"]["tokens_per_call"], t["run"]["tokens"].get<double>());
  auto pj_per_mac = [](const json& r) {
    return r["totals"]["energy_pj"]["h200-bf16-measured"]["dense"]["total"]["nominal"].get<double>() /
           r["totals"]["dense_macs"].get<double>();
  };
  EXPECT_GT(pj_per_mac(g), 300.0);  // the 1-token point of the measurement: 325 pJ/MAC
  EXPECT_GT(pj_per_mac(g), 5.0 * pj_per_mac(t));
  const auto s_star = [](const json& r) {
    for (const auto& pair : r["break_even"]["pairs"]) {
      if (pair["spiking"] == "loihi" && pair["dense"] == "h200-bf16-measured")
        return pair["total"]["s_star"]["nominal"].get<double>();
    }
    return -1.0;
  };
  EXPECT_GT(s_star(g), s_star(t));
}

TEST_F(LlmCli, BadInputsFailWithoutOutput) {
  const std::string bytes = test::read_file(dir_ / "m.bin");
  test::write_file(dir_ / "cut.bin", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(test::run_cli({"run", "--model", p("cut.bin"), "--tokenizer", p("tok.bin"), "--prompt", "the",
                           "--out", p("o1"), "-q"}),
            1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "o1"));
  // No text given, two texts given, no tokenizer for text, an unknown site.
  EXPECT_EQ(
      test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--out", p("o2"), "-q"}), 1);
  EXPECT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--prompt", "a",
                           "--text-file", p("text.txt"), "--out", p("o3"), "-q"}),
            1);
  EXPECT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--prompt", "the", "--out", p("o4"), "-q"}), 1);
  EXPECT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--prompt", "the",
                           "--sites", "qkv,ffn", "--out", p("o5"), "-q"}),
            1);
  // A tokenizer of another vocabulary.
  test::write_file(dir_ / "tok512.bin", test::byte_tokenizer(512));
  EXPECT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok512.bin"), "--prompt", "the",
                           "--out", p("o6"), "-q"}),
            1);
  // Text longer than the context (48) unless --max-tokens keeps the first tokens.
  std::string long_text;
  for (int i = 0; i < 60; ++i)
    long_text += "the x ";
  EXPECT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--prompt", long_text,
                           "--out", p("o7"), "-q"}),
            1);
  for (const char* o : {"o2", "o3", "o4", "o5", "o6", "o7"})
    EXPECT_FALSE(std::filesystem::exists(dir_ / o)) << o;
  EXPECT_EQ(test::run_cli({"run", "--model", p("m.bin"), "--tokenizer", p("tok.bin"), "--prompt", long_text,
                           "--max-tokens", "48", "--out", p("o8"), "-q"}),
            0);
  EXPECT_EQ(read_json(dir_ / "o8" / "report.json")["run"]["tokens"], 48);
}

}  // namespace
}  // namespace spikesim
