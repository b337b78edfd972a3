// The project's own default CNN (data/models/fashion_cnn.onnx, trained by scripts/train_cnn.py): spikesim's
// dense run reproduces PyTorch's logits stored in the model card, and its accuracy on the first test images.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "models/idx.hpp"
#include "models/onnx.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/execute.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;

const std::filesystem::path models_dir = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data" / "models";
const std::filesystem::path fashion = "/usr/share/datasets/fashion-mnist";

json card() {
  std::ifstream in(models_dir / "fashion_cnn.json");
  return json::parse(in);
}

TEST(FashionCnn, DenseRunReproducesPytorchLogits) {
  if (!std::filesystem::exists(fashion / "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "SKIPPED: Debian package dataset-fashion-mnist not installed";
  const json c = card();
  const json& pre = c["input"]["preprocess"];
  const models::Network net = models::load_onnx(models_dir / c["file"].get<std::string>());
  const sim::Plan plan = sim::lower_network(net);
  EXPECT_TRUE(plan.dynamic_batch);
  const json& ref = c["reference_logits"];
  const auto n = ref["images"].get<std::int64_t>();
  const models::Dataset data = models::load_idx_dataset(fashion / "t10k-images-idx3-ubyte.gz", "", n);
  models::Preprocess p;
  p.scale = models::parse_scale(pre["scale"].get<std::string>());
  p.mean = {pre["mean"].get<double>()};
  p.std = {pre["std"].get<double>()};
  sim::RunState state(plan);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<float> x(784);
    models::preprocess(data, i, 1, p, x);
    const auto y = sim::execute(plan, state, sim::PlanInput::of_values(x));
    ASSERT_EQ(y.size(), 10U);
    for (std::size_t k = 0; k < 10; ++k) {
      const auto want = ref["logits"][static_cast<std::size_t>(i)][k].get<float>();
      EXPECT_NEAR(y[k], want, 1e-4F * std::max(1.0F, std::abs(want))) << "image " << i << " logit " << k;
    }
  }
}

TEST(FashionCnn, EvalOnTheFirst1000TestImages) {
  if (!std::filesystem::exists(fashion / "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "SKIPPED: Debian package dataset-fashion-mnist not installed";
  const json c = card();
  const json& pre = c["input"]["preprocess"];
  test::ScratchDir dir;
  ASSERT_EQ(test::run_cli({"eval",
                           "--model",
                           (models_dir / "fashion_cnn.onnx").string(),
                           "--images",
                           (fashion / "t10k-images-idx3-ubyte.gz").string(),
                           "--labels",
                           (fashion / "t10k-labels-idx1-ubyte.gz").string(),
                           "--scale",
                           "1/255",
                           "--mean",
                           std::to_string(pre["mean"].get<double>()),
                           "--std",
                           std::to_string(pre["std"].get<double>()),
                           "--limit",
                           "1000",
                           "--batch",
                           "50",
                           "--out",
                           (dir / "out").string(),
                           "-q"}),
            0);
  std::ifstream in(dir / "out" / "report.json");
  const json r = json::parse(in);
  // The card's full-test-set accuracy is a good guide for the first 1000 images too.
  const double dense = r["accuracy"]["dense"]["top1"].get<double>();
  EXPECT_NEAR(dense, c["dense_test_accuracy_pytorch"].get<double>(), 0.03);
  EXPECT_GE(r["accuracy"]["agreement"].get<double>(), 0.95);
  EXPECT_EQ(r["run"]["coded_sites"].size(), 3U);  // second conv and both linear layers
}

}  // namespace
}  // namespace spikesim
