// The ONNX loader and the dense plan: every supported op against a hand-computed small case, opset
// differences, initializer encodings, and clear errors for bad files.

#include "models/onnx.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "models/error.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using test::OnnxBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Floats = std::vector<float>;
using Ints = std::vector<std::int64_t>;

class Onnx : public ::testing::Test {
 protected:
  test::DenseOutput run(const OnnxBuilder& b, const Floats& input, std::int64_t batch = 1) {
    const auto file = dir_ / ("m" + std::to_string(count_++) + ".onnx");
    b.save(file);
    return test::run_onnx_dense(file, input, batch);
  }
  std::string error_of(const OnnxBuilder& b) {
    const auto file = dir_ / ("bad" + std::to_string(count_++) + ".onnx");
    b.save(file);
    try {
      const models::Network net = models::load_onnx(file);
      (void)sim::lower_network(net);
    } catch (const models::ModelError& e) {
      return e.what();
    }
    return "no error";
  }
  test::ScratchDir dir_;
  int count_ = 0;
};

void expect_near(const Floats& got, const Floats& want, float tol = 1e-5F) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

Floats iota(int n, float start = 1.0F) {
  Floats v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = start + static_cast<float>(i);
  return v;
}

// --- Conv ---

TEST_F(Onnx, ConvValidWithBias) {
  OnnxBuilder b;
  b.input("x", {1, 1, 3, 3});
  b.init("w", {1, 1, 2, 2}, {1, 2, 3, 4});
  b.init("b", {1}, {1});
  b.node("Conv", {"x", "w", "b"}, {"y"});
  b.output("y");
  const auto y = run(b, iota(9));
  EXPECT_THAT(y.shape, ElementsAre(1, 1, 2, 2));
  expect_near(y.values, {38, 48, 68, 78});  // 1*1 + 2*2 + 4*3 + 5*4 = 37, ... plus the bias
}

TEST_F(Onnx, ConvPadsAndStrides) {
  OnnxBuilder b;
  b.input("x", {1, 1, 3, 3});
  b.init("w", {1, 1, 2, 2}, {1, 2, 3, 4});
  auto& n = b.node("Conv", {"x", "w"}, {"y"});
  OnnxBuilder::attr(n, "pads", Ints{1, 1, 1, 1});
  OnnxBuilder::attr(n, "strides", Ints{2, 2});
  OnnxBuilder::attr(n, "kernel_shape", Ints{2, 2});
  b.output("y");
  const auto y = run(b, iota(9));
  EXPECT_THAT(y.shape, ElementsAre(1, 1, 2, 2));
  // (0,0) sees only x[0][0] under w[1][1]; (1,1) sees x[1..2][1..2] under all four weights.
  expect_near(y.values, {4, 18, 36, 77});
}

TEST_F(Onnx, ConvAutoPadSameUpperAndLower) {
  for (const std::string mode : {"SAME_UPPER", "SAME_LOWER"}) {
    OnnxBuilder b;
    b.input("x", {1, 1, 3, 3});
    b.init("w", {1, 1, 2, 2}, {1, 2, 3, 4});
    auto& n = b.node("Conv", {"x", "w"}, {"y"});
    OnnxBuilder::attr(n, "auto_pad", mode);
    b.output("y");
    const auto y = run(b, iota(9));
    EXPECT_THAT(y.shape, ElementsAre(1, 1, 3, 3));
    if (mode == "SAME_UPPER") {
      expect_near(y.values, {37, 47, 21, 67, 77, 33, 23, 26, 9});  // the extra padding row/column at the end
    } else {
      EXPECT_NEAR(y.values[0], 4, 1e-5);  // padding at the beginning: (0,0) sees x[0][0] under w[1][1]
      EXPECT_NEAR(y.values[8], 77, 1e-5);
    }
  }
}

