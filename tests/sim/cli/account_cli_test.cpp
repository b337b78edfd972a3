// spikesim account end to end, in-process: the report of a whole decoder from its config, and its errors.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;

TEST(AccountCli, WritesAReportForTheQwen25_7BConfig) {
  const test::ScratchDir dir;
  ASSERT_EQ(test::run_cli({"account", "--config",
                           std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/qwen2.5-7b.json", "--tokens",
                           "3", "--chunk", "2", "--coding", "bitwise", "--hardware", "loihi", "--hardware",
                           "h100-bf16-compute", "--out", (dir / "out").string(), "--quiet"}),
            0);
  std::ifstream in(dir / "out" / "report.json");
  const json r = json::parse(in);
  // The rows of a run of the same model: embed, per layer attn_norm, attn_in (q|k|v), rope, attention,
  // attn_out, attn_residual, mlp_norm, mlp_in (gate|up), swiglu, mlp_out, mlp_residual, then final_norm and
  // lm_head.
  ASSERT_EQ(r["layers"].size(), 1U + 28U * 11U + 2U);
  EXPECT_EQ(r["run"]["command"], "account");
  EXPECT_EQ(r["run"]["llm"]["dim"], 3584);
  EXPECT_EQ(r["run"]["coded_sites"], json({"layers.*.attn_in", "layers.*.attn_out", "layers.*.mlp_in"}));
  EXPECT_EQ(r["layers"][2]["name"], "layers.0.attn_in");
  EXPECT_EQ(r["layers"][4]["name"], "layers.0.attention");
  EXPECT_EQ(r["layers"][10]["name"], "layers.0.mlp_out");
  EXPECT_EQ(r["layers"][10]["coded"], false);
  EXPECT_EQ(r["layers"].back()["name"], "lm_head");
  const json& qkv = r["layers"][2];
  EXPECT_EQ(qkv["out_features"], 3584 + 512 + 512);
  EXPECT_EQ(qkv["elements"], 3 * 3584);  // the shared input is coded once
  EXPECT_EQ(qkv["sops"], qkv["spikes"].get<std::uint64_t>() * (3584U + 1024U));
  EXPECT_EQ(qkv["effective_sops"], qkv["sops"]);  // weights not materialised: dense-weight assumption
  EXPECT_GT(qkv["zero_fraction"].get<double>(), 0.5);
  EXPECT_TRUE(qkv["energy_pj"].contains("loihi"));
  // Every linear layer's dense MACs, attention over the causal context, and the cost table's MACs (norms:
  // 2 per element, RoPE: 2 per rotated feature); lm_head on every token.
  const std::uint64_t per_token_linear =
      28ULL * 3584ULL * (3584 + 512 + 512 + 3584 + 3 * 18944) + 3584ULL * 152064ULL;
  const std::uint64_t per_token_affine = 28ULL * (2 * 2 * 3584 + 2 * (3584 + 512)) + 2 * 3584;
  const std::uint64_t attention = 28ULL * 2 * 3584 * (1 + 2 + 3);
  EXPECT_EQ(r["totals"]["dense_macs"], 3 * (per_token_linear + per_token_affine) + attention);
  // Element-wise: SwiGLU (SiLU and product), two residual adds per layer, the attention softmax (3 per
  // score).
  const std::uint64_t per_token_elementwise = 28ULL * (2 * 18944 + 2 * 3584);
  const std::uint64_t softmax = 28ULL * 3 * 28 * (1 + 2 + 3);
  EXPECT_EQ(r["totals"]["elementwise_ops"], 3 * per_token_elementwise + softmax);
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "layers.csv"));
}

TEST(AccountCli, BadRequestsFailWithoutOutput) {
  const test::ScratchDir dir;
  const std::string config = std::string(SPIKESIM_SOURCE_DIR) + "/data/configs/qwen2.5-7b.json";
  EXPECT_NE(
      test::run_cli({"account", "--config", (dir / "none.json").string(), "--out", (dir / "a").string()}), 0);
  EXPECT_EQ(
      test::run_cli({"account", "--config", config, "--coded", "q,banana", "--out", (dir / "b").string()}),
      1);
  EXPECT_EQ(test::run_cli({"account", "--config", config, "--activations", (dir / "missing.h5").string(),
                           "--out", (dir / "c").string()}),
            1);
  for (const char* out : {"a", "b", "c"})
    EXPECT_FALSE(std::filesystem::exists(dir / out)) << out;
}

}  // namespace
}  // namespace spikesim
