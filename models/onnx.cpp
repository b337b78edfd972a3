#include "models/onnx.hpp"

#include <onnx/onnx_pb.h>

#include <array>
#include <bit>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "base/checked.hpp"
#include "base/files.hpp"
#include "base/text.hpp"
#include "models/check.hpp"

namespace spikesim::models {

namespace {

struct OpSpec {
  std::string_view onnx;
  OpKind kind;
};

// clang-format off
constexpr std::array<OpSpec, 27> op_specs = {{
    {"Conv", OpKind::conv}, {"Gemm", OpKind::gemm}, {"MatMul", OpKind::matmul},
    {"Add", OpKind::add}, {"Sub", OpKind::sub}, {"Mul", OpKind::mul}, {"Div", OpKind::div},
    {"Relu", OpKind::relu}, {"LeakyRelu", OpKind::leaky_relu}, {"Sigmoid", OpKind::sigmoid},
    {"Tanh", OpKind::tanh}, {"Clip", OpKind::clip}, {"MaxPool", OpKind::max_pool},
    {"AveragePool", OpKind::average_pool}, {"GlobalAveragePool", OpKind::global_average_pool},
    {"BatchNormalization", OpKind::batch_norm}, {"Flatten", OpKind::flatten},
    {"Reshape", OpKind::reshape}, {"Transpose", OpKind::transpose}, {"Squeeze", OpKind::squeeze},
    {"Unsqueeze", OpKind::unsqueeze}, {"Concat", OpKind::concat}, {"Softmax", OpKind::softmax},
    {"LogSoftmax", OpKind::log_softmax}, {"Dropout", OpKind::identity}, {"Identity", OpKind::identity},
    {"Constant", OpKind::constant},
}};
// clang-format on

const OpSpec* find_spec(const onnx::NodeProto& node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") return nullptr;
  for (const OpSpec& s : op_specs) {
    if (s.onnx == node.op_type()) return &s;
  }
  return nullptr;
}

std::string node_label(int index, const onnx::NodeProto& node) {
  return cat("node ", index, " '",
             node.name().empty() ? node.output_size() > 0 ? node.output(0) : "" : node.name(), "' (",
             node.domain().empty() ? "" : node.domain() + ".", node.op_type(), ")");
}

std::string_view dtype_name(int t) {
  switch (t) {
    case onnx::TensorProto_DataType_FLOAT:
      return "float32";
    case onnx::TensorProto_DataType_UINT8:
      return "uint8";
    case onnx::TensorProto_DataType_INT8:
      return "int8";
    case onnx::TensorProto_DataType_UINT16:
      return "uint16";
    case onnx::TensorProto_DataType_INT16:
      return "int16";
    case onnx::TensorProto_DataType_INT32:
      return "int32";
    case onnx::TensorProto_DataType_INT64:
      return "int64";
    case onnx::TensorProto_DataType_STRING:
      return "string";
    case onnx::TensorProto_DataType_BOOL:
      return "bool";
    case onnx::TensorProto_DataType_FLOAT16:
      return "float16";
    case onnx::TensorProto_DataType_DOUBLE:
      return "float64";
    case onnx::TensorProto_DataType_UINT32:
      return "uint32";
    case onnx::TensorProto_DataType_UINT64:
      return "uint64";
    case onnx::TensorProto_DataType_BFLOAT16:
      return "bfloat16";
    default:
      return "unknown";
  }
}

std::size_t dtype_bytes(int t) {
  switch (t) {
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_BOOL:
      return 1;
    case onnx::TensorProto_DataType_UINT16:
    case onnx::TensorProto_DataType_INT16:
    case onnx::TensorProto_DataType_FLOAT16:
    case onnx::TensorProto_DataType_BFLOAT16:
      return 2;
    case onnx::TensorProto_DataType_FLOAT:
    case onnx::TensorProto_DataType_INT32:
    case onnx::TensorProto_DataType_UINT32:
      return 4;
    case onnx::TensorProto_DataType_INT64:
    case onnx::TensorProto_DataType_DOUBLE:
    case onnx::TensorProto_DataType_UINT64:
      return 8;
    default:
      return 0;
  }
}

Op make_op(OpKind kind, std::string name, int order) {
  Op op;
  op.kind = kind;
  op.name = std::move(name);
  op.order = order;
  return op;
}

template <class T>
T load_le(const std::byte* p) {
  T v{};
  std::memcpy(&v, p, sizeof(T));  // ONNX raw data is little-endian, as is every host we build for
  return v;
}

class Loader {
 public:
  explicit Loader(std::filesystem::path file) : path_(std::move(file)), file_(path_.string()) {}