TEST_F(Onnx, ConvGroupsDilationsAndOneDimensional) {
  {
    OnnxBuilder b;
    b.input("x", {1, 2, 2, 2});
    b.init("w", {2, 1, 1, 1}, {2, 3});
    auto& n = b.node("Conv", {"x", "w"}, {"y"});
    OnnxBuilder::attr(n, "group", std::int64_t{2});
    b.output("y");
    expect_near(run(b, iota(8)).values, {2, 4, 6, 8, 15, 18, 21, 24});
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 1, 3, 3});
    b.init("w", {1, 1, 2, 2}, {1, 2, 3, 4});
    auto& n = b.node("Conv", {"x", "w"}, {"y"});
    OnnxBuilder::attr(n, "dilations", Ints{2, 2});
    b.output("y");
    const auto y = run(b, iota(9));
    EXPECT_THAT(y.shape, ElementsAre(1, 1, 1, 1));
    expect_near(y.values, {1 * 1 + 3 * 2 + 7 * 3 + 9 * 4});
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 1, 4});
    b.init("w", {1, 1, 2}, {1, -1});
    b.node("Conv", {"x", "w"}, {"y"});
    b.output("y");
    expect_near(run(b, iota(4)).values, {-1, -1, -1});
  }
}

// --- Gemm, MatMul ---

TEST_F(Onnx, GemmAlphaBetaAndBothTransposes) {
  for (const bool trans_b : {false, true}) {
    OnnxBuilder b;
    b.input("a", {2, 3});
    b.init("b", trans_b ? Ints{2, 3} : Ints{3, 2},
           trans_b ? Floats{1, 0, 1, 0, 1, 1} : Floats{1, 0, 0, 1, 1, 1});
    b.init("c", {2}, {10, 20});
    auto& n = b.node("Gemm", {"a", "b", "c"}, {"y"});
    OnnxBuilder::attr(n, "alpha", 2.0F);
    OnnxBuilder::attr(n, "beta", 0.5F);
    OnnxBuilder::attr(n, "transB", std::int64_t{trans_b ? 1 : 0});
    b.output("y");
    // A B = [[4, 5], [10, 11]]; 2 A B + 0.5 C
    expect_near(run(b, iota(6)).values, {13, 20, 25, 32});
  }
  {
    // transA through a reshape of the input; C of shape [2, 1] broadcasts along the columns.
    OnnxBuilder b;
    b.input("x", {1, 6});
    b.init_i64("shape", {2}, {3, 2});
    b.node("Reshape", {"x", "shape"}, {"a"});  // A^T = [[1, 2], [3, 4], [5, 6]] -> A = [[1, 3, 5], [2, 4, 6]]
    b.init("b", {3, 2}, {1, 0, 0, 1, 1, 1});
    b.init("c", {2, 1}, {100, 200});
    auto& n = b.node("Gemm", {"a", "b", "c"}, {"y"});
    OnnxBuilder::attr(n, "transA", std::int64_t{1});
    b.output("y");
    // A B = [[1 + 5, 3 + 5], [2 + 6, 4 + 6]] = [[6, 8], [8, 10]]
    expect_near(run(b, iota(6)).values, {106, 108, 208, 210});
  }
}

TEST_F(Onnx, MatMulConstantWeightRuntimeProductAndBroadcast) {
  {
    OnnxBuilder b;
    b.input("x", {1, 2, 3});
    b.init("w", {3, 2}, {1, 0, 0, 1, 1, 1});
    b.node("MatMul", {"x", "w"}, {"y"});
    b.output("y");
    const auto y = run(b, iota(6));
    EXPECT_THAT(y.shape, ElementsAre(1, 2, 2));
    expect_near(y.values, {4, 5, 10, 11});
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 2, 3});
    auto& t = b.node("Transpose", {"x"}, {"xt"});
    OnnxBuilder::attr(t, "perm", Ints{0, 2, 1});
    b.node("MatMul", {"x", "xt"}, {"y"});
    b.output("y");
    expect_near(run(b, iota(6)).values, {14, 32, 32, 77});  // X X^T
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 2, 3});
    b.init("w", {2, 3, 1}, {1, 1, 1, 1, 0, -1});  // batch of two [3, 1] matrices
    b.node("MatMul", {"x", "w"}, {"y"});
    b.output("y");
    const auto y = run(b, iota(6));
    EXPECT_THAT(y.shape, ElementsAre(2, 2, 1));
    expect_near(y.values, {6, 15, -2, -2});
  }
}

// --- element-wise ---

