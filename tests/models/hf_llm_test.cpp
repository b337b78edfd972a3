// Hugging Face checkpoints (config.json + safetensors): Qwen2 with q/k/v biases and Llama with GQA and an
// untied classifier, written by the test itself and checked against an independent float64 forward pass;
// F32 and BF16; sharded files; llama2.c -> convert -> safetensors computes the same logits; corrupt
// checkpoints give errors naming file, tensor, expected vs found.

#include "models/hf_llm.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "models/error.hpp"
#include "models/llama2c.hpp"
#include "sim/run/llm_run.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

using nlohmann::json;
using testing::HasSubstr;

const std::vector<std::int32_t> tokens{1, 9, 260, 33, 33, 4, 150, 299, 2, 71, 18, 64, 200};

std::vector<float> logits_of(const LlmModel& m, const std::vector<std::int32_t>& t = tokens) {
  const sim::Plan plan = sim::lower_llm(m);
  return sim::llm_logits(plan, t);
}

double max_rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double e = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i)
    e = std::max(e, std::fabs(static_cast<double>(got[i]) - want[i]) / std::max(1.0, std::fabs(want[i])));
  return e;
}

std::string error_of(const std::filesystem::path& model) {
  try {
    const LlmModel m = load_hf_llm(model);
    (void)sim::lower_llm(m);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

TEST(HfLlm, Qwen2WithBiasesRoundTrips) {
  const test::ScratchDir dir;
  const auto m = test::tiny_llm(test::tiny_config("Qwen2ForCausalLM"), 21);
  test::write_hf(dir / "qwen", m);
  const LlmModel model = load_hf_llm(dir / "qwen");
  EXPECT_EQ(model.config.architecture, "Qwen2ForCausalLM");
  EXPECT_TRUE(model.config.qkv_bias);
  EXPECT_FALSE(model.config.o_bias);
  EXPECT_LT(max_rel_error(logits_of(model), test::reference_logits(m, tokens)), 1e-4);
  // The same through the .safetensors file name and through config.json.
  EXPECT_EQ(logits_of(load_hf_llm(dir / "qwen" / "model.safetensors")), logits_of(model));
  EXPECT_EQ(logits_of(load_hf_llm(dir / "qwen" / "config.json")), logits_of(model));
}

TEST(HfLlm, LlamaUntiedBf16MatchesReferenceOnRoundedWeights) {
  const test::ScratchDir dir;
  auto c = test::tiny_config("LlamaForCausalLM");
  c.tied_classifier = false;
  auto m = test::tiny_llm(c, 22);
  test::write_hf(dir / "bf16", m, "BF16");
  for (auto& [name, v] : m.w) {  // the reference sees the rounded weights
    for (auto& x : v)
      x = std::bit_cast<float>(static_cast<std::uint32_t>(test::bf16_of(x)) << 16U);
  }
  const LlmModel model = load_hf_llm(dir / "bf16");
  EXPECT_EQ(model.network.tensor(lm_head_tensor_name).dtype, DType::bf16);
  EXPECT_LT(max_rel_error(logits_of(model), test::reference_logits(m, tokens)), 1e-4);
}

TEST(HfLlm, ShardedCheckpointLoads) {
  const test::ScratchDir dir;
  const auto m = test::tiny_llm(test::tiny_config("LlamaForCausalLM"), 23);
  test::write_hf(dir / "one", m);
  // Split the tensors over two files with an index.
  test::TinyLlm a = m;
  test::TinyLlm b = m;
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  bool first = true;
  for (const auto& [name, v] : m.w) {
    (first ? b : a).w.erase(name);
    index["weight_map"][name] =
        first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    first = !first;
  }
  test::write_hf(dir / "a", a);
  test::write_hf(dir / "b", b);
  std::filesystem::create_directories(dir / "sharded");
  std::filesystem::copy_file(dir / "one" / "config.json", dir / "sharded" / "config.json");
  std::filesystem::copy_file(dir / "a" / "model.safetensors",
                             dir / "sharded" / "model-00001-of-00002.safetensors");
  std::filesystem::copy_file(dir / "b" / "model.safetensors",
                             dir / "sharded" / "model-00002-of-00002.safetensors");
  test::write_file(dir / "sharded" / "model.safetensors.index.json", index.dump());
  EXPECT_EQ(logits_of(load_hf_llm(dir / "sharded")), logits_of(load_hf_llm(dir / "one")));
}

TEST(HfLlm, ConvertedLlama2cComputesTheSameLogits) {
  // llama2.c rotates adjacent pairs; the converted checkpoint has its q/k rows permuted for rotate_half.
  const test::ScratchDir dir;
  for (const char* dtype : {"F32", "F16", "BF16"}) {
    SCOPED_TRACE(dtype);
    // Weights already representable in the target dtype, so the conversion itself must be exact.
    auto m = test::tiny_llm(test::tiny_config("llama2.c"), 24);
    for (auto& [name, v] : m.w) {
      for (auto& x : v) {
        const std::uint16_t h = std::string(dtype) == "F16" ? float_to_half(x) : float_to_bf16(x);
        const DType t = std::string(dtype) == "F16" ? DType::f16 : DType::bf16;
        if (std::string(dtype) != "F32") x = Tensor{"x", {1}, t, std::as_bytes(std::span(&h, 1))}.to_f32()[0];
      }
    }
    const auto out = dir / dtype;
    std::filesystem::create_directories(out);
    test::write_llama2c(out / "m.bin", m);
    const LlmModel source = load_llama2c(out / "m.bin");
    test::write_file(out / "config.json", hf_config_json(source.config, dtype));
    test::write_file(out / "model.safetensors", safetensors_bytes(hf_tensors(source, dtype)));
    const LlmModel converted = load_hf_llm(out);
    EXPECT_EQ(converted.config.rope, RopeStyle::half);
    EXPECT_EQ(converted.network.tensor(embed_tensor_name).dtype, std::string(dtype) == "F32"   ? DType::f32
                                                                 : std::string(dtype) == "F16" ? DType::f16
                                                                                               : DType::bf16);
    const std::vector<float> want = logits_of(source);
    const std::vector<float> got = logits_of(converted);
    double err = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i)
      err = std::max(err,
                     std::fabs(static_cast<double>(got[i] - want[i])) / std::max(1.0F, std::fabs(want[i])));
    EXPECT_LT(err, 1e-5);
  }
}

TEST(HfLlm, RopeHalfPermutationMatchesTransformersConvertScript) {
  // transformers: w.view(heads, d/2, 2, dim).transpose(1, 2): new row (h, t, i) = old row (h, i, t).
  EXPECT_EQ(rope_half_permutation(2, 4), (std::vector<std::int64_t>{0, 2, 1, 3, 4, 6, 5, 7}));
}

TEST(HfLlm, CorruptCheckpointsNameFileTensorAndSizes) {
  const test::ScratchDir dir;
  const auto m = test::tiny_llm(test::tiny_config("Qwen2ForCausalLM"), 25);
  const std::string up = layer_tensor_name(1, "up_proj");
  const std::string qb = layer_tensor_name(0, "q_proj", "bias");

  test::write_hf(dir / "missing", m, "F32", [&](json& h) { h.erase(up); });
  std::string e = error_of(dir / "missing");
  EXPECT_THAT(e, HasSubstr("model.safetensors: tensor '" + up + "' missing (expected shape [40, 16]"));

  test::write_hf(dir / "nobias", m, "F32", [&](json& h) { h.erase(qb); });
  EXPECT_THAT(error_of(dir / "nobias"), HasSubstr("tensor '" + qb + "' missing"));

  test::write_hf(dir / "shape", m, "F32", {}, [](json& c) { c["intermediate_size"] = 41; });
  e = error_of(dir / "shape");
  EXPECT_THAT(e, HasSubstr("model.safetensors"));
  EXPECT_THAT(e, HasSubstr("has shape [40, 16] but expected [41, 16]"));

  test::write_hf(dir / "lying", m, "F32", [&](json& h) { h[up]["data_offsets"][1] = 1u << 30; });
  e = error_of(dir / "lying");
  EXPECT_THAT(e, HasSubstr("tensor '" + up + "': data_offsets"));
  EXPECT_THAT(e, HasSubstr("reach past the data section"));

  test::write_hf(dir / "dtype", m, "F32", [&](json& h) { h[up]["dtype"] = "I32"; });
  EXPECT_THAT(error_of(dir / "dtype"),
              HasSubstr("tensor '" + up + "' has dtype I32; spikesim reads F32, F16 and BF16"));

  test::write_hf(dir / "unknown", m, "F32", [&](json& h) { h[up]["dtype"] = "F12"; });
  EXPECT_THAT(error_of(dir / "unknown"), HasSubstr("unknown dtype 'F12'"));

  test::write_hf(dir / "arch", m, "F32", {}, [](json& c) { c["architectures"] = {"GPT2LMHeadModel"}; });
  EXPECT_THAT(error_of(dir / "arch"), HasSubstr("config.json: architecture 'GPT2LMHeadModel' not supported"));

  test::write_hf(dir / "key", m, "F32", {}, [](json& c) { c.erase("num_hidden_layers"); });
  EXPECT_THAT(error_of(dir / "key"), HasSubstr("config.json: key 'num_hidden_layers' missing"));

  test::write_hf(dir / "scaling", m, "F32", {}, [](json& c) { c["rope_scaling"] = {{"type", "llama3"}}; });
  EXPECT_THAT(error_of(dir / "scaling"), HasSubstr("rope_scaling"));

  test::write_hf(dir / "gqa", m, "F32", {}, [](json& c) { c["num_key_value_heads"] = 3; });
  EXPECT_THAT(error_of(dir / "gqa"), HasSubstr("n_heads 4 is not a multiple of n_kv_heads 3"));

  test::write_hf(dir / "truncated", m);
  const std::string bytes = test::read_file(dir / "truncated" / "model.safetensors");
  test::write_file(dir / "truncated" / "model.safetensors", bytes.substr(0, bytes.size() - 100));
  EXPECT_THAT(error_of(dir / "truncated"), HasSubstr("reach past the data section"));

  std::filesystem::create_directories(dir / "noconfig");
  std::filesystem::copy_file(dir / "missing" / "model.safetensors", dir / "noconfig" / "model.safetensors");
  EXPECT_THAT(error_of(dir / "noconfig"), HasSubstr("config.json not found"));
}

}  // namespace
}  // namespace spikesim::models