  std::vector<std::filesystem::path> external_files() {
    parse();
    std::set<std::filesystem::path> files;
    const std::filesystem::path dir =
        path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path();
    auto add = [&](const onnx::TensorProto& t, const std::string& what) {
      if (t.data_location() != onnx::TensorProto_DataLocation_EXTERNAL) return;
      for (const auto& kv : t.external_data()) {
        if (kv.key() == "location")
          files.insert(resolve_inside<ModelError>(dir, kv.value(),
                                                  cat(file_, ": ", what, ": external data location")));
      }
    };
    const onnx::GraphProto& g = model_->graph();
    for (const auto& init : g.initializer())
      add(init, cat("initializer '", init.name(), "'"));
    for (int i = 0; i < g.node_size(); ++i) {
      if (const auto* a = attr(g.node(i), "value")) add(a->t(), node_label(i, g.node(i)));
    }
    return {files.begin(), files.end()};
  }

  Network load() {
    parse();
    net_.source = file_;
    const onnx::GraphProto& g = model_->graph();
    check_opset();
    check_ops(g);
    for (const auto& init : g.initializer())
      add_initializer(init);
    for (const auto& in : g.input()) {
      if (constants_.contains(in.name())) continue;  // IR < 4 lists initializers as inputs too
      add_input(in);
    }
    for (int i = 0; i < g.node_size(); ++i)
      add_node(i, g.node(i));
    for (auto& [vertex, inputs] : pending_)
      connect_inputs(vertex, inputs);
    if (g.output_size() == 0) throw ModelError(cat(file_, ": the graph declares no outputs"));
    for (const auto& out : g.output()) {
      Op op = make_op(OpKind::output, unique_name(out.name()), INT_MAX);
      op.source_op = "graph output";
      const Vertex v = net_.add_op(op);
      net_.connect(producer(out.name(), cat("graph output '", out.name(), "'")), v, 0);
    }
    (void)net_.execution_order();  // throws on a cycle
    return std::move(net_);
  }

 private:
  struct PendingInput {
    std::string name;
    int slot = 0;
    std::string what;
  };

  void parse() {
    if (!std::filesystem::exists(path_)) throw ModelError(cat(file_, ": file not found"));
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw ModelError(cat(file_, ": cannot open"));
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
      throw ModelError(cat(file_, ": ", bytes.size(),
                           " bytes is beyond protobuf's 2 GiB limit (store the "
                           "weights as ONNX external data)"));
    }
    auto model = std::make_shared<onnx::ModelProto>();
    if (bytes.empty() || !model->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      throw ModelError(cat(file_, ": not a valid ONNX model (protobuf parsing failed after reading ",
                           bytes.size(), " bytes: truncated or corrupt file?)"));
    }
    if (!model->has_graph() || (model->graph().node_size() == 0 && model->graph().output_size() == 0)) {
      throw ModelError(cat(file_, ": not a valid ONNX model (no graph; truncated or not an ONNX file?)"));
    }
    model_ = std::move(model);
  }

  void check_opset() {
    bool found = false;
    for (const auto& o : model_->opset_import()) {
      if (o.domain().empty() || o.domain() == "ai.onnx") {
        opset_ = o.version();
        found = true;
      }
    }
    if (!found) {
      // IR version 2 files without opset_import predate opset 7.
      throw ModelError(cat(file_, ": no opset for the default ONNX domain (supported: opsets ",
                           onnx_min_opset, " to ", onnx_max_opset, ")"));
    }
    if (opset_ < onnx_min_opset || opset_ > onnx_max_opset) {
      throw ModelError(cat(file_, ": opset ", opset_, " is not supported (supported: ", onnx_min_opset,
                           " to ", onnx_max_opset, "; re-export with opset_version in that range)"));
    }
  }