TEST_F(Onnx, ElementwiseOpsBroadcast) {
  struct Case {
    std::string op;
    bool constant_first;
    Floats want;
  };
  const std::vector<Case> cases = {{"Add", false, {2, 4, 7, 5, 7, 10}},
                                   {"Sub", true, {0, 0, 1, -3, -3, -2}},
                                   {"Mul", false, {1, 4, 12, 4, 10, 24}},
                                   {"Div", false, {1, 1, 0.75F, 4, 2.5F, 1.5F}}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.op);
    OnnxBuilder b;
    b.input("x", {1, 2, 3});
    b.init("c", {3}, {1, 2, 4});
    b.node(c.op, c.constant_first ? std::vector<std::string>{"c", "x"} : std::vector<std::string>{"x", "c"},
           {"y"});
    b.output("y");
    expect_near(run(b, iota(6)).values, c.want);
  }
  OnnxBuilder b;
  b.input("x", {1, 2, 3});
  b.init("c", {2, 1}, {10, 20});
  b.node("Add", {"x", "c"}, {"y"});
  b.output("y");
  expect_near(run(b, iota(6)).values, {11, 12, 13, 24, 25, 26});
}

TEST_F(Onnx, Activations) {
  const Floats x = {-2, -0.5F, 0, 3};
  auto one = [&](const std::string& op, auto&& set, int opset = 13, std::vector<std::string> extra = {}) {
    OnnxBuilder b(opset);
    b.input("x", {1, 4});
    std::vector<std::string> ins = {"x"};
    ins.insert(ins.end(), extra.begin(), extra.end());
    auto& n = b.node(op, ins, {"y"});
    set(b, n);
    b.output("y");
    return run(b, x).values;
  };
  auto none = [](OnnxBuilder&, onnx::NodeProto&) {};
  expect_near(one("Relu", none), {0, 0, 0, 3});
  expect_near(one("LeakyRelu", [](OnnxBuilder&, onnx::NodeProto& n) { OnnxBuilder::attr(n, "alpha", 0.1F); }),
              {-0.2F, -0.05F, 0, 3});
  expect_near(one("LeakyRelu", none), {-0.02F, -0.005F, 0, 3});  // default alpha 0.01
  Floats sig;
  Floats th;
  for (const float v : x) {
    sig.push_back(1.0F / (1.0F + std::exp(-v)));
    th.push_back(std::tanh(v));
  }
  expect_near(one("Sigmoid", none), sig);
  expect_near(one("Tanh", none), th);
  // Clip: attributes before opset 11, inputs from 11 on.
  expect_near(one(
                  "Clip",
                  [](OnnxBuilder&, onnx::NodeProto& n) {
                    OnnxBuilder::attr(n, "min", 0.0F);
                    OnnxBuilder::attr(n, "max", 2.0F);
                  },
                  9),
              {0, 0, 0, 2});
  expect_near(one("Clip",
                  [](OnnxBuilder& b, onnx::NodeProto&) {
                    b.init("lo", {}, {-1});
                    b.init("hi", {}, {1});
                  },
                  13, {"lo", "hi"}),
              {-1, -0.5F, 0, 1});
}

// --- pooling, normalisation ---

TEST_F(Onnx, MaxPoolPadsCeilModeAndDilations) {
  auto mp = [&](Ints kernel, Ints strides, Ints pads, std::int64_t ceil, Ints dil) {
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4});
    auto& n = b.node("MaxPool", {"x"}, {"y"});
    OnnxBuilder::attr(n, "kernel_shape", kernel);
    OnnxBuilder::attr(n, "strides", strides);
    if (!pads.empty()) OnnxBuilder::attr(n, "pads", pads);
    OnnxBuilder::attr(n, "ceil_mode", ceil);
    if (!dil.empty()) OnnxBuilder::attr(n, "dilations", dil);
    b.output("y");
    return run(b, iota(16, 0));  // x[r][c] = 4r + c
  };
  expect_near(mp({2, 2}, {2, 2}, {}, 0, {}).values, {5, 7, 13, 15});
  expect_near(mp({3, 3}, {2, 2}, {1, 1, 1, 1}, 0, {}).values, {5, 7, 13, 15});  // padding never wins
  const auto floor_mode = mp({3, 3}, {2, 2}, {}, 0, {});
  EXPECT_THAT(floor_mode.shape, ElementsAre(1, 1, 1, 1));
  expect_near(floor_mode.values, {10});
  const auto ceil_mode = mp({3, 3}, {2, 2}, {}, 1, {});
  EXPECT_THAT(ceil_mode.shape, ElementsAre(1, 1, 2, 2));
  expect_near(ceil_mode.values, {10, 11, 14, 15});
  expect_near(mp({2, 2}, {1, 1}, {}, 0, {2, 2}).values, {10, 11, 14, 15});
}

