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
  ASSERT_EQ(r["layers"].size(), 28U * 8U + 1U);
  EXPECT_EQ(r["run"]["command"], "account");
  EXPECT_EQ(r["run"]["shape"]["hidden_size"], 3584);
  EXPECT_EQ(r["run"]["coded_projections"],
            json({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"}));
  EXPECT_EQ(r["layers"][0]["name"], "layers.0.q_proj");
  EXPECT_EQ(r["layers"][3]["name"], "layers.0.attention");
  EXPECT_EQ(r["layers"][7]["name"], "layers.0.down_proj");
  EXPECT_EQ(r["layers"][7]["coded"], false);
  EXPECT_EQ(r["layers"].back()["name"], "lm_head");
  const json& q = r["layers"][0];
  EXPECT_EQ(q["out_features"], 3584);
  EXPECT_EQ(q["sops"], q["spikes"].get<std::uint64_t>() * 3584U);
  EXPECT_EQ(q["effective_sops"], q["sops"]);  // weights not materialised: dense-weight assumption
  EXPECT_GT(q["zero_fraction"].get<double>(), 0.5);
  EXPECT_TRUE(q["energy_pj"].contains("loihi"));
  // Totals: every linear layer's dense MACs plus attention; lm_head on every token.
  const std::uint64_t per_token_linear =
      28ULL * 3584ULL * (3584 + 512 + 512 + 3584 + 3 * 18944) + 3584ULL * 152064ULL;
  const std::uint64_t attention = 28ULL * 2 * 3584 * (1 + 2 + 3);
  EXPECT_EQ(r["totals"]["dense_macs"], 3 * per_token_linear + attention);
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