  void check_ops(const onnx::GraphProto& g) {
    std::vector<std::string> bad;
    std::set<std::string> kinds;
    for (int i = 0; i < g.node_size(); ++i) {
      if (find_spec(g.node(i)) == nullptr) {
        bad.push_back(node_label(i, g.node(i)));
        kinds.insert(g.node(i).op_type());
      }
    }
    if (bad.empty()) return;
    std::string kinds_text;
    for (const auto& k : kinds)
      kinds_text += (kinds_text.empty() ? "" : ", ") + k;
    std::string where;
    for (const auto& b : bad)
      where += "\n  " + b;
    std::string supported;
    for (const auto& s : supported_onnx_ops())
      supported += (supported.empty() ? "" : " ") + s;
    throw ModelError(cat(file_, ": ", bad.size(), " node", bad.size() == 1 ? "" : "s",
                         " with unsupported ops (", kinds_text, "):", where, "\nsupported ops: ", supported));
  }

  // --- tensors ---

  // The bytes of an external-data tensor: `expected` bytes at [offset, offset + length) of a file that must
  // lie inside the model's directory. Everything is checked before anything is allocated.
  std::vector<std::byte> read_external(const onnx::TensorProto& t, const std::string& what,
                                       std::uint64_t expected) {
    std::string location;
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;
    for (const auto& kv : t.external_data()) {
      auto number = [&]() {
        std::uint64_t v = 0;
        const std::string& text = kv.value();
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
          throw ModelError(cat(file_, ": ", what, ": external_data key '", kv.key(), "' is '", text,
                               "', expected a non-negative integer"));
        }
        return v;
      };
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset") {
        offset = number();
      } else if (kv.key() == "length") {
        length = number();
      }
    }
    if (location.empty()) throw ModelError(cat(file_, ": ", what, ": external data without a location"));
    const std::filesystem::path data_file = resolve_inside<ModelError>(
        path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path(), location,
        cat(file_, ": ", what, ": external data location"));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(data_file, ec)) {
      throw ModelError(cat(file_, ": ", what, ": external data file '", data_file.string(), "' not found"));
    }
    const auto size = static_cast<std::uint64_t>(std::filesystem::file_size(data_file, ec));
    if (ec) throw ModelError(cat(file_, ": ", what, ": cannot read '", data_file.string(), "'"));
    if (offset > size) {
      throw ModelError(cat(file_, ": ", what, ": external data offset ", offset, " lies beyond the ", size,
                           " bytes of '", data_file.string(), "'"));
    }
    const std::uint64_t n = length.value_or(size - offset);
    check_range<ModelError>(offset, n, size,
                            cat(file_, ": ", what, ": external data in '", data_file.string(), "'"));
    if (n != expected) {
      throw ModelError(cat(file_, ": ", what, " needs ", expected, " bytes but its external data [", offset,
                           ", ", offset + n, ") in '", data_file.string(), "' holds ", n));
    }
    std::ifstream in(data_file, std::ios::binary);
    std::vector<std::byte> out(static_cast<std::size_t>(n));
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));  // NOLINT
    if (!in)
      throw ModelError(cat(file_, ": ", what, ": cannot read external data from '", data_file.string(), "'"));
    return out;
  }

  // Registers `t` under `name` as a network tensor: f32 and i64 stay views into the protobuf, the rest is
  // converted once. Sizes are checked before anything is allocated; an allocation that still fails names
  // the tensor.
  void add_tensor(const std::string& name, const onnx::TensorProto& t, const std::string& what) {
    try {
      add_tensor_checked(name, t, what);
    } catch (const std::bad_alloc&) {
      throw ModelError(cat(file_, ": ", what, " dims ", shape_str({t.dims().begin(), t.dims().end()}),
                           ": out of memory while loading it"));
    }
  }

  void add_tensor_checked(const std::string& name, const onnx::TensorProto& t, const std::string& what) {
    std::vector<std::int64_t> shape(t.dims().begin(), t.dims().end());
    const std::string dims_what = cat(file_, ": ", what, " dims ", shape_str(shape));
    const std::uint64_t numel = checked_numel<ModelError>(shape, dims_what);
    const int type = t.data_type();
    const std::size_t elem = dtype_bytes(type);
    if (elem == 0 || type == onnx::TensorProto_DataType_UINT64) {
      throw ModelError(
          cat(file_, ": ", what, " has element type ", dtype_name(type),
              " (supported: float32, float16, bfloat16, float64, int8/16/32/64, uint8/16/32, bool)"));
    }
    if (t.segment().begin() != 0 || t.segment().end() != 0)
      throw ModelError(cat(file_, ": ", what, ": segmented tensors are not supported"));
    const std::uint64_t need_bytes = checked_mul<ModelError>(numel, std::uint64_t{elem}, dims_what);
    const auto n = static_cast<std::size_t>(numel);

    // Raw little-endian bytes: from the protobuf, or from an external file.
    std::span<const std::byte> raw;
    std::shared_ptr<std::vector<std::byte>> external;
    const bool is_external = t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
    if (is_external) {
      external = std::make_shared<std::vector<std::byte>>(read_external(t, what, need_bytes));
      raw = *external;
    } else if (t.has_raw_data()) {
      raw = std::as_bytes(std::span<const char>(t.raw_data().data(), t.raw_data().size()));
    }
    const bool has_raw = is_external || t.has_raw_data();
    if (has_raw && raw.size() != need_bytes) {
      throw ModelError(cat(file_, ": ", what, " has dims ", shape_str(shape), " (", n, " ", dtype_name(type),
                           " values = ", need_bytes, " bytes) but holds ", raw.size(), " bytes"));
    }
    // Typed storage (float_data, int32_data, ...) holds one entry per value: its count bounds n by the
    // file's size, so it is checked before any buffer of n values is made.
    auto check_count = [&](std::size_t found) {
      if (found != n) {
        throw ModelError(cat(file_, ": ", what, " has dims ", shape_str(shape), " (", n,
                             " values) but holds ", found, " values"));
      }
    };
    if (!has_raw) {
      switch (type) {
        case onnx::TensorProto_DataType_FLOAT:
          check_count(static_cast<std::size_t>(t.float_data_size()));
          break;
        case onnx::TensorProto_DataType_INT64:
          check_count(static_cast<std::size_t>(t.int64_data_size()));
          break;
        case onnx::TensorProto_DataType_DOUBLE:
          check_count(static_cast<std::size_t>(t.double_data_size()));
          break;
        case onnx::TensorProto_DataType_UINT32:
          check_count(static_cast<std::size_t>(t.uint64_data_size()));
          break;
        default:  // float16, bfloat16 and the small integer types keep their values in int32_data
          check_count(static_cast<std::size_t>(t.int32_data_size()));
          break;
      }
    }

    if (type == onnx::TensorProto_DataType_FLOAT) {
      std::span<const float> values;
      if (has_raw) {
        if (external) {
          net_.add_tensor_view(name, shape, DType::f32, raw, external);
        } else {
          net_.add_tensor_view(name, shape, DType::f32, raw, model_);
        }
        values = net_.tensor(name).f32();
      } else {
        values = {t.float_data().data(), n};
        net_.add_tensor_view(name, shape, DType::f32, std::as_bytes(values), model_);
      }
      check_finite(values, shape, file_, what);
      return;
    }
    if (type == onnx::TensorProto_DataType_INT64 && !has_raw) {
      net_.add_tensor_view(name, shape, DType::i64,
                           std::as_bytes(std::span<const std::int64_t>(t.int64_data().data(), n)), model_);
      return;
    }
    if (type == onnx::TensorProto_DataType_INT64) {
      net_.add_tensor_view(name, shape, DType::i64, raw,
                           external ? std::shared_ptr<const void>(external) : model_);
      return;
    }
    if (type == onnx::TensorProto_DataType_FLOAT16 || type == onnx::TensorProto_DataType_BFLOAT16) {
      // Typed storage keeps the 16-bit patterns in int32_data.
      std::vector<std::uint16_t> bits(n);
      if (has_raw) {
        if (n > 0) std::memcpy(bits.data(), raw.data(), n * 2);
      } else {
        for (std::size_t i = 0; i < n; ++i)
          bits[i] = static_cast<std::uint16_t>(t.int32_data(static_cast<int>(i)));
      }
      // Widen once to f32 (exact): every consumer works in f32.
      Tensor half;
      half.name = name;
      half.shape = shape;
      half.dtype = type == onnx::TensorProto_DataType_FLOAT16 ? DType::f16 : DType::bf16;
      half.bytes = std::as_bytes(std::span<const std::uint16_t>(bits));
      std::vector<float> widened = half.to_f32();
      check_finite(widened, shape, file_, what);
      net_.add_tensor(name, shape, std::move(widened));
      return;
    }
    if (type == onnx::TensorProto_DataType_DOUBLE) {
      std::vector<float> values(n);
      if (has_raw) {
        for (std::size_t i = 0; i < n; ++i)
          values[i] = static_cast<float>(load_le<double>(raw.data() + 8 * i));
      } else {
        for (std::size_t i = 0; i < n; ++i)
          values[i] = static_cast<float>(t.double_data(static_cast<int>(i)));
      }
      check_finite(values, shape, file_, what);
      net_.add_tensor(name, shape, std::move(values));
      return;
    }
    // Remaining integer types (and bool) become i64.
    std::vector<std::int64_t> values(n);
    if (has_raw) {
      for (std::size_t i = 0; i < n; ++i) {
        const std::byte* p = raw.data() + elem * i;
        switch (type) {
          case onnx::TensorProto_DataType_UINT8:
          case onnx::TensorProto_DataType_BOOL:
            values[i] = load_le<std::uint8_t>(p);
            break;
          case onnx::TensorProto_DataType_INT8: {
            const std::int64_t byte = load_le<std::uint8_t>(p);
            values[i] = byte >= 128 ? byte - 256 : byte;  // two's complement int8
          } break;
          case onnx::TensorProto_DataType_UINT16:
            values[i] = load_le<std::uint16_t>(p);
            break;
          case onnx::TensorProto_DataType_INT16:
            values[i] = load_le<std::int16_t>(p);
            break;
          case onnx::TensorProto_DataType_INT32:
            values[i] = load_le<std::int32_t>(p);
            break;
          default:  // UINT32
            values[i] = load_le<std::uint32_t>(p);
            break;
        }
      }
    } else if (type == onnx::TensorProto_DataType_UINT32) {
      for (std::size_t i = 0; i < n; ++i)
        values[i] = static_cast<std::int64_t>(t.uint64_data(static_cast<int>(i)));
    } else {
      for (std::size_t i = 0; i < n; ++i)
        values[i] = t.int32_data(static_cast<int>(i));
    }
    net_.add_tensor(name, shape, std::move(values));
  }

  void add_initializer(const onnx::TensorProto& t) {
    if (t.name().empty()) throw ModelError(cat(file_, ": an initializer has no name"));
    if (constants_.contains(t.name()))
      throw ModelError(cat(file_, ": initializer '", t.name(), "' defined twice"));
    add_tensor(t.name(), t, cat("initializer '", t.name(), "'"));
    constants_[t.name()] = t.name();
  }

  void add_input(const onnx::ValueInfoProto& in) {
    const std::string what = cat("graph input '", in.name(), "'");
    if (!in.type().has_tensor_type()) throw ModelError(cat(file_, ": ", what, " is not a tensor"));
    const auto& tt = in.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto_DataType_FLOAT) {
      throw ModelError(
          cat(file_, ": ", what, " has element type ", dtype_name(tt.elem_type()), " but expected float32"));
    }
    if (!tt.has_shape()) throw ModelError(cat(file_, ": ", what, " has no shape (rank unknown)"));
    std::vector<std::int64_t> shape;
    for (const auto& d : tt.shape().dim())
      shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value()
                                                             : -1);  // -1: dynamic (dim_param)
    // No data backs a declared shape, and the plan sizes its buffers from it (a static batch of 2^32 would
    // ask for terabytes): the fixed dimensions must fit the limit for declared tensors.
    if (shape.size() > max_rank)
      throw ModelError(cat(file_, ": ", what, " has ", shape.size(), " dimensions (at most ", max_rank, ")"));
    std::uint64_t fixed = 1;
    for (const auto d : shape) {
      if (d > 0)
        fixed = checked_mul<ModelError>(fixed, static_cast<std::uint64_t>(d),
                                        cat(file_, ": ", what, " shape ", shape_str(shape)));
    }
    if (fixed > max_declared_elements) {
      throw ModelError(cat(file_, ": ", what, " declares shape ", shape_str(shape), " = ", fixed,
                           " elements, more than the limit of ", max_declared_elements,
                           " for a declared input (an absurd static batch?)"));
    }
    Op op = make_op(OpKind::input, unique_name(in.name()), -1);
    op.int_lists["shape"] = shape;
    op.source_op = "graph input";
    values_[in.name()] = net_.add_op(op);
  }

  // --- nodes ---

  std::string unique_name(const std::string& wanted) {
    std::string name = wanted;
    for (int k = 2; !names_.insert(name).second; ++k)
      name = cat(wanted, "#", k);
    return name;
  }

  static const onnx::AttributeProto* attr(const onnx::NodeProto& node, std::string_view name) {
    for (const auto& a : node.attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }

  void copy_int(const onnx::NodeProto& node, Op& op, const char* name, std::int64_t fallback) {
    const auto* a = attr(node, name);
    op.ints[name] = a != nullptr ? a->i() : fallback;
  }
  void copy_ints(const onnx::NodeProto& node, Op& op, const char* name) {
    if (const auto* a = attr(node, name)) op.int_lists[name] = {a->ints().begin(), a->ints().end()};
  }
  void copy_float(const onnx::NodeProto& node, Op& op, const char* name, double fallback) {
    const auto* a = attr(node, name);
    op.floats[name] = a != nullptr ? static_cast<double>(a->f()) : fallback;
  }

  void add_constant_node(int index, const onnx::NodeProto& node) {
    const std::string label = node_label(index, node);
    if (node.output_size() != 1) throw ModelError(cat(file_, ": ", label, " must have one output"));
    const std::string& out = node.output(0);
    const std::string& tensor_name = out;
    if (constants_.contains(out) || values_.contains(out))
      throw ModelError(cat(file_, ": ", label, ": value '", out, "' defined twice"));
    if (const auto* a = attr(node, "value")) {
      add_tensor(tensor_name, a->t(), cat(label, " value"));
    } else if (const auto* vf = attr(node, "value_float")) {
      net_.add_tensor(tensor_name, {}, std::vector<float>{vf->f()});
    } else if (const auto* vfs = attr(node, "value_floats")) {
      net_.add_tensor(tensor_name, {vfs->floats_size()},
                      std::vector<float>(vfs->floats().begin(), vfs->floats().end()));
    } else if (const auto* vi = attr(node, "value_int")) {
      net_.add_tensor(tensor_name, {}, std::vector<std::int64_t>{vi->i()});
    } else if (const auto* vis = attr(node, "value_ints")) {
      net_.add_tensor(tensor_name, {vis->ints_size()},
                      std::vector<std::int64_t>(vis->ints().begin(), vis->ints().end()));
    } else {
      throw ModelError(
          cat(file_, ": ", label, " has no supported value attribute (value, value_float(s), value_int(s))"));
    }
    constants_[out] = tensor_name;
  }

  void add_node(int index, const onnx::NodeProto& node) {
    const OpSpec* spec = find_spec(node);  // non-null: check_ops ran
    if (spec->kind == OpKind::constant) {
      add_constant_node(index, node);
      return;
    }
    const std::string label = node_label(index, node);
    if (node.output_size() < 1 || node.output(0).empty())
      throw ModelError(cat(file_, ": ", label, " has no output"));
    Op op = make_op(spec->kind, unique_name(node.name().empty() ? node.output(0) : node.name()), index);
    op.source_op = node.op_type();
    std::vector<PendingInput> inputs;
    auto want_inputs = [&](int lo, int hi) {
      if (node.input_size() < lo || node.input_size() > hi) {
        throw ModelError(cat(file_, ": ", label, " has ", node.input_size(), " inputs but expected ",
                             lo == hi ? cat(lo) : cat(lo, " to ", hi)));
      }
    };
    int used_inputs = node.input_size();
    switch (spec->kind) {
      case OpKind::conv:
        want_inputs(2, 3);
        copy_ints(node, op, "kernel_shape");
        copy_ints(node, op, "strides");
        copy_ints(node, op, "pads");
        copy_ints(node, op, "dilations");
        copy_int(node, op, "group", 1);
        op.strings["auto_pad"] = attr(node, "auto_pad") != nullptr ? attr(node, "auto_pad")->s() : "NOTSET";
        break;
      case OpKind::gemm:
        want_inputs(2, 3);
        copy_float(node, op, "alpha", 1.0);
        copy_float(node, op, "beta", 1.0);
        copy_int(node, op, "transA", 0);
        copy_int(node, op, "transB", 0);
        break;
      case OpKind::matmul:
      case OpKind::add:
      case OpKind::sub:
      case OpKind::mul:
      case OpKind::div:
        want_inputs(2, 2);
        break;
      case OpKind::leaky_relu:
        want_inputs(1, 1);
        copy_float(node, op, "alpha", 0.01);
        break;
      case OpKind::clip:
        if (opset_ < 11) {
          want_inputs(1, 1);
          if (const auto* a = attr(node, "min")) op.floats["min"] = static_cast<double>(a->f());
          if (const auto* a = attr(node, "max")) op.floats["max"] = static_cast<double>(a->f());
        } else {
          want_inputs(1, 3);  // min, max as (optional) inputs, constant-folded at lowering
        }
        break;
      case OpKind::max_pool:
      case OpKind::average_pool:
        want_inputs(1, 1);
        if (attr(node, "kernel_shape") == nullptr)
          throw ModelError(cat(file_, ": ", label, " has no kernel_shape"));
        copy_ints(node, op, "kernel_shape");
        copy_ints(node, op, "strides");
        copy_ints(node, op, "pads");
        copy_int(node, op, "ceil_mode", 0);
        op.strings["auto_pad"] = attr(node, "auto_pad") != nullptr ? attr(node, "auto_pad")->s() : "NOTSET";
        if (spec->kind == OpKind::max_pool) {
          copy_ints(node, op, "dilations");
        } else {
          copy_int(node, op, "count_include_pad", 0);
        }
        break;
      case OpKind::batch_norm: {
        want_inputs(5, 5);
        copy_float(node, op, "epsilon", 1e-5);
        const auto* training = attr(node, "training_mode");
        if (training != nullptr && training->i() != 0)
          throw ModelError(cat(file_, ": ", label, " has training_mode = 1; only inference is supported"));
        copy_int(node, op, "spatial", 1);  // opset < 9; 0: scale/bias/mean/var per activation
        if (opset_ >= 9) op.ints["spatial"] = 1;
        break;
      }
      case OpKind::flatten:
        want_inputs(1, 1);
        copy_int(node, op, "axis", 1);
        break;
      case OpKind::reshape:
        want_inputs(2, 2);
        copy_int(node, op, "allowzero", 0);
        break;
      case OpKind::transpose:
        want_inputs(1, 1);
        copy_ints(node, op, "perm");
        break;
      case OpKind::squeeze:
      case OpKind::unsqueeze:
        if (opset_ < 13) {
          want_inputs(1, 1);
          copy_ints(node, op, "axes");
          if (spec->kind == OpKind::unsqueeze && !op.int_lists.contains("axes"))
            throw ModelError(cat(file_, ": ", label, " has no axes attribute"));
        } else {
          want_inputs(spec->kind == OpKind::unsqueeze ? 2 : 1, 2);
        }
        break;
      case OpKind::concat:
        if (node.input_size() < 1) throw ModelError(cat(file_, ": ", label, " has no inputs"));
        if (attr(node, "axis") == nullptr)
          throw ModelError(cat(file_, ": ", label, " has no axis attribute"));
        copy_int(node, op, "axis", 0);
        break;
      case OpKind::softmax:
      case OpKind::log_softmax:
        want_inputs(1, 1);
        copy_int(node, op, "axis", opset_ < 13 ? 1 : -1);
        op.ints["coerce_2d"] = opset_ < 13 ? 1 : 0;
        break;
      case OpKind::identity:
        if (node.op_type() == "Dropout") {
          want_inputs(1, 3);
          used_inputs = 1;  // ratio and training_mode do not matter at inference
        } else {
          want_inputs(1, 1);
        }
        break;
      default:  // relu, sigmoid, tanh, global_average_pool
        want_inputs(1, 1);
        break;
    }
    const Vertex v = net_.add_op(op);
    for (int slot = 0; slot < used_inputs; ++slot) {
      if (node.input(slot).empty()) continue;  // optional input left out
      inputs.push_back({node.input(slot), slot, cat(label, " input ", slot)});
    }
    pending_.emplace_back(v, std::move(inputs));
    for (int k = 0; k < node.output_size(); ++k) {
      const std::string& out = node.output(k);
      if (out.empty()) continue;
      if (values_.contains(out) || constants_.contains(out) || secondary_.contains(out))
        throw ModelError(cat(file_, ": ", label, ": value '", out, "' defined twice"));
      if (k == 0) {
        values_[out] = v;
      } else {
        secondary_[out] = cat(label, " output ", k);
      }
    }
  }

  Vertex producer(const std::string& value, const std::string& what) {
    if (const auto it = values_.find(value); it != values_.end()) return it->second;
    if (const auto it = constants_.find(value); it != constants_.end()) {
      if (const auto c = constant_ops_.find(it->second); c != constant_ops_.end()) return c->second;
      Op op = make_op(OpKind::constant, unique_name(value), -1);
      op.tensors["value"] = it->second;
      op.source_op = "constant";
      const Vertex v = net_.add_op(op);
      constant_ops_[it->second] = v;
      return v;
    }
    if (const auto it = secondary_.find(value); it != secondary_.end()) {
      throw ModelError(cat(file_, ": ", what, " uses '", value, "', the ", it->second,
                           ", which is only defined in training (not supported)"));
    }
    throw ModelError(
        cat(file_, ": ", what, " '", value, "' is not produced by any node, initializer or graph input"));
  }

  void connect_inputs(Vertex v, const std::vector<PendingInput>& inputs) {
    for (const auto& in : inputs)
      net_.connect(producer(in.name, in.what), v, in.slot);
  }

  std::filesystem::path path_;
  std::string file_;
  std::shared_ptr<onnx::ModelProto> model_;
  std::int64_t opset_ = 0;
  Network net_;
  std::set<std::string> names_;
  std::map<std::string, Vertex> values_;          // value name -> op producing it (first output)
  std::map<std::string, std::string> constants_;  // value name -> network tensor
  std::map<std::string, Vertex> constant_ops_;    // tensor -> its constant op (made when first used)
  std::map<std::string, std::string> secondary_;  // secondary outputs (Dropout mask, ...) -> who makes them
  std::vector<std::pair<Vertex, std::vector<PendingInput>>> pending_;
};

}  // namespace

const std::vector<std::string>& supported_onnx_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> v;
    v.reserve(op_specs.size());
    for (const OpSpec& s : op_specs)
      v.emplace_back(s.onnx);
    return v;
  }();
  return ops;
}

Network load_onnx(const std::filesystem::path& file) {
  return Loader(file).load();
}

std::vector<std::filesystem::path> onnx_external_data_files(const std::filesystem::path& file) {
  return Loader(file).external_files();
}

}  // namespace spikesim::models