TEST_F(Onnx, AveragePoolCountIncludePadAndGlobal) {
  auto ap = [&](Ints kernel, Ints strides, Ints pads, std::int64_t include) {
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4});
    auto& n = b.node("AveragePool", {"x"}, {"y"});
    OnnxBuilder::attr(n, "kernel_shape", kernel);
    OnnxBuilder::attr(n, "strides", strides);
    if (!pads.empty()) OnnxBuilder::attr(n, "pads", pads);
    OnnxBuilder::attr(n, "count_include_pad", include);
    b.output("y");
    return run(b, iota(16, 0)).values;
  };
  expect_near(ap({2, 2}, {2, 2}, {}, 0), {2.5F, 4.5F, 10.5F, 12.5F});
  expect_near(ap({3, 3}, {2, 2}, {1, 1, 1, 1}, 0), {2.5F, 4, 8.5F, 10});
  expect_near(ap({3, 3}, {2, 2}, {1, 1, 1, 1}, 1), {10.0F / 9, 24.0F / 9, 51.0F / 9, 10});

  OnnxBuilder b;
  b.input("x", {1, 2, 2, 2});
  b.node("GlobalAveragePool", {"x"}, {"y"});
  b.output("y");
  const auto y = run(b, iota(8));
  EXPECT_THAT(y.shape, ElementsAre(1, 2, 1, 1));
  expect_near(y.values, {2.5F, 6.5F});
}

TEST_F(Onnx, BatchNormalizationInference) {
  OnnxBuilder b;
  b.input("x", {1, 2, 1, 2});
  b.init("scale", {2}, {1, 2});
  b.init("bias", {2}, {0, 1});
  b.init("mean", {2}, {1, 2});
  b.init("var", {2}, {4, 1});
  auto& n = b.node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"});
  OnnxBuilder::attr(n, "epsilon", 0.0F);
  b.output("y");
  expect_near(run(b, iota(4)).values, {0, 0.5F, 3, 5});  // (x - mean) / sqrt(var) * scale + bias
}

// --- shape ops ---

TEST_F(Onnx, FlattenReshapeTransposeSqueezeUnsqueezeConcat) {
  auto shape_of = [&](auto&& build, int opset = 13) {
    OnnxBuilder b(opset);
    b.input("x", {1, 2, 3});
    build(b);
    b.output("y");
    return run(b, iota(6));
  };
  auto flat = shape_of(
      [](OnnxBuilder& b) { OnnxBuilder::attr(b.node("Flatten", {"x"}, {"y"}), "axis", std::int64_t{2}); });
  EXPECT_THAT(flat.shape, ElementsAre(2, 3));
  EXPECT_THAT(shape_of([](OnnxBuilder& b) { b.node("Flatten", {"x"}, {"y"}); }).shape, ElementsAre(1, 6));
  auto reshaped = shape_of([](OnnxBuilder& b) {
    b.init_i64("s", {2}, {0, -1});
    b.node("Reshape", {"x", "s"}, {"y"});
  });
  EXPECT_THAT(reshaped.shape, ElementsAre(1, 6));
  expect_near(reshaped.values, iota(6));
  EXPECT_THAT(shape_of([](OnnxBuilder& b) {
                b.init_i64("s", {2}, {3, -1});
                b.node("Reshape", {"x", "s"}, {"y"});
              }).shape,
              ElementsAre(3, 2));

  auto tr = shape_of([](OnnxBuilder& b) {
    OnnxBuilder::attr(b.node("Transpose", {"x"}, {"y"}), "perm", Ints{0, 2, 1});
  });
  EXPECT_THAT(tr.shape, ElementsAre(1, 3, 2));
  expect_near(tr.values, {1, 4, 2, 5, 3, 6});
  auto rev = shape_of([](OnnxBuilder& b) { b.node("Transpose", {"x"}, {"y"}); });
  EXPECT_THAT(rev.shape, ElementsAre(3, 2, 1));
  expect_near(rev.values, {1, 4, 2, 5, 3, 6});

  // Squeeze / Unsqueeze: axes attribute before opset 13, input from 13 on.
  auto sq11 = shape_of(
      [](OnnxBuilder& b) {
        OnnxBuilder::attr(b.node("Unsqueeze", {"x"}, {"u"}), "axes", Ints{1});
        OnnxBuilder::attr(b.node("Squeeze", {"u"}, {"y"}), "axes", Ints{0});
      },
      11);
  EXPECT_THAT(sq11.shape, ElementsAre(1, 2, 3));
  auto sq13 = shape_of([](OnnxBuilder& b) {
    b.init_i64("ax", {2}, {1, -1});
    b.node("Unsqueeze", {"x", "ax"}, {"u"});  // [1, 1, 2, 3, 1]
    b.node("Squeeze", {"u"}, {"y"});          // every size-1 dimension: [2, 3]
  });
  EXPECT_THAT(sq13.shape, ElementsAre(2, 3));
  expect_near(sq13.values, iota(6));

  auto cat = shape_of([](OnnxBuilder& b) {
    b.init("c", {1, 2, 1}, {7, 8});
    OnnxBuilder::attr(b.node("Concat", {"x", "c"}, {"y"}), "axis", std::int64_t{-1});
  });
  EXPECT_THAT(cat.shape, ElementsAre(1, 2, 4));
  expect_near(cat.values, {1, 2, 3, 7, 4, 5, 6, 8});
}

