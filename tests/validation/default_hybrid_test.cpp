// The project's own SpikingBrain-architecture model (data/models/kjv-gla-swa: GLA + sliding-window layers,
// trained by scripts/train_llm.py --arch gla_swa) against the independent float64 numpy reference
// (scripts/spikingbrain_reference.py) the training script ran on the saved file: every prompt position's
// logits, the reference's greedy continuation, and the training script's tokenization.

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "models/hf_llm.hpp"
#include "models/tokenizer.hpp"
#include "sim/run/llm_run.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

const std::filesystem::path model_dir =
    std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data" / "models" / "kjv-gla-swa";

nlohmann::json reference() {
  return nlohmann::json::parse(test::read_file(model_dir / "reference_logits.json"));
}

TEST(DefaultHybrid, MatchesTheNumpyReference) {
  const models::LlmModel model = models::load_hf_llm(model_dir);
  EXPECT_EQ(model.config.architecture, "GLAswaForCausalLM");
  EXPECT_EQ(model.network.tensor(models::gla_swa_embed_tensor_name).dtype, models::DType::f16);
  ASSERT_EQ(model.config.layer_kinds.size(), 6U);
  for (std::size_t l = 0; l < 6; ++l)
    EXPECT_EQ(model.config.layer_kinds[l],
              l % 2 == 1 ? models::LayerKind::attention : models::LayerKind::gla);
  const nlohmann::json ref = reference();
  EXPECT_LT(ref["torch_vs_reference_max_abs"].get<double>(), 1e-10);  // the trainer's torch == numpy
  const auto tokens = ref["tokens"].get<std::vector<std::int32_t>>();
  const sim::Plan plan = sim::lower_llm(model);
  const auto vocab = static_cast<std::size_t>(model.config.vocab_size);
  const std::vector<float> logits = sim::llm_logits(plan, tokens);
  ASSERT_EQ(ref["reference_logits"].size(), tokens.size());
  double worst = 0.0;
  for (std::size_t p = 0; p < tokens.size(); ++p) {
    for (std::size_t v = 0; v < vocab; ++v) {
      const double want = ref["reference_logits"][p][v].get<double>();
      worst = std::max(worst, std::fabs(logits[p * vocab + v] - want) / std::max(1.0, std::fabs(want)));
    }
  }
  EXPECT_LT(worst, 1e-4);
  const auto greedy = ref["reference_greedy_tokens"].get<std::vector<std::int32_t>>();
  const auto ours = sim::llm_generate(
      plan, tokens, {static_cast<std::int64_t>(greedy.size() - tokens.size()), false, 1, 2});
  EXPECT_EQ(ours, greedy);
}

TEST(DefaultHybrid, TokenizerMatchesTheTrainingScript) {
  const nlohmann::json ref = reference();
  const auto tok = models::Tokenizer::load(model_dir / "tokenizer.bin", 2048);
  EXPECT_EQ(tok.encode(ref["prompt"].get<std::string>(), true, false),
            ref["tokens"].get<std::vector<std::int32_t>>());
}

}  // namespace
}  // namespace spikesim
