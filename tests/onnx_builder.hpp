#pragma once
// Builds small ONNX models in tests through the protobuf API (the same generated classes the loader reads),
// and runs a loaded network densely.

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/onnx.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/execute.hpp"

namespace spikesim::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13) {
    model_.set_ir_version(7);
    model_.set_producer_name("spikesim-tests");
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }

  // A float input; -1 dimensions become the symbolic "N".
  void input(const std::string& name, const std::vector<std::int64_t>& shape) {
    auto* in = model_.mutable_graph()->add_input();
    in->set_name(name);
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    for (const auto d : shape) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (d < 0) {
        dim->set_dim_param("N");
      } else {
        dim->set_dim_value(d);
      }
    }
  }
  void output(const std::string& name) {
    auto* out = model_.mutable_graph()->add_output();
    out->set_name(name);
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  }

  static onnx::TensorProto tensor(const std::string& name, const std::vector<std::int64_t>& shape,
                                  const std::vector<float>& values, bool raw = false) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (const auto d : shape)
      t.add_dims(d);
    if (raw) {
      t.set_raw_data(
          std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
    } else {
      for (const float v : values)
        t.add_float_data(v);
    }
    return t;
  }
  static onnx::TensorProto tensor_i64(const std::string& name, const std::vector<std::int64_t>& shape,
                                      const std::vector<std::int64_t>& values) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto_DataType_INT64);
    for (const auto d : shape)
      t.add_dims(d);
    for (const auto v : values)
      t.add_int64_data(v);
    return t;
  }

  void init(const std::string& name, const std::vector<std::int64_t>& shape, const std::vector<float>& values,
            bool raw = false) {
    *model_.mutable_graph()->add_initializer() = tensor(name, shape, values, raw);
  }
  void init_i64(const std::string& name, const std::vector<std::int64_t>& shape,
                const std::vector<std::int64_t>& values) {
    *model_.mutable_graph()->add_initializer() = tensor_i64(name, shape, values);
  }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? outputs.at(0) + "_node" : name);
    for (const auto& i : inputs)
      n->add_input(i);
    for (const auto& o : outputs)
      n->add_output(o);
    return *n;
  }

  static void attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, float v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_STRING);
    a->set_s(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (const auto x : v)
      a->add_ints(x);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const onnx::TensorProto& t) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_TENSOR);
    *a->mutable_t() = t;
  }

  onnx::ModelProto& model() { return model_; }

  void save(const std::filesystem::path& file) const {
    std::ofstream out(file, std::ios::binary);
    model_.SerializeToOstream(&out);
  }

 private:
  onnx::ModelProto model_;
};

// Loads `file`, lowers it with `batch` and runs `input` densely; returns the output and its shape.
struct DenseOutput {
  std::vector<float> values;
  std::vector<std::int64_t> shape;
};
inline DenseOutput run_onnx_dense(const std::filesystem::path& file, const std::vector<float>& input,
                                  std::int64_t batch = 1) {
  const models::Network net = models::load_onnx(file);
  sim::LowerOptions options;
  options.batch = batch;
  const sim::Plan plan = sim::lower_network(net, options);
  sim::RunState state(plan);
  const auto y = sim::execute(plan, state, sim::PlanInput::of_values(input));
  return {{y.begin(), y.end()}, plan.values[static_cast<std::size_t>(plan.output)].shape};
}

}  // namespace spikesim::test
