// The project's own default LLM (data/models/kjv-llama, trained by scripts/train_llm.py with PyTorch) against
// the float64 PyTorch forward pass the training script saved beside it: logits, greedy continuation, and
// the llama2.c-style tokenization of the prompt and of data/text/psalm.txt by the script's own encoder.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/hf_llm.hpp"
#include "models/tokenizer.hpp"
#include "sim/run/llm_run.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

const std::filesystem::path model_dir =
    std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data" / "models" / "kjv-llama";

nlohmann::json reference() {
  std::ifstream in(model_dir / "reference_logits.json");
  return nlohmann::json::parse(in);
}

TEST(DefaultLlm, MatchesPyTorchReference) {
  const models::LlmModel model = models::load_hf_llm(model_dir);
  EXPECT_EQ(model.network.tensor(models::embed_tensor_name).dtype, models::DType::f16);
  EXPECT_LE(model.config.parameter_count(), 5'000'000);
  const nlohmann::json ref = reference();
  const auto tokens = ref["tokens"].get<std::vector<std::int32_t>>();
  const sim::Plan plan = sim::lower_llm(model);
  const auto vocab = static_cast<std::size_t>(model.config.vocab_size);
  const std::vector<float> logits = sim::llm_logits(plan, tokens);
  double max_rel = 0.0;
  for (std::size_t p = 0; p < ref["logits"].size(); ++p) {
    for (std::size_t v = 0; v < vocab; ++v) {
      const double want = ref["logits"][p][v].get<double>();
      max_rel = std::max(max_rel, std::fabs(logits[p * vocab + v] - want) / std::max(1.0, std::fabs(want)));
    }
  }
  EXPECT_LT(max_rel, 1e-4);
  const auto greedy = ref["greedy_tokens"].get<std::vector<std::int32_t>>();
  const auto ours = sim::llm_generate(
      plan, tokens, {static_cast<std::int64_t>(greedy.size() - tokens.size()), false, 1, 2});
  EXPECT_EQ(ours, greedy);
}

TEST(DefaultLlm, TokenizerMatchesTheTrainingScript) {
  const nlohmann::json ref = reference();
  const auto tok = models::Tokenizer::load(model_dir / "tokenizer.bin", 2048);
  EXPECT_EQ(tok.encode(ref["prompt"].get<std::string>(), true, false),
            ref["tokens"].get<std::vector<std::int32_t>>());
  std::ifstream in(std::filesystem::path(SPIKESIM_SOURCE_DIR) / ref["text_file"].get<std::string>());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!text.empty() && text.back() == '\n') text.pop_back();
  const auto ids = tok.encode(text, true, false);
  EXPECT_EQ(ids, ref["text_file_tokens"].get<std::vector<std::int32_t>>());
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_EQ(tok.decode(ref["greedy_tokens"].get<std::vector<std::int32_t>>()),
            ref["greedy_text"].get<std::string>());
}

}  // namespace
}  // namespace spikesim

namespace spikesim {
namespace {

// Layers wide enough for the threaded dense and event-driven paths: one report whatever the thread count.
TEST(DefaultLlm, ReportIsIdenticalWhateverTheThreadCount) {
  const test::ScratchDir dir;
  std::vector<std::string> reports;
  for (const char* threads : {"1", "2", "3"}) {
    ASSERT_EQ(test::run_cli({"--threads", threads, "run", "--model", model_dir.string(), "--text-file",
                             (std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data/text/psalm.txt").string(),
                             "--max-tokens", "96", "--coding", "bitwise", "--sites", "all", "--out",
                             (dir / threads).string(), "-q"}),
              0);
    reports.push_back(test::read_file(dir / threads / "report.json"));
  }
  EXPECT_EQ(reports[0], reports[1]);
  EXPECT_EQ(reports[0], reports[2]);
}

}  // namespace
}  // namespace spikesim
