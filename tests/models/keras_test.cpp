// The Keras HDF5 loader: a hand-computed model written with the C++ HDF5 writer, Keras 2 / Keras 3 layout
// files written by h5py (tests/models/keras_fixture.py) against an independent numpy forward pass, and
// clear errors for files that are not runnable models.

#include "models/keras.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/error.hpp"
#include "models/hdf5_file.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/execute.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

std::vector<float> run_dense(const std::filesystem::path& file, const std::vector<float>& x,
                             std::int64_t batch) {
  const Network net = load_keras(file);
  sim::LowerOptions options;
  options.batch = batch;
  const sim::Plan plan = sim::lower_network(net, options);
  sim::RunState state(plan);
  const auto y = sim::execute(plan, state, sim::PlanInput::of_values(x));
  return {y.begin(), y.end()};
}

Json layer(const std::string& cls, const std::string& name, Json cfg) {
  cfg["name"] = name;
  return Json{{"class_name", cls}, {"config", cfg}};
}

// A Keras 2 Sequential file in the old style (input shape on the first layer), written field by field.
void write_small_model(const std::filesystem::path& file, const Json& layers, bool with_conv_weights = true,
                       std::vector<std::int64_t> kernel_shape = {1, 1, 1, 2}) {
  const Json config = {{"class_name", "Sequential"},
                       {"config", {{"name", "sequential"}, {"layers", layers}}}};
  H5Writer h5(file);
  h5.write_attribute("/", "model_config", config.dump());
  h5.write_attribute("/", "keras_version", std::string("2.4.0"));
  h5.create_group("/model_weights");
  std::vector<std::string> names;
  for (const auto& l : layers)
    names.push_back(l["config"]["name"]);
  h5.write_attribute("/model_weights", "layer_names", names);
  if (with_conv_weights) {
    h5.create_group("/model_weights/conv2d");
    h5.write_attribute("/model_weights/conv2d", "weight_names",
                       std::vector<std::string>{"conv2d/kernel:0", "conv2d/bias:0"});
    h5.write<float>("/model_weights/conv2d/conv2d/kernel:0", {1, 2}, kernel_shape);
    h5.write<float>("/model_weights/conv2d/conv2d/bias:0", {0, -3}, {2});
  }
  h5.create_group("/model_weights/dense");
  h5.write_attribute("/model_weights/dense", "weight_names",
                     std::vector<std::string>{"dense/kernel:0", "dense/bias:0"});
  h5.write<float>("/model_weights/dense/dense/kernel:0", {1, 2, 3, 4, 5, 6, 7, 8}, {8, 1});
  h5.write<float>("/model_weights/dense/dense/bias:0", {0.5F}, {1});
  h5.commit();
}

Json small_layers() {
  return Json::array({layer("Conv2D", "conv2d",
                            {{"batch_input_shape", {nullptr, 2, 2, 1}},
                             {"filters", 2},
                             {"kernel_size", {1, 1}},
                             {"strides", {1, 1}},
                             {"padding", "valid"},
                             {"activation", "relu"},
                             {"use_bias", true}}),
                      layer("Flatten", "flatten", Json::object()),
                      layer("Dense", "dense", {{"units", 1}, {"activation", "linear"}})});
}

TEST(Keras, HandComputedChannelsLastModel) {
  test::ScratchDir dir;
  write_small_model(dir / "m.h5", small_layers());
  // conv 1x1: channel 0 = x, channel 1 = relu(2x - 3); channels-last flatten interleaves them:
  // [1, 0, 2, 1, 3, 3, 4, 5] . [1..8] + 0.5 = 112.5 (an NCHW flatten would give 97.5).
  const auto y = run_dense(dir / "m.h5", {1, 2, 3, 4}, 1);
  ASSERT_EQ(y.size(), 1U);
  EXPECT_FLOAT_EQ(y[0], 112.5F);
  const Network net = load_keras(dir / "m.h5");
  const sim::Plan plan = sim::lower_network(net);
  EXPECT_EQ(plan.input_shape, (std::vector<std::int64_t>{1, 2, 2, 1}));
  EXPECT_TRUE(plan.dynamic_batch);
  EXPECT_EQ(plan.sites(false), (std::vector<std::string>{"conv2d"}));  // the input layer stays dense
  EXPECT_EQ(plan.sites(true), (std::vector<std::string>{"dense"}));
}

