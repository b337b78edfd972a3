// spikesim eval / run on general networks, end to end and in-process: the report's accuracy object and
// per-layer rows, thread independence, site selection, engines, and errors that leave nothing behind.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "models/idx.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_idx_gz(const std::filesystem::path& f, const std::vector<std::uint32_t>& dims,
                  const std::vector<std::uint8_t>& data) {
  std::string s = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (const auto d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8)
      s.push_back(static_cast<char>((d >> static_cast<unsigned>(shift)) & 0xFFU));
  }
  s.append(data.begin(), data.end());
  gzFile gz = gzopen(f.string().c_str(), "wb");
  gzwrite(gz, s.data(), static_cast<unsigned>(s.size()));
  gzclose(gz);
}

class Eval : public ::testing::Test {
 protected:
  static constexpr int n_images = 24;
  // A small CNN on 8x8 images: Conv -> Relu -> MaxPool -> Conv -> Relu -> Flatten -> Gemm; batch -1: dynamic.
  void write_model(const std::filesystem::path& file, std::int64_t batch) {
    test::OnnxBuilder b(13);
    b.input("image", {batch, 1, 8, 8});
    b.init("w1", {4, 1, 3, 3}, test::gaussian(36, 1, 0.5F));
    b.init("b1", {4}, test::gaussian(4, 2, 0.1F));
    auto& c1 = b.node("Conv", {"image", "w1", "b1"}, {"c1"}, "conv1");
    test::OnnxBuilder::attr(c1, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    b.node("Relu", {"c1"}, {"r1"}, "relu1");
    auto& p = b.node("MaxPool", {"r1"}, {"p1"}, "pool1");
    test::OnnxBuilder::attr(p, "kernel_shape", std::vector<std::int64_t>{2, 2});
    test::OnnxBuilder::attr(p, "strides", std::vector<std::int64_t>{2, 2});
    b.init("w2", {6, 4, 3, 3}, test::gaussian(216, 3, 0.3F));
    b.node("Conv", {"p1", "w2"}, {"c2"}, "conv2");
    b.init("b2", {1, 6, 1, 1}, test::gaussian(6, 4, 0.1F));
    b.node("Add", {"c2", "b2"}, {"a2"}, "bias2");
    b.node("Relu", {"a2"}, {"r2"}, "relu2");
    b.node("Flatten", {"r2"}, {"f"}, "flatten");
    b.init("wf", {3, 24}, test::gaussian(72, 5, 0.4F));
    b.init("bf", {3}, test::gaussian(3, 6, 0.1F));
    auto& g = b.node("Gemm", {"f", "wf", "bf"}, {"logits"}, "fc");
    test::OnnxBuilder::attr(g, "transB", std::int64_t{1});
    b.output("logits");
    b.save(file);
  }

  void SetUp() override {
    write_model(dir_ / "cnn.onnx", -1);

    std::vector<std::uint8_t> pixels(n_images * 64);
    std::mt19937 rng(7);
    for (auto& v : pixels)
      v = static_cast<std::uint8_t>(rng() % 256);
    write_idx_gz(dir_ / "images.gz", {n_images, 8, 8}, pixels);
    // Labels: the dense model's own predictions for even images, a wrong class for odd ones, so accuracy is
    // known exactly: 50 %.
    models::Dataset data = models::load_idx_dataset(dir_ / "images.gz", "");
    const models::Network net = models::load_onnx(dir_ / "cnn.onnx");
    const sim::Plan plan = sim::lower_network(net);
    sim::RunState state(plan);
    std::vector<std::uint8_t> labels;
    for (int i = 0; i < n_images; ++i) {
      std::vector<float> x(64);
      models::Preprocess pre;
      pre.scale = 1.0 / 255.0;
      models::preprocess(data, i, 1, pre, x);
      const auto y = sim::execute(plan, state, sim::PlanInput::of_values(x));
      const auto pred = static_cast<std::uint8_t>(std::max_element(y.begin(), y.end()) - y.begin());
      dense_pred_.push_back(pred);
      labels.push_back(i % 2 == 0 ? pred : static_cast<std::uint8_t>((pred + 1) % 3));
    }
    write_idx_gz(dir_ / "labels.gz", {n_images}, labels);
  }

  std::vector<std::string> eval_args(const std::string& out) {
    return {"eval",
            "--model",
            (dir_ / "cnn.onnx").string(),
            "--images",
            (dir_ / "images.gz").string(),
            "--labels",
            (dir_ / "labels.gz").string(),
            "--scale",
            "1/255",
            "--out",
            (dir_ / out).string(),
            "-q"};
  }
  int run(std::vector<std::string> args, const std::vector<std::string>& extra = {}) {
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_cli(args);
  }

  test::ScratchDir dir_;
  std::vector<std::uint8_t> dense_pred_;
};

TEST_F(Eval, ReportsAccuracyLayersAndEnergy) {
  ASSERT_EQ(run(eval_args("out"),
                {"--coding", "bitwise", "--hardware", "loihi", "--hardware", "h100-bf16-compute"}),
            0);
  const json r = read_json(dir_ / "out" / "report.json");
  EXPECT_EQ(r["run"]["command"], "eval");
  EXPECT_EQ(r["run"]["model_kind"], "onnx");
  EXPECT_EQ(r["run"]["samples"], n_images);
  EXPECT_EQ(r["run"]["coded_sites"], json({"conv2", "fc"}));
  EXPECT_EQ(r["run"]["dense_sites"], json({"conv1"}));
  const json& acc = r["accuracy"];
  EXPECT_EQ(acc["samples"], n_images);
  EXPECT_EQ(acc["classes"], 3);
  EXPECT_EQ(acc["dense"]["correct"], n_images / 2);
  EXPECT_DOUBLE_EQ(acc["dense"]["top1"].get<double>(), 0.5);
  EXPECT_GE(acc["agreement"].get<double>(), 0.75);
  std::vector<std::string> names;
  for (const auto& l : r["layers"])
    names.push_back(l["name"]);
  EXPECT_THAT(names,
              ElementsAre("conv1", "relu1", "pool1", "conv2", "relu2", "fc"));  // bias2 folded into conv2
  const json& conv2 = r["layers"][3];
  EXPECT_EQ(conv2["kind"], "conv");
  EXPECT_TRUE(conv2["coded"].get<bool>());
  EXPECT_EQ(conv2["in_features"], 4 * 4 * 4);
  EXPECT_EQ(conv2["out_features"], 6 * 2 * 2);
  EXPECT_EQ(conv2["tokens"], n_images);
  EXPECT_EQ(conv2["dense_macs"], n_images * 6 * 2 * 2 * 4 * 9);
  EXPECT_GT(conv2["sops"].get<std::uint64_t>(), 0U);
  EXPECT_TRUE(conv2["energy_pj"]["loihi"]["spiking"].contains("compute"));
  const json& conv1 = r["layers"][0];
  EXPECT_FALSE(conv1["coded"].get<bool>());
  EXPECT_EQ(conv1["sops"], 0);
  EXPECT_EQ(conv1["uncoded_macs"], n_images * 4 * 8 * 8 * 9);
  EXPECT_EQ(r["layers"][1]["elementwise_ops"], n_images * 4 * 64);  // relu1
  EXPECT_EQ(r["totals"]["dense_macs"].get<std::uint64_t>(),
            r["layers"][0]["dense_macs"].get<std::uint64_t>() + conv2["dense_macs"].get<std::uint64_t>() +
                r["layers"][5]["dense_macs"].get<std::uint64_t>());
  const std::string csv = read_text(dir_ / "out" / "layers.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
}

TEST_F(Eval, ReportIsIdenticalWhateverTheThreadCountAndBatch) {
  std::vector<std::string> reports;
  for (const char* threads : {"1", "2", "3"}) {
    auto args = eval_args(std::string("t") + threads);
    args.insert(args.begin(), {"--threads", threads});
    ASSERT_EQ(run(args), 0);
    reports.push_back(read_text(dir_ / (std::string("t") + threads) / "report.json"));
  }
  EXPECT_EQ(reports[0], reports[1]);
  EXPECT_EQ(reports[0], reports[2]);
  // Samples are coded one by one, so batching the dense ops changes no count.
  ASSERT_EQ(run(eval_args("b5"), {"--batch", "5"}), 0);
  const json a = read_json(dir_ / "t1" / "report.json");
  const json b = read_json(dir_ / "b5" / "report.json");
  EXPECT_EQ(b["run"]["batch"], 5);
  for (const char* key :
       {"sops", "spikes", "effective_sops", "dense_macs", "neuron_updates", "elementwise_ops"})
    EXPECT_EQ(a["totals"][key], b["totals"][key]) << key;
  EXPECT_EQ(a["accuracy"]["dense"]["correct"], b["accuracy"]["dense"]["correct"]);
}

TEST_F(Eval, StaticBatchPadsTheLastChunk) {
  write_model(dir_ / "static5.onnx", 5);  // 24 images: chunks of 5, the last one padded with 1 blank image
  auto args = eval_args("static");
  args[2] = (dir_ / "static5.onnx").string();
  ASSERT_EQ(run(args), 0);
  ASSERT_EQ(run(eval_args("dynamic")), 0);
  const json a = read_json(dir_ / "static" / "report.json");
  const json b = read_json(dir_ / "dynamic" / "report.json");
  EXPECT_EQ(a["run"]["batch"], 5);
  EXPECT_EQ(a["accuracy"]["samples"], n_images);
  for (const char* key : {"sops", "spikes", "effective_sops", "dense_macs", "elementwise_ops", "calls"})
    EXPECT_EQ(a["totals"][key], b["totals"][key]) << key;
  EXPECT_EQ(a["accuracy"]["dense"], b["accuracy"]["dense"]);
  EXPECT_EQ(a["accuracy"]["spiking"], b["accuracy"]["spiking"]);
}

TEST_F(Eval, SiteSelectionAndReferenceEngine) {
  ASSERT_EQ(run(eval_args("all"), {"--code-input-layer", "--dense-site", "fc"}), 0);
  const json r = read_json(dir_ / "all" / "report.json");
  EXPECT_EQ(r["run"]["coded_sites"], json({"conv1", "conv2"}));
  EXPECT_EQ(r["run"]["dense_sites"], json({"fc"}));
  EXPECT_TRUE(r["run"]["code_input_layer"].get<bool>());

  ASSERT_EQ(run(eval_args("fast"), {"--coding", "ternary"}), 0);
  ASSERT_EQ(run(eval_args("ref"), {"--coding", "ternary", "--engine", "reference"}), 0);
  const json fast = read_json(dir_ / "fast" / "report.json");
  const json ref = read_json(dir_ / "ref" / "report.json");
  for (const char* key : {"sops", "spikes", "effective_sops", "post_neuron_updates_active"})
    EXPECT_EQ(fast["totals"][key], ref["totals"][key]) << key;
  EXPECT_NEAR(fast["accuracy"]["output_rel_error"].get<double>(),
              ref["accuracy"]["output_rel_error"].get<double>(), 1e-5);
}

TEST_F(Eval, RunAcceptsGeneralNetworksWithImages) {
  ASSERT_EQ(run({"run", "--model", (dir_ / "cnn.onnx").string(), "--images", (dir_ / "images.gz").string(),
                 "--scale", "1/255", "--limit", "10", "--out", (dir_ / "run").string(), "-q"}),
            0);
  const json r = read_json(dir_ / "run" / "report.json");
  EXPECT_EQ(r["run"]["command"], "run");
  EXPECT_EQ(r["accuracy"]["samples"], 10);
  EXPECT_TRUE(r["accuracy"]["dense"]["top1"].is_null());  // no labels
}

TEST_F(Eval, ErrorsExitNonZeroAndLeaveNoOutput) {
  // No images for an ONNX model.
  EXPECT_EQ(run({"run", "--model", (dir_ / "cnn.onnx").string(), "--out", (dir_ / "e1").string(), "-q"}), 1);
  // A dataset whose images do not fit the model input.
  write_idx_gz(dir_ / "big.gz", {2, 9, 9}, std::vector<std::uint8_t>(162, 1));
  write_idx_gz(dir_ / "big_labels.gz", {2}, {0, 1});
  EXPECT_EQ(run({"eval", "--model", (dir_ / "cnn.onnx").string(), "--images", (dir_ / "big.gz").string(),
                 "--labels", (dir_ / "big_labels.gz").string(), "--out", (dir_ / "e2").string(), "-q"}),
            1);
  // An unknown --dense-site, labels of another length, a label beyond the model's classes.
  EXPECT_EQ(run(eval_args("e3"), {"--dense-site", "nope"}), 1);
  write_idx_gz(dir_ / "short_labels.gz", {3}, {0, 1, 2});
  EXPECT_EQ(run({"eval", "--model", (dir_ / "cnn.onnx").string(), "--images", (dir_ / "images.gz").string(),
                 "--labels", (dir_ / "short_labels.gz").string(), "--out", (dir_ / "e4").string(), "-q"}),
            1);
  EXPECT_EQ(run({"eval", "--model", (dir_ / "cnn.onnx").string(), "--images", (dir_ / "images.gz").string(),
                 "--labels", (dir_ / "labels.gz").string(), "--scale", "1/0", "--out", (dir_ / "e5").string(),
                 "-q"}),
            1);
  write_idx_gz(dir_ / "bad_labels.gz", {n_images},
               std::vector<std::uint8_t>(n_images, 3));  // 3 classes: 0..2
  EXPECT_EQ(run({"eval", "--model", (dir_ / "cnn.onnx").string(), "--images", (dir_ / "images.gz").string(),
                 "--labels", (dir_ / "bad_labels.gz").string(), "--out", (dir_ / "e6").string(), "-q"}),
            1);
  for (const char* d : {"e1", "e2", "e3", "e4", "e5", "e6"})
    EXPECT_FALSE(std::filesystem::exists(dir_ / d)) << d;
}

}  // namespace
}  // namespace spikesim