TEST_F(Onnx, SoftmaxAxisSemanticsChangeAtOpset13) {
  const Floats x = {0, 1, 2, 3};
  auto softmax = [&](const std::string& op, int opset, std::int64_t axis) {
    OnnxBuilder b(opset);
    b.input("x", {1, 2, 2});
    auto& n = b.node(op, {"x"}, {"y"});
    if (axis != 99) OnnxBuilder::attr(n, "axis", axis);
    b.output("y");
    return run(b, x).values;
  };
  // opset 11, axis 1: one softmax over the 4 values of the flattened [1, 4].
  const double s4 = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_near(softmax("Softmax", 11, 1),
              {static_cast<float>(1 / s4), static_cast<float>(std::exp(1.0) / s4),
               static_cast<float>(std::exp(2.0) / s4), static_cast<float>(std::exp(3.0) / s4)});
  // opset 13, axis 1: over dimension 1 only, pairs (0, 2) and (1, 3).
  const auto lo = static_cast<float>(1 / (1 + std::exp(2.0)));
  expect_near(softmax("Softmax", 13, 1), {lo, lo, 1 - lo, 1 - lo});
  // opset 13 default axis -1: log-softmax of pairs (0, 1) and (2, 3).
  const auto l0 = static_cast<float>(-std::log(1 + std::exp(1.0)));
  expect_near(softmax("LogSoftmax", 13, 99), {l0, l0 + 1, l0, l0 + 1});
  // opset 11 default axis 1 is the coerced 2-D form, the same as the explicit axis above.
  expect_near(softmax("Softmax", 11, 99), softmax("Softmax", 11, 1));
}

TEST_F(Onnx, DropoutIdentityAndConstants) {
  OnnxBuilder b(13);
  b.input("x", {1, 3});
  b.init("ratio", {}, {0.5F});
  b.node("Dropout", {"x", "ratio"}, {"d"});
  b.node("Identity", {"d"}, {"i"});
  auto& c = b.node("Constant", {}, {"c"});
  OnnxBuilder::attr(c, "value", OnnxBuilder::tensor("cv", {3}, {10, 20, 30}));
  b.node("Add", {"i", "c"}, {"a"});
  auto& s = b.node("Constant", {}, {"shape"});
  auto* attr = s.add_attribute();
  attr->set_name("value_ints");
  attr->set_type(onnx::AttributeProto_AttributeType_INTS);
  attr->add_ints(3);
  attr->add_ints(1);
  b.node("Reshape", {"a", "shape"}, {"y"});
  b.output("y");
  const auto y = run(b, {1, 2, 3});
  EXPECT_THAT(y.shape, ElementsAre(3, 1));
  expect_near(y.values, {11, 22, 33});
}