std::string load_error(const std::filesystem::path& file) {
  try {
    const Network net = load_keras(file);
    (void)sim::lower_network(net);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Keras, BadFilesAreClearErrors) {
  test::ScratchDir dir;
  // Kernel of the wrong shape.
  write_small_model(dir / "shape.h5", small_layers(), true, {1, 1, 2, 1});
  EXPECT_THAT(load_error(dir / "shape.h5"),
              HasSubstr("layer 'conv2d' weight 'kernel' has shape [1, 1, 2, 1] but expected [1, 1, 1, 2]"));
  // Missing weights.
  write_small_model(dir / "missing.h5", small_layers(), false);
  EXPECT_THAT(load_error(dir / "missing.h5"), HasSubstr("layer 'conv2d': weight 'kernel' missing"));
  // Unsupported layers are listed together.
  Json layers = small_layers();
  layers.push_back(layer("LSTM", "lstm", {{"units", 4}}));
  layers.push_back(layer("Conv1D", "conv1d", {{"filters", 4}}));
  write_small_model(dir / "unsupported.h5", layers);
  const std::string e = load_error(dir / "unsupported.h5");
  EXPECT_THAT(e, HasSubstr("2 unsupported layers (Conv1D, LSTM)"));
  EXPECT_THAT(e, HasSubstr("layer 3 'lstm' (LSTM)"));
  EXPECT_THAT(e, HasSubstr("layer 4 'conv1d' (Conv1D)"));
  // A weights-only file.
  {
    H5Writer h5(dir / "weights.h5");
    h5.write_attribute("/", "layer_names", std::vector<std::string>{"dense"});
    h5.commit();
  }
  EXPECT_THAT(load_error(dir / "weights.h5"), HasSubstr("weights-only"));
  // Truncated HDF5.
  write_small_model(dir / "full.h5", small_layers());
  std::ifstream in(dir / "full.h5", std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::ofstream(dir / "cut.h5", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  EXPECT_NE(load_error(dir / "cut.h5"), "no error");
}

// Files exactly as Keras writes them, produced by h5py; reference outputs from an independent numpy pass.
class KerasFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string cmd = "/usr/bin/python3 " + std::string(SPIKESIM_SOURCE_DIR) +
                            "/tests/models/keras_fixture.py " + dir_.path().string() + " > /dev/null";
    const int status = std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << "SKIPPED: numpy / h5py not available";
    ASSERT_EQ(status, 0) << cmd;
  }
  void check(const std::string& model, const std::string& key) {
    const H5Reader expected(dir_ / "expected.h5");
    const auto x = expected.read<float>("/" + key + "/x");
    const auto want = expected.read<float>("/" + key + "/y");
    const auto batch = expected.shape("/" + key + "/x")[0];
    const auto got = run_dense(dir_ / model, x, batch);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 2e-5F) << model << " output " << i;
    // One sample at a time gives the same outputs.
    const auto per = static_cast<std::size_t>(x.size() / static_cast<std::size_t>(batch));
    const auto first = run_dense(
        dir_ / model, std::vector<float>(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(per)), 1);
    for (std::size_t i = 0; i < first.size(); ++i)
      EXPECT_NEAR(first[i], got[i], 1e-6F);
  }
  test::ScratchDir dir_;
};

TEST_F(KerasFixtures, Keras2SequentialCnnMatchesNumpy) {
  check("keras2_sequential.h5", "keras2");
}

// The Keras model through `spikesim eval`: channels-last 4-D IDX images (float32), NHWC by default.
TEST_F(KerasFixtures, EvalRunsKerasModelsOnFourDimensionalIdx) {
  const H5Reader expected(dir_ / "expected.h5");
  const auto x = expected.read<float>("/keras2/x");  // [3, 9, 8, 2]
  const auto y = expected.read<float>("/keras2/y");  // [3, 5]
  auto be32 = [](std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      s.push_back(static_cast<char>((v >> static_cast<unsigned>(shift)) & 0xFFU));
  };
  std::string images = {'\0', '\0', '\x0D', '\x04'};
  for (const std::uint32_t d : {3U, 9U, 8U, 2U})
    be32(images, d);
  for (const float v : x)
    be32(images, std::bit_cast<std::uint32_t>(v));
  std::string labels = {'\0', '\0', '\x08', '\x01'};
  be32(labels, 3);
  for (int i = 0; i < 3; ++i)
    labels.push_back(
        static_cast<char>(std::max_element(y.begin() + 5 * i, y.begin() + 5 * i + 5) - (y.begin() + 5 * i)));
  std::ofstream(dir_ / "images.idx", std::ios::binary) << images;
  std::ofstream(dir_ / "labels.idx", std::ios::binary) << labels;
  ASSERT_EQ(test::run_cli({"eval", "--model", (dir_ / "keras2_sequential.h5").string(), "--images",
                           (dir_ / "images.idx").string(), "--labels", (dir_ / "labels.idx").string(),
                           "--coding", "bitwise", "--out", (dir_ / "out").string(), "-q"}),
            0);
  std::ifstream in(dir_ / "out" / "report.json");
  const Json r = Json::parse(in);
  EXPECT_EQ(r["run"]["model_kind"], "keras");
  EXPECT_EQ(r["run"]["preprocess"]["layout"], "nhwc");
  EXPECT_EQ(r["accuracy"]["dense"]["correct"], 3);  // labels are the numpy reference's predictions
  EXPECT_EQ(r["run"]["coded_sites"], Json({"conv2d_1", "dense"}));
}

TEST_F(KerasFixtures, Keras3FunctionalResidualModelMatchesNumpy) {
  check("keras3_functional.h5", "keras3");
  const Network net = load_keras(dir_ / "keras3_functional.h5");
  const sim::Plan plan = sim::lower_network(net);
  EXPECT_EQ(plan.sites(true), (std::vector<std::string>{"conv2d_1", "dense"}));
}

}  // namespace
}  // namespace spikesim::models
