// Trace loading: a good trace round-trips; every kind of bad input is a ModelError naming file, layer,
// tensor.

#include "models/trace.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "models/hdf5_file.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

std::string load_error(const std::filesystem::path& file) {
  try {
    (void)load_trace(file);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Trace, LoadsLayersInIndexOrder) {
  const test::ScratchDir dir;
  const auto file = dir / "t.h5";
  test::write_trace(file, {test::random_layer("b_second", 1, 4, 8, 3, 1),
                           test::random_layer("a_first", 0, 4, 8, 5, 2, false)});
  const Network net = load_trace(file);
  std::vector<std::string> linear;
  for (const Vertex v : net.execution_order()) {
    if (net.graph[v].kind == OpKind::linear) linear.push_back(net.graph[v].name);
  }
  EXPECT_EQ(linear, (std::vector<std::string>{"a_first", "b_second"}));
  EXPECT_EQ(net.tensor("/layers/b_second/weight").shape, (std::vector<std::int64_t>{3, 8}));
  EXPECT_EQ(net.tensors.count("/layers/a_first/bias"), 0U);
  EXPECT_EQ(net.tensor("/layers/b_second/bias").numel(), 3);
}

TEST(Trace, MissingFileAndNonHdf5) {
  const test::ScratchDir dir;
  EXPECT_NE(load_error(dir / "absent.h5").find("absent.h5: file not found"), std::string::npos);
  std::ofstream(dir / "text.h5") << "hello";
  EXPECT_NE(load_error(dir / "text.h5").find("not an HDF5 file"), std::string::npos);
}

TEST(Trace, TruncatedFile) {
  const test::ScratchDir dir;
  const auto file = dir / "t.h5";
  test::write_trace(file, {test::random_layer("q", 0, 64, 64, 64, 3)});
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  const std::string msg = load_error(file);
  EXPECT_NE(msg.find("t.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Trace, MissingDatasetAndAttribute) {
  const test::ScratchDir dir;
  auto layer = test::random_layer("q_proj", 0, 4, 8, 3, 1);
  layer.weight.clear();
  test::write_trace(dir / "a.h5", {layer});
  EXPECT_NE(load_error(dir / "a.h5").find("layer 'q_proj': dataset 'weight' missing"), std::string::npos);

  H5Writer h5(dir / "b.h5");
  h5.create_group("/layers/k_proj");
  h5.commit();
  EXPECT_NE(load_error(dir / "b.h5").find("layer 'k_proj': integer attribute 'index' missing"),
            std::string::npos);

  H5Writer empty(dir / "c.h5");
  empty.create_group("/other");
  empty.commit();
  EXPECT_NE(load_error(dir / "c.h5").find("group '/layers' missing"), std::string::npos);
}

TEST(Trace, MismatchedShapesNameExpectedAndFound) {
  const test::ScratchDir dir;
  auto layer = test::random_layer("o_proj", 0, 4, 8, 3, 1);
  layer.weight.resize(3 * 6);
  H5Writer h5(dir / "t.h5");
  h5.create_group("/layers/o_proj");
  h5.write_attribute("/layers/o_proj", "index", std::int64_t{0});
  h5.write("/layers/o_proj/input", layer.input, {4, 8});
  h5.write("/layers/o_proj/weight", layer.weight, {3, 6});
  h5.commit();
  const std::string msg = load_error(dir / "t.h5");
  EXPECT_NE(msg.find("layer 'o_proj' weight has shape [3, 6] but expected [*, 8]"), std::string::npos) << msg;

  auto biased = test::random_layer("up", 0, 4, 8, 3, 1);
  biased.bias.resize(5);
  test::write_trace(dir / "u.h5", {biased});
  EXPECT_NE(load_error(dir / "u.h5").find("layer 'up' bias has shape [5] but expected [3]"),
            std::string::npos);
}

TEST(Trace, NanAndInfNameTheTensorAndPosition) {
  const test::ScratchDir dir;
  auto layer = test::random_layer("gate", 0, 4, 8, 3, 1);
  layer.input[2 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
  test::write_trace(dir / "n.h5", {layer});
  EXPECT_NE(load_error(dir / "n.h5").find("layer 'gate' input contains NaN at [2, 5]"), std::string::npos);
  layer = test::random_layer("gate", 0, 4, 8, 3, 1);
  layer.weight[7] = -std::numeric_limits<float>::infinity();
  test::write_trace(dir / "i.h5", {layer});
  EXPECT_NE(load_error(dir / "i.h5").find("layer 'gate' weight contains Inf at [0, 7]"), std::string::npos);
}

TEST(Trace, DuplicateIndex) {
  const test::ScratchDir dir;
  test::write_trace(dir / "d.h5",
                    {test::random_layer("a", 3, 2, 4, 2, 1), test::random_layer("b", 3, 2, 4, 2, 2)});
  EXPECT_NE(load_error(dir / "d.h5").find("index 3 used twice"), std::string::npos);
}

}  // namespace
}  // namespace spikesim::models