TEST_F(Onnx, InitializerEncodings) {
  // Same weights stored as float_data, raw_data, float16 raw, double and int32 shape data.
  const Floats w = {0.5F, -1.0F, 2.0F, 0.25F};
  auto with = [&](auto&& store) {
    OnnxBuilder b;
    b.input("x", {1, 2});
    store(b);
    b.node("MatMul", {"x", "w"}, {"y"});
    b.output("y");
    return run(b, {1, 2}).values;
  };
  const Floats want = {0.5F + 4.0F, -1.0F + 0.5F};
  expect_near(with([&](OnnxBuilder& b) { b.init("w", {2, 2}, w); }), want);
  expect_near(with([&](OnnxBuilder& b) { b.init("w", {2, 2}, w, true); }), want);
  expect_near(with([&](OnnxBuilder& b) {
                onnx::TensorProto t;
                t.set_name("w");
                t.set_data_type(onnx::TensorProto_DataType_FLOAT16);
                t.add_dims(2);
                t.add_dims(2);
                const std::vector<std::uint16_t> half = {0x3800, 0xBC00, 0x4000, 0x3400};  // 0.5 -1 2 0.25
                t.set_raw_data(std::string(reinterpret_cast<const char*>(half.data()), 8));
                *b.model().mutable_graph()->add_initializer() = t;
              }),
              want);
  expect_near(with([&](OnnxBuilder& b) {
                onnx::TensorProto t;
                t.set_name("w");
                t.set_data_type(onnx::TensorProto_DataType_DOUBLE);
                t.add_dims(2);
                t.add_dims(2);
                for (const float v : w)
                  t.add_double_data(v);
                *b.model().mutable_graph()->add_initializer() = t;
              }),
              want);
}

TEST_F(Onnx, DynamicBatchGivesTheSameResultsPerSample) {
  OnnxBuilder b;
  b.input("x", {-1, 3});
  b.init("w", {3, 2}, {1, -2, 0.5F, 1, -1, 3});
  b.init("c", {2}, {0.25F, -0.5F});
  b.node("Gemm", {"x", "w", "c"}, {"h"});
  b.node("Relu", {"h"}, {"y"});
  b.output("y");
  const auto file = dir_ / "dyn.onnx";
  b.save(file);
  const Floats x = test::gaussian(9, 5);
  const auto all = test::run_onnx_dense(file, x, 3);
  EXPECT_THAT(all.shape, ElementsAre(3, 2));
  for (int s = 0; s < 3; ++s) {
    const auto one = test::run_onnx_dense(file, Floats(x.begin() + 3 * s, x.begin() + 3 * s + 3), 1);
    expect_near(one.values, Floats(all.values.begin() + 2 * s, all.values.begin() + 2 * s + 2));
  }
}

// --- errors ---

TEST_F(Onnx, UnsupportedOpsAreListedInOneError) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"a"});
  b.node("Erf", {"a"}, {"b"}, "erf_1");
  b.node("LSTM", {"b"}, {"c"}, "lstm");
  b.node("Erf", {"c"}, {"y"}, "erf_2");
  b.output("y");
  const std::string e = error_of(b);
  EXPECT_THAT(e, HasSubstr("3 nodes with unsupported ops (Erf, LSTM)"));
  EXPECT_THAT(e, HasSubstr("node 1 'erf_1' (Erf)"));
  EXPECT_THAT(e, HasSubstr("node 2 'lstm' (LSTM)"));
  EXPECT_THAT(e, HasSubstr("node 3 'erf_2' (Erf)"));
  EXPECT_THAT(e, HasSubstr("supported ops: Conv Gemm MatMul"));
}

TEST_F(Onnx, OpsetOutsideSevenToSeventeenIsAnError) {
  for (const int opset : {6, 18}) {
    OnnxBuilder b(opset);
    b.input("x", {1, 4});
    b.node("Relu", {"x"}, {"y"});
    b.output("y");
    EXPECT_THAT(error_of(b),
                HasSubstr("opset " + std::to_string(opset) + " is not supported (supported: 7 to 17"));
  }
}

