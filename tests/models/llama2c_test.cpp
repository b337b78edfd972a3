// llama2.c version-0 checkpoints: layout (tied and untied classifier, GQA), and every corruption gives an
// error naming the file and expected vs found.

#include "models/llama2c.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "models/error.hpp"
#include "sim/run/llm_run.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

using testing::HasSubstr;

double max_rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double e = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i)
    e = std::max(e, std::fabs(static_cast<double>(got[i]) - want[i]) / std::max(1.0, std::fabs(want[i])));
  return e;
}

std::vector<float> logits_of(const LlmModel& m, const std::vector<std::int32_t>& tokens) {
  const sim::Plan plan = sim::lower_llm(m);
  return sim::llm_logits(plan, tokens);
}

std::string error_of(const std::filesystem::path& file) {
  try {
    (void)load_llama2c(file);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

const std::vector<std::int32_t> tokens{1, 7, 42, 299, 3, 100, 100, 17, 250, 0, 5, 77};

TEST(Llama2c, TiedCheckpointMatchesReference) {
  const test::ScratchDir dir;
  const auto m = test::tiny_llm(test::tiny_config("llama2.c"), 11);
  test::write_llama2c(dir / "m.bin", m);
  const LlmModel model = load_llama2c(dir / "m.bin");
  EXPECT_EQ(model.config.rope, RopeStyle::interleaved);
  EXPECT_TRUE(model.config.tied_classifier);
  EXPECT_EQ(model.config.kv_dim(), 8);
  // The tensors are views into the memory map, not copies.
  EXPECT_EQ(model.network.tensor(embed_tensor_name).dtype, DType::f32);
  EXPECT_LT(max_rel_error(logits_of(model, tokens), test::reference_logits(m, tokens)), 1e-4);
}

TEST(Llama2c, UntiedClassifierHasNegativeVocab) {
  const test::ScratchDir dir;
  auto c = test::tiny_config("llama2.c");
  c.tied_classifier = false;
  const auto m = test::tiny_llm(c, 12);
  test::write_llama2c(dir / "m.bin", m);
  const LlmModel model = load_llama2c(dir / "m.bin");
  EXPECT_FALSE(model.config.tied_classifier);
  EXPECT_EQ(model.config.vocab_size, 300);
  EXPECT_LT(max_rel_error(logits_of(model, tokens), test::reference_logits(m, tokens)), 1e-4);
}

TEST(Llama2c, CorruptFilesNameFileAndSizes) {
  const test::ScratchDir dir;
  const auto m = test::tiny_llm(test::tiny_config("llama2.c"), 13);
  test::write_llama2c(dir / "m.bin", m);
  const std::string good = test::read_file(dir / "m.bin");

  test::write_file(dir / "cut.bin", good.substr(0, good.size() - 4));
  const std::string cut = error_of(dir / "cut.bin");
  EXPECT_THAT(cut, HasSubstr("cut.bin"));
  EXPECT_THAT(cut, HasSubstr("truncated llama2.c checkpoint"));
  EXPECT_THAT(cut, HasSubstr("expected " + std::to_string(good.size()) + " bytes"));
  EXPECT_THAT(cut, HasSubstr("found " + std::to_string(good.size() - 4)));

  test::write_file(dir / "long.bin", good + std::string(8, '\0'));
  EXPECT_THAT(error_of(dir / "long.bin"), HasSubstr("file size does not match the header"));

  // A header that lies about the model: hidden_dim 41 instead of 40.
  std::string lying = good;
  const std::int32_t hidden = 41;
  std::memcpy(lying.data() + 4, &hidden, 4);
  test::write_file(dir / "lying.bin", lying);
  const std::string lie = error_of(dir / "lying.bin");
  EXPECT_THAT(lie, HasSubstr("hidden_dim 41"));
  EXPECT_THAT(lie, HasSubstr("expected "));

  test::write_file(dir / "short.bin", good.substr(0, 10));
  EXPECT_THAT(error_of(dir / "short.bin"), HasSubstr("expected at least 28"));

  std::string zero = good;
  std::memset(zero.data() + 12, 0, 4);  // n_heads = 0
  test::write_file(dir / "zero.bin", zero);
  EXPECT_THAT(error_of(dir / "zero.bin"), HasSubstr("n_heads (num_attention_heads) must be positive"));

  std::string v1 = good;
  const std::uint32_t magic = 0x616b3432;
  std::memcpy(v1.data(), &magic, 4);
  test::write_file(dir / "v1.bin", v1);
  EXPECT_THAT(error_of(dir / "v1.bin"), HasSubstr("--version 0"));

  EXPECT_THAT(error_of(dir / "absent.bin"), HasSubstr("file not found"));
}

TEST(Llama2c, NonFiniteWeightIsNamedAtLowering) {
  const test::ScratchDir dir;
  auto m = test::tiny_llm(test::tiny_config("llama2.c"), 14);
  m.w[layer_tensor_name(1, "up_proj")][16 * 3 + 5] = std::numeric_limits<float>::quiet_NaN();
  test::write_llama2c(dir / "nan.bin", m);
  const LlmModel model = load_llama2c(dir / "nan.bin");
  try {
    (void)sim::lower_llm(model);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nan.bin"));
    EXPECT_THAT(e.what(), HasSubstr("model.layers.1.mlp.up_proj.weight"));
    EXPECT_THAT(e.what(), HasSubstr("NaN at [3, 5]"));
  }
}

}  // namespace
}  // namespace spikesim::models
