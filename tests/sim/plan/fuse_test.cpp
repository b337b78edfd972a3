// The fusion pass and the site selection on an ONNX network (the same pass fuses q|k|v of a decoder):
// two MatMuls with constant weights reading one tensor become one synaptic site whose outputs are exactly
// the two projections', which codes its input once (spikes counted once) and delivers over both fan-outs.

#include "sim/plan/fuse.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/plan/select.hpp"
#include "sim/run/execute.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

using testing::ElementsAre;

// x [1, 2, 6] -> Relu -> (MatMul A [6, 4], MatMul B [6, 3]) -> Concat -> y [1, 2, 7]
std::filesystem::path two_projections(const test::ScratchDir& dir) {
  test::OnnxBuilder b;
  b.input("x", {1, 2, 6});
  b.init("a", {6, 4}, test::gaussian(24, 3));
  b.init("bw", {6, 3}, test::gaussian(18, 4));
  b.node("Relu", {"x"}, {"h"});
  b.node("MatMul", {"h", "a"}, {"ya"}, "proj_a");
  b.node("MatMul", {"h", "bw"}, {"yb"}, "proj_b");
  auto& c = b.node("Concat", {"ya", "yb"}, {"y"});
  test::OnnxBuilder::attr(c, "axis", std::int64_t{-1});
  b.output("y");
  const auto file = dir / "two.onnx";
  b.save(file);
  return file;
}

TEST(Fusion, ProjectionsReadingOneTensorAreOneSite) {
  const test::ScratchDir dir;
  const models::Network net = models::load_onnx(two_projections(dir));
  LowerOptions options;
  options.sites.spec = "all";
  const Plan plan = lower_network(net, options);
  EXPECT_THAT(plan.sites(true), ElementsAre("proj_a|proj_b"));
  const Step* site = nullptr;
  for (const Step& s : plan.steps)
    if (s.synaptic()) site = &s;
  ASSERT_NE(site, nullptr);
  EXPECT_THAT(site->members, ElementsAre("proj_a", "proj_b"));
  EXPECT_EQ(site->out.size(), 2U);
  EXPECT_EQ(site->out_per_row, 7);

  // Dense outputs equal the unfused model's (numpy semantics written out).
  const std::vector<float> x = test::gaussian(12, 5);
  RunState state(plan);
  const auto y = execute(plan, state, PlanInput::of_values(x));
  const auto a = test::gaussian(24, 3);
  const auto bw = test::gaussian(18, 4);
  for (int r = 0; r < 2; ++r) {
    for (int o = 0; o < 7; ++o) {
      double want = 0.0;
      for (int j = 0; j < 6; ++j) {
        const double h = std::max(0.0F, x[static_cast<std::size_t>(r * 6 + j)]);
        want += h * (o < 4 ? a[static_cast<std::size_t>(j * 4 + o)]
                           : bw[static_cast<std::size_t>(j * 3 + o - 4)]);
      }
      EXPECT_NEAR(y[static_cast<std::size_t>(r * 7 + o)], want, 1e-5) << r << " " << o;
    }
  }

  // Spiking: one coded input of 6 neurons per row, SOPs over both projections' 7 synapses.
  SiteConfig cfg;
  cfg.coding.scheme = coding::Scheme::ternary;
  std::vector<LayerRecord> records = plan_records(plan);
  ExecOptions spiking;
  spiking.site = &cfg;
  (void)execute(plan, state, PlanInput::of_values(x), spiking, &records);
  for (const LayerRecord& r : records) {
    if (!r.coded) continue;
    EXPECT_EQ(r.counters.elements, 12U);
    EXPECT_EQ(r.counters.sops, r.counters.spikes * 7U);
    EXPECT_EQ(r.counters.dense_macs, 2U * 6U * 7U);
    EXPECT_EQ(r.spikes_per_input.size(), 6U);
  }
}

TEST(Selection, PatternsSelectByProjectionNameAndUnknownNamesAreErrors) {
  const test::ScratchDir dir;
  const models::Network net = models::load_onnx(two_projections(dir));
  Plan plan = lower_network(net);
  // Fed by the model input through Relu only: the input layer, dense by default.
  EXPECT_TRUE(plan.sites(true).empty());
  select_sites(plan, {"proj_b", false, {}});  // a member's name selects the fused site
  EXPECT_THAT(plan.sites(true), ElementsAre("proj_a|proj_b"));
  select_sites(plan, {"default", true, {}});  // --code-input-layer
  EXPECT_THAT(plan.sites(true), ElementsAre("proj_a|proj_b"));
  select_sites(plan, {"all", false, {"proj_a|proj_b"}});  // --dense-site
  EXPECT_TRUE(plan.sites(true).empty());
  EXPECT_THROW(select_sites(plan, {"proj_c", false, {}}), models::ModelError);
  EXPECT_THROW(select_sites(plan, {"all", false, {"nope"}}), models::ModelError);
  EXPECT_TRUE(glob_match("layers.*.attn_in", "layers.12.attn_in"));
  EXPECT_FALSE(glob_match("layers.?.attn_in", "layers.12.attn_in"));
}

}  // namespace
}  // namespace spikesim::sim
