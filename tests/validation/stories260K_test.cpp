// stories260K (Karpathy's tinyllamas, llama2.c) against ../shared/data/golden/stories260K_greedy.json, an
// independent float64 reference: all 256 greedy tokens from BOS exactly, the decoded text, and the logits of
// the first 8 positions within 1e-4 relative, through the llama2.c loader and through the safetensors copy
// written by `spikesim convert`.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/hf_llm.hpp"
#include "models/llama2c.hpp"
#include "models/tokenizer.hpp"
#include "sim/run/llm_run.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

struct Golden {
  std::filesystem::path model;
  std::filesystem::path tokenizer;
  nlohmann::json json;
};

std::optional<Golden> golden() {
  const auto model = test::shared_data("llama2c/stories260K.bin");
  const auto tok = test::shared_data("llama2c/tok512.bin");
  const auto gold = test::shared_data("golden/stories260K_greedy.json");
  if (!model || !tok || !gold) return std::nullopt;
  std::ifstream in(*gold);
  return Golden{*model, *tok, nlohmann::json::parse(in)};
}

// Largest |a - b| / max(|b|, 1) over the first 8 positions' logits, and the largest abs error.
struct LogitErrors {
  double max_rel = 0.0;
  double max_abs = 0.0;
};

LogitErrors check_golden(const models::LlmModel& model, const Golden& g) {
  const sim::Plan plan = sim::lower_llm(model);
  const auto golden_tokens = g.json["greedy_tokens"].get<std::vector<std::int32_t>>();
  const std::vector<std::int32_t> prompt{g.json["bos"].get<std::int32_t>()};

  // Greedy generation with the KV cache, token by token: every token exactly.
  const auto tokens = sim::llm_generate(
      plan, prompt,
      {static_cast<std::int64_t>(golden_tokens.size()) - 1, true, model.config.bos_id, model.config.eos_id});
  EXPECT_EQ(tokens, golden_tokens);

  // Logits of the first positions, teacher-forced in one batch.
  const auto& ref = g.json["logits_first_positions"];
  const auto n = ref.size();
  const auto vocab = static_cast<std::size_t>(model.config.vocab_size);
  const std::vector<float> logits = sim::llm_logits(plan, std::span(golden_tokens).first(n));
  LogitErrors e;
  for (std::size_t p = 0; p < n; ++p) {
    EXPECT_EQ(ref[p].size(), vocab);
    for (std::size_t v = 0; v < vocab; ++v) {
      const double want = ref[p][v].get<double>();
      const double diff = std::fabs(static_cast<double>(logits[p * vocab + v]) - want);
      e.max_abs = std::max(e.max_abs, diff);
      e.max_rel = std::max(e.max_rel, diff / std::max(std::fabs(want), 1.0));
    }
  }
  EXPECT_LT(e.max_rel, 1e-4);
  return e;
}

TEST(Stories260K, GoldenThroughLlama2cLoader) {
  const auto g = golden();
  if (!g)
    GTEST_SKIP() << "SKIPPED: ../shared/data/llama2c/stories260K.bin, tok512.bin or the golden file absent";
  const models::LlmModel model = models::load_llama2c(g->model);
  EXPECT_EQ(model.config.dim, g->json["config"]["dim"].get<std::int64_t>());
  EXPECT_EQ(model.config.n_kv_heads, g->json["config"]["n_kv_heads"].get<std::int64_t>());
  EXPECT_TRUE(model.config.tied_classifier);
  const LogitErrors e = check_golden(model, *g);
  std::cout << "stories260K llama2.c loader: logits max |err| / max(|ref|, 1) = " << e.max_rel
            << ", max |err| = " << e.max_abs << "\n";

  const auto tok = models::Tokenizer::load(g->tokenizer, model.config.vocab_size);
  const auto tokens = g->json["greedy_tokens"].get<std::vector<std::int32_t>>();
  EXPECT_EQ(tok.decode(tokens), g->json["text"].get<std::string>());
}

TEST(Stories260K, GoldenThroughConvertedSafetensors) {
  const auto g = golden();
  if (!g)
    GTEST_SKIP() << "SKIPPED: ../shared/data/llama2c/stories260K.bin, tok512.bin or the golden file absent";
  const test::ScratchDir dir;
  ASSERT_EQ(test::run_cli({"convert", "--model", g->model.string(), "--tokenizer", g->tokenizer.string(),
                           "--out", (dir / "hf").string(), "-q"}),
            0);
  const models::LlmModel model = models::load_hf_llm(dir / "hf");
  EXPECT_EQ(model.config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(model.config.rope, models::RopeStyle::half);
  const LogitErrors e = check_golden(model, *g);
  std::cout << "stories260K converted safetensors: logits max |err| / max(|ref|, 1) = " << e.max_rel
            << ", max |err| = " << e.max_abs << "\n";
  // The tokenizer travelled with it.
  const auto tok = models::Tokenizer::load(dir / "hf" / "tokenizer.bin", model.config.vocab_size);
  EXPECT_EQ(tok.decode(g->json["greedy_tokens"].get<std::vector<std::int32_t>>()),
            g->json["text"].get<std::string>());
}

TEST(Stories260K, TokenizerEncodesLikeRunC) {
  const auto g = golden();
  if (!g) GTEST_SKIP() << "SKIPPED: ../shared/data/llama2c/tok512.bin absent";
  const auto tok = models::Tokenizer::load(g->tokenizer, 512);
  const std::string text = g->json["text"].get<std::string>();
  const auto ids = tok.encode(text, true, false);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok.decode(ids), text);
  // The model's own greedy text is its tokenizer's canonical encoding, piece for piece.
  EXPECT_EQ(ids, g->json["greedy_tokens"].get<std::vector<std::int32_t>>());
  // The dummy prefix: " Once" is one piece, "<0x0A>" pieces decode to newlines.
  EXPECT_EQ(tok.piece(ids[1]).front(), ' ');
  EXPECT_EQ(tok.encode("", true, false), std::vector<std::int32_t>{1});
}

}  // namespace
}  // namespace spikesim