TEST_F(Onnx, MissingInitializerAndShapeMismatchesNameTheNode) {
  {
    OnnxBuilder b;
    b.input("x", {1, 1, 3, 3});
    b.node("Conv", {"x", "weights"}, {"y"}, "conv1");
    b.output("y");
    EXPECT_THAT(error_of(b), HasSubstr("node 0 'conv1' (Conv) input 1 'weights' is not produced by any node, "
                                       "initializer or graph input"));
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    b.init("w", {8, 2, 3, 3}, Floats(144, 0.1F));
    b.node("Conv", {"x", "w"}, {"y"}, "conv1");
    b.output("y");
    const std::string e = error_of(b);
    EXPECT_THAT(e, HasSubstr("op 'conv1' (Conv)"));
    EXPECT_THAT(e, HasSubstr("weight W has shape [8, 2, 3, 3]"));
    EXPECT_THAT(e, HasSubstr("the input has 3 channels"));
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.init("w", {3, 2}, Floats(6, 1.0F));
    b.node("Gemm", {"x", "w"}, {"y"}, "fc");
    b.output("y");
    EXPECT_THAT(error_of(b), HasSubstr("op 'fc' (Gemm): A [1, 4] and B [3, 2] do not multiply"));
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.init("w", {4, 2}, Floats(5, 1.0F));  // dims say 8 values
    b.node("MatMul", {"x", "w"}, {"y"});
    b.output("y");
    EXPECT_THAT(error_of(b), HasSubstr("initializer 'w' has dims [4, 2] (8 values) but holds 5 values"));
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 2});
    b.init("w", {2, 2}, {1, 2, std::nanf(""), 4});
    b.node("MatMul", {"x", "w"}, {"y"});
    b.output("y");
    EXPECT_THAT(error_of(b), HasSubstr("initializer 'w' contains NaN at [1, 0]"));
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 6});
    b.init_i64("s", {2}, {4, -1});
    b.node("Reshape", {"x", "s"}, {"y"}, "r");
    b.output("y");
    EXPECT_THAT(error_of(b), HasSubstr("cannot reshape [1, 6] (6 values) to [4, -1]"));
  }
}

TEST_F(Onnx, TrainingOnlyOutputsAndSecondInputsAreErrors) {
  {
    OnnxBuilder b(12);
    b.input("x", {1, 4});
    b.node("Dropout", {"x"}, {"y", "mask"});
    b.node("Add", {"y", "mask"}, {"z"});
    b.output("z");
    EXPECT_THAT(error_of(b), HasSubstr("which is only defined in training"));
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.input("x2", {1, 4});
    b.node("Add", {"x", "x2"}, {"y"});
    b.output("y");
    EXPECT_THAT(error_of(b), HasSubstr("second input"));
  }
}

TEST_F(Onnx, CorruptAndTruncatedFilesAreClearErrors) {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4});
  b.init("w", {2, 1, 3, 3}, test::gaussian(18, 1), true);
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"y"});
  b.output("y");
  std::string bytes;
  b.model().SerializeToString(&bytes);
  const auto file = dir_ / "cut.onnx";
  int errors = 0;
  for (std::size_t cut = 0; cut < bytes.size(); cut += 7) {
    {
      std::ofstream out(file, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(cut));
    }
    try {
      const auto net = models::load_onnx(file);
      (void)sim::lower_network(net);
    } catch (const models::ModelError& e) {
      ++errors;
      EXPECT_THAT(e.what(), HasSubstr(file.string()));
    }
  }
  EXPECT_EQ(errors, static_cast<int>((bytes.size() + 6) / 7));  // every cut is refused, none crashes
  {
    std::ofstream out(file, std::ios::binary);
    out << "this is not a protobuf \x01\x02\x03\xff\xff\xff";
  }
  EXPECT_THROW(models::load_onnx(file), models::ModelError);
  EXPECT_THROW(models::load_onnx(dir_ / "missing.onnx"), models::ModelError);
}

TEST(OnnxMnist8, LoadsTheModelZooCnn) {
  const auto file = test::shared_data("onnx/mnist-8.onnx");
  if (!file) GTEST_SKIP() << "SKIPPED: ../shared/data/onnx/mnist-8.onnx not present";
  const models::Network net = models::load_onnx(*file);
  const sim::Plan plan = sim::lower_network(net);
  EXPECT_EQ(plan.batch, 1);
  EXPECT_THAT(plan.input_shape, ElementsAre(1, 1, 28, 28));
  EXPECT_EQ(plan.sample_output_size(), 10);
  // Both convolutions and the classifier are synaptic sites; the first conv (raw image) stays dense by
  // default; the Add after each site is folded into its bias; the Reshape of the weight is constant-folded.
  EXPECT_THAT(plan.sites(true), ElementsAre("Convolution110", "Times212"));
  EXPECT_THAT(plan.sites(false), ElementsAre("Convolution28"));
  std::vector<std::string> kinds;
  for (const auto& s : plan.steps)
    kinds.emplace_back(sim::name(s.kind()));
  EXPECT_THAT(kinds, ElementsAre("conv", "activation", "pool", "conv", "activation", "pool", "linear"));
}

}  // namespace
}  // namespace spikesim
