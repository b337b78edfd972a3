#include "models/keras.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "base/checked.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "models/check.hpp"
#include "models/hdf5_file.hpp"

namespace spikesim::models {

namespace {

using Json = nlohmann::json;
// A layer's config with the file and key path for messages ("<file>: layer 'c1': key 'config.strides[0]'
// ...").
using Cfg = JsonAt<ModelError>;
using Shape = std::vector<std::int64_t>;

// A Keras tensor: the op producing it, the shape Keras sees (batch -1), and whether an image tensor is held
// NCHW inside the network while Keras sees NHWC.
struct KTensor {
  Vertex v = 0;
  Shape shape;
  bool nchw = false;
};

const std::set<std::string>& supported_layers() {
  static const std::set<std::string> s = {"InputLayer",
                                          "Dense",
                                          "Conv2D",
                                          "Convolution2D",
                                          "MaxPooling2D",
                                          "MaxPool2D",
                                          "AveragePooling2D",
                                          "AvgPool2D",
                                          "GlobalAveragePooling2D",
                                          "GlobalAvgPool2D",
                                          "BatchNormalization",
                                          "Flatten",
                                          "Dropout",
                                          "Activation",
                                          "ReLU",
                                          "Softmax",
                                          "Add",
                                          "Concatenate"};
  return s;
}

class Loader {
 public:
  explicit Loader(const std::filesystem::path& file) : h5_(file), file_(h5_.file()) {}

  Network load() {
    net_.source = file_;
    if (!h5_.has_attribute("/", "model_config")) {
      throw ModelError(cat(file_,
                           ": no model_config attribute (a weights-only file from save_weights() holds no "
                           "architecture; save the whole model with model.save(\"model.h5\"))"));
    }
    const Json config =
        parse_json<ModelError>(h5_.read_string_attribute("/", "model_config"), cat(file_, ": model_config"));
    weights_root_ = h5_.has("/model_weights") ? "/model_weights" : "/";
    try {
      build(config);
    } catch (const Json::exception& e) {
      throw ModelError(cat(file_, ": unexpected model_config layout (", json_error_text(e), ")"));
    } catch (const std::bad_alloc&) {
      throw ModelError(cat(file_, ": out of memory while loading the model"));
    }
    (void)net_.execution_order();
    return std::move(net_);
  }

 private:
  [[noreturn]] void fail(const std::string& layer, const std::string& why) const {
    throw ModelError(cat(file_, ": layer '", layer, "': ", why));
  }

  // --- network building helpers ---

  Vertex add_op(OpKind kind, const std::string& name, const std::vector<Vertex>& inputs,
                const std::string& source) {
    Op op;
    op.kind = kind;
    op.name = name;
    for (int k = 2; names_.contains(op.name); ++k)
      op.name = cat(name, "#", k);
    names_.insert(op.name);
    op.order = order_++;
    op.source_op = source;
    const Vertex v = net_.add_op(op);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      net_.connect(inputs[i], v, static_cast<int>(i));
    return v;
  }
  Op& op_of(Vertex v) { return net_.graph[v]; }

  Vertex constant(const std::string& name, Shape shape, std::vector<float> values) {
    net_.add_tensor(name, std::move(shape), std::move(values));
    const Vertex v = add_op(OpKind::constant, name, {}, "constant");
    op_of(v).tensors["value"] = name;
    op_of(v).order = -1;
    return v;
  }

  // NHWC (Keras) <-> NCHW (inside the network) for rank-4 tensors.
  KTensor to_nchw(const KTensor& t, const std::string& layer) {
    if (t.nchw || t.shape.size() != 4 || channels_first_) return t;
    const Vertex v = add_op(OpKind::transpose, layer + "/to_nchw", {t.v}, "Transpose");
    op_of(v).int_lists["perm"] = {0, 3, 1, 2};
    return {v, t.shape, true};
  }
  KTensor to_keras(const KTensor& t, const std::string& layer) {
    if (!t.nchw) return t;
    const Vertex v = add_op(OpKind::transpose, layer + "/to_nhwc", {t.v}, "Transpose");
    op_of(v).int_lists["perm"] = {0, 2, 3, 1};
    return {v, t.shape, false};
  }
  // Keras axis of a tensor -> axis inside the network.
  static std::int64_t internal_axis(const KTensor& t, std::int64_t axis) {
    const auto rank = static_cast<std::int64_t>(t.shape.size());
    const std::int64_t a = axis < 0 ? axis + rank : axis;
    if (!t.nchw) return a;
    static constexpr std::array<std::int64_t, 4> nhwc_to_nchw = {0, 2, 3, 1};
    return nhwc_to_nchw.at(static_cast<std::size_t>(a));
  }

  // --- weights ---

  std::map<std::string, std::pair<std::vector<float>, Shape>> weights_of(const std::string& layer) {
    std::map<std::string, std::pair<std::vector<float>, Shape>> out;
    const std::string group = weights_root_ == "/" ? "/" + layer : weights_root_ + "/" + layer;
    if (!h5_.has(group)) return out;
    const auto names = h5_.read_string_list_attribute(group, "weight_names");
    for (const auto& wname : names) {
      std::string role = wname.substr(wname.rfind('/') == std::string::npos ? 0 : wname.rfind('/') + 1);
      if (const auto colon = role.find(':'); colon != std::string::npos) role.erase(colon);
      std::string path = group;
      path += "/";
      path += wname;
      if (!h5_.has(path))
        fail(layer, cat("weight '", wname, "' listed in weight_names but dataset ", path, " missing"));
      Shape shape = h5_.shape(path);
      std::vector<float> values = h5_.read<float>(path);
      check_finite(values, shape, file_, cat("layer '", layer, "' weight '", wname, "'"));
      out[role] = {std::move(values), std::move(shape)};
    }
    return out;
  }

  const std::pair<std::vector<float>, Shape>& weight(
      const std::map<std::string, std::pair<std::vector<float>, Shape>>& w, const std::string& layer,
      const std::string& role, const Shape& expected) const {
    const auto it = w.find(role);
    if (it == w.end()) {
      std::string have;
      for (const auto& [k, unused] : w)
        have += (have.empty() ? "" : ", ") + k;
      fail(layer, cat("weight '", role, "' missing (the file has: ", have.empty() ? "none" : have, ")"));
    }
    check_shape(it->second.second, expected, file_, cat("layer '", layer, "' weight '", role, "'"));
    return it->second;
  }

  // --- config helpers ---

  // A window size (kernel_size, strides, pool_size, dilation_rate): one integer or a list of one or two,
  // each >= 1 (0 would divide by zero, a negative one would give a nonsense shape to a later layer).
  static std::vector<std::int64_t> pair_of(const Cfg& cfg, const char* key, std::int64_t fallback) {
    if (!cfg.has(key)) return {fallback, fallback};
    const Cfg v = cfg.at(key);
    constexpr std::int64_t most = std::int64_t{1} << 20;
    if (v.is_number()) {
      const std::int64_t k = v.integer(1, most);
      return {k, k};
    }
    if (v.size() < 1 || v.size() > 2) v.fail(cat("must hold 1 or 2 sizes, found ", v.found()));
    return {v.at(0).integer(1, most), v.at(v.size() > 1 ? 1 : 0).integer(1, most)};
  }
  static std::string str(const Cfg& cfg, const char* key, const std::string& fallback) {
    return cfg.string_or(key, fallback);
  }
  static std::string activation_of(const Cfg& cfg) {
    return cfg.has("activation") ? activation_name(cfg.at("activation")) : "linear";
  }
  // Keras axis (negative counts from the end) of a rank-`rank` tensor, checked.
  static std::int64_t keras_axis(const Cfg& v, std::size_t rank) {
    const auto r = static_cast<std::int64_t>(rank);
    const std::int64_t a = v.integer(-r, r - 1);
    return a < 0 ? a + r : a;
  }

  static std::int64_t window_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, bool same) {
    if (same) return (in + s - 1) / s;
    return (in - (d * (k - 1) + 1)) / s + 1;
  }

  KTensor activation(const KTensor& x, const std::string& act, const std::string& layer) {
    if (act == "linear" || act.empty()) return x;
    Vertex v = 0;
    if (act == "relu") {
      v = add_op(OpKind::relu, layer + "/relu", {x.v}, "relu");
    } else if (act == "relu6") {
      v = add_op(OpKind::clip, layer + "/relu6", {x.v}, "relu6");
      op_of(v).floats["min"] = 0.0;
      op_of(v).floats["max"] = 6.0;
    } else if (act == "sigmoid") {
      v = add_op(OpKind::sigmoid, layer + "/sigmoid", {x.v}, "sigmoid");
    } else if (act == "tanh") {
      v = add_op(OpKind::tanh, layer + "/tanh", {x.v}, "tanh");
    } else if (act == "softmax") {
      v = add_op(OpKind::softmax, layer + "/softmax", {x.v}, "softmax");
      op_of(v).ints["axis"] = internal_axis(x, -1);
      op_of(v).ints["coerce_2d"] = 0;
    } else {
      fail(layer,
           cat("activation '", act, "' is not supported (linear, relu, relu6, sigmoid, tanh, softmax)"));
    }
    return {v, x.shape, x.nchw};
  }

  static std::string activation_name(const Cfg& a) {
    if (a.is_string()) return a.string();
    if (a.is_object() && a.has("config") && a.at("config").has("name"))
      return a.at("config").at("name").string();
    if (a.is_object() && a.has("class_name")) return a.at("class_name").string();
    return "?";
  }

  // --- layers ---

  KTensor input_layer(const std::string& name, const Cfg& cfg) {
    std::optional<Cfg> shape_json;
    for (const char* key : {"batch_shape", "batch_input_shape"}) {
      if (cfg.has(key) && cfg.at(key).is_array()) shape_json = cfg.at(key);
    }
    if (!shape_json) fail(name, "input without batch_shape / batch_input_shape");
    if (shape_json->size() < 1 || shape_json->size() > max_rank)
      shape_json->fail(cat("must hold 1 to ", max_rank, " dimensions, found ", shape_json->found()));
    // No data backs a declared shape and the plan sizes buffers from it: each size >= 1, and the fixed
    // sizes together within the limit for declared tensors.
    Shape shape;
    std::uint64_t fixed = 1;
    for (const auto& d : shape_json->elements()) {
      shape.push_back(d.is_null() ? -1 : d.integer(1, std::int64_t{1} << 31));
      if (shape.back() > 0) fixed *= static_cast<std::uint64_t>(shape.back());
      if (fixed > max_declared_elements) {
        shape_json->fail(cat("declares ", shape_json->found(), ": more than the limit of ",
                             max_declared_elements, " elements for a declared input"));
      }
    }
    const Vertex v = add_op(OpKind::input, name, {}, "InputLayer");
    op_of(v).int_lists["shape"] = shape;
    op_of(v).order = -1;
    return {v, shape, false};
  }

  KTensor layer(const std::string& cls, const std::string& name, const Cfg& cfg,
                const std::vector<KTensor>& ins) {
    auto one = [&]() -> const KTensor& {
      if (ins.size() != 1) fail(name, cat(cls, " takes one input, got ", ins.size()));
      return ins[0];
    };
    if (cls == "Dense") return dense(name, cfg, one());
    if (cls == "Conv2D" || cls == "Convolution2D") return conv2d(name, cfg, one());
    if (cls == "MaxPooling2D" || cls == "MaxPool2D" || cls == "AveragePooling2D" || cls == "AvgPool2D")
      return pool2d(cls, name, cfg, one());
    if (cls == "GlobalAveragePooling2D" || cls == "GlobalAvgPool2D") return global_pool(name, cfg, one());
    if (cls == "BatchNormalization") return batch_norm(name, cfg, one());
    if (cls == "Flatten") {
      const KTensor x = to_keras(one(), name);
      std::int64_t features = 1;
      for (std::size_t d = 1; d < x.shape.size(); ++d) {
        if (x.shape[d] < 1)
          fail(name, cat("Flatten of shape ", shape_str(x.shape), " (sizes must be known)"));
        features = checked_mul<ModelError>(features, x.shape[d], cat(file_, ": layer '", name, "' Flatten"));
      }
      const Vertex v = add_op(OpKind::flatten, name, {x.v}, cls);
      op_of(v).ints["axis"] = 1;
      return {v, {x.shape[0], features}, false};
    }
    if (cls == "Dropout") {
      const KTensor& x = one();
      return {add_op(OpKind::identity, name, {x.v}, cls), x.shape, x.nchw};
    }
    if (cls == "Activation") return activation(one(), activation_name(cfg.at("activation")), name);
    if (cls == "ReLU") {
      const KTensor& x = one();
      const double slope = cfg.number_or("negative_slope", 0.0);
      const double threshold = cfg.number_or("threshold", 0.0);
      const bool capped = cfg.has("max_value");
      if (threshold != 0.0) fail(name, cat("ReLU threshold ", threshold, " is not supported (only 0)"));
      if (slope != 0.0 && capped) fail(name, "ReLU with both negative_slope and max_value is not supported");
      Vertex v = 0;
      if (slope != 0.0) {
        v = add_op(OpKind::leaky_relu, name, {x.v}, cls);
        op_of(v).floats["alpha"] = slope;
      } else if (capped) {
        v = add_op(OpKind::clip, name, {x.v}, cls);
        op_of(v).floats["min"] = 0.0;
        op_of(v).floats["max"] = cfg.at("max_value").number();
      } else {
        v = add_op(OpKind::relu, name, {x.v}, cls);
      }
      return {v, x.shape, x.nchw};
    }
    if (cls == "Softmax") {
      const KTensor& x = one();
      std::int64_t axis = static_cast<std::int64_t>(x.shape.size()) - 1;
      if (cfg.has("axis"))
        axis = keras_axis(cfg.at("axis").is_array() ? cfg.at("axis").at(0) : cfg.at("axis"), x.shape.size());
      const Vertex v = add_op(OpKind::softmax, name, {x.v}, cls);
      op_of(v).ints["axis"] = internal_axis(x, axis);
      op_of(v).ints["coerce_2d"] = 0;
      return {v, x.shape, x.nchw};
    }
    if (cls == "Add" || cls == "Concatenate") {
      if (ins.size() < 2) fail(name, cat(cls, " needs at least two inputs, got ", ins.size()));
      // Bring every input to the first one's layout.
      std::vector<KTensor> xs;
      xs.reserve(ins.size());
      for (const auto& t : ins)
        xs.push_back(ins[0].nchw ? to_nchw(t, name) : to_keras(t, name));
      if (cls == "Add") {
        KTensor acc = xs[0];
        for (std::size_t i = 1; i < xs.size(); ++i) {
          if (xs[i].shape != acc.shape)
            fail(name, cat("Add of shapes ", shape_str(acc.shape), " and ", shape_str(xs[i].shape)));
          acc.v = add_op(OpKind::add, i + 1 == xs.size() ? name : cat(name, "/", i), {acc.v, xs[i].v}, cls);
        }
        return acc;
      }
      const std::size_t rank = xs[0].shape.size();
      if (rank == 0) fail(name, "Concatenate of scalars");
      const std::int64_t axis =
          cfg.has("axis") ? keras_axis(cfg.at("axis"), rank) : static_cast<std::int64_t>(rank) - 1;
      const auto a = static_cast<std::size_t>(axis);
      std::vector<Vertex> vs;
      Shape shape = xs[0].shape;
      shape[a] = 0;
      for (const auto& t : xs) {
        if (t.shape.size() != rank)
          fail(name, cat("Concatenate of shapes ", shape_str(xs[0].shape), " and ", shape_str(t.shape)));
        vs.push_back(t.v);
        shape[a] = t.shape[a] < 0 || shape[a] < 0 ? -1 : shape[a] + t.shape[a];
      }
      const Vertex v = add_op(OpKind::concat, name, vs, cls);
      op_of(v).ints["axis"] = internal_axis(xs[0], axis);
      return {v, shape, xs[0].nchw};
    }
    fail(name, cat("layer class ", cls, " is not supported"));
  }

  KTensor dense(const std::string& name, const Cfg& cfg, const KTensor& in) {
    const KTensor x = to_keras(in, name);
    if (x.shape.size() < 2)
      fail(name, cat("Dense input has shape ", shape_str(x.shape), ", expected rank >= 2"));
    const std::int64_t units = cfg.at("units").integer(1, std::int64_t{1} << 31);
    const std::int64_t features = x.shape.back();
    if (features < 1)
      fail(name, cat("Dense input has shape ", shape_str(x.shape), " (unknown feature count)"));
    const auto w = weights_of(name);
    const auto& kernel = weight(w, name, "kernel", {features, units});
    const Vertex k = constant(name + "/kernel", kernel.second, kernel.first);
    Vertex v = add_op(OpKind::matmul, name, {x.v, k}, "Dense");
    const bool use_bias = cfg.boolean_or("use_bias", true);
    if (use_bias) {
      const auto& bias = weight(w, name, "bias", {units});
      const Vertex b = constant(name + "/bias", bias.second, bias.first);
      v = add_op(OpKind::add, name + "/bias_add", {v, b}, "Dense");
    }
    Shape shape = x.shape;
    shape.back() = units;
    return activation({v, shape, false}, activation_of(cfg), name);
  }

  KTensor conv2d(const std::string& name, const Cfg& cfg, const KTensor& in) {
    if (in.shape.size() != 4)
      fail(name, cat("Conv2D input has shape ", shape_str(in.shape), ", expected rank 4"));
    check_format(name, cfg);
    const KTensor x = to_nchw(in, name);
    const std::int64_t c_axis = channels_first_ ? 1 : 3;
    const std::int64_t h = x.shape[channels_first_ ? 2 : 1];
    const std::int64_t wd = x.shape[channels_first_ ? 3 : 2];
    const std::int64_t channels = x.shape[static_cast<std::size_t>(c_axis)];
    if (h < 1 || wd < 1 || channels < 1)
      fail(name, cat("Conv2D input has shape ", shape_str(in.shape),
                     " (height, width and channels must be known)"));
    const std::int64_t filters = cfg.at("filters").integer(1, std::int64_t{1} << 31);
    const auto ks = pair_of(cfg, "kernel_size", 1);
    const auto st = pair_of(cfg, "strides", 1);
    const auto dl = pair_of(cfg, "dilation_rate", 1);
    const std::int64_t groups = cfg.integer_or("groups", 1, 1, channels);
    const std::string padding = str(cfg, "padding", "valid");
    if (padding != "valid" && padding != "same") fail(name, cat("padding '", padding, "' is not supported"));
    if (groups < 1 || channels % groups != 0)
      fail(name, cat("groups ", groups, " does not divide ", channels, " channels"));
    const auto w = weights_of(name);
    // Keras kernel [kh, kw, C/groups, filters] -> [filters, C/groups, kh, kw].
    const auto& kernel = weight(w, name, "kernel", {ks[0], ks[1], channels / groups, filters});
    const std::int64_t cg = channels / groups;
    std::vector<float> oihw(kernel.first.size());
    for (std::int64_t y = 0; y < ks[0]; ++y)
      for (std::int64_t xx = 0; xx < ks[1]; ++xx)
        for (std::int64_t c = 0; c < cg; ++c)
          for (std::int64_t o = 0; o < filters; ++o)
            oihw[static_cast<std::size_t>(((o * cg + c) * ks[0] + y) * ks[1] + xx)] =
                kernel.first[static_cast<std::size_t>(((y * ks[1] + xx) * cg + c) * filters + o)];
    std::vector<Vertex> inputs = {x.v,
                                  constant(name + "/kernel", {filters, cg, ks[0], ks[1]}, std::move(oihw))};
    const bool use_bias = cfg.boolean_or("use_bias", true);
    if (use_bias) {
      const auto& bias = weight(w, name, "bias", {filters});
      inputs.push_back(constant(name + "/bias", bias.second, bias.first));
    }
    const Vertex v = add_op(OpKind::conv, name, inputs, "Conv2D");
    Op& op = op_of(v);
    op.int_lists["kernel_shape"] = ks;
    op.int_lists["strides"] = st;
    op.int_lists["dilations"] = dl;
    op.ints["group"] = groups;
    op.strings["auto_pad"] = padding == "same" ? "SAME_UPPER" : "VALID";
    const bool same = padding == "same";
    const std::int64_t oh = window_out(h, ks[0], st[0], dl[0], same);
    const std::int64_t ow = window_out(wd, ks[1], st[1], dl[1], same);
    if (oh < 1 || ow < 1)
      fail(name, cat("kernel ", ks[0], "x", ks[1], " does not fit the ", h, "x", wd, " input"));
    const Shape shape =
        channels_first_ ? Shape{x.shape[0], filters, oh, ow} : Shape{x.shape[0], oh, ow, filters};
    return activation({v, shape, x.nchw}, activation_of(cfg), name);
  }

  void check_format(const std::string& name, const Cfg& cfg) {
    const bool first = str(cfg, "data_format", "channels_last") == "channels_first";
    if (!format_seen_) {
      channels_first_ = first;
      format_seen_ = true;
    } else if (first != channels_first_) {
      fail(name, "mixes data_format channels_first and channels_last in one model (not supported)");
    }
  }

  KTensor pool2d(const std::string& cls, const std::string& name, const Cfg& cfg, const KTensor& in) {
    if (in.shape.size() != 4)
      fail(name, cat(cls, " input has shape ", shape_str(in.shape), ", expected rank 4"));
    check_format(name, cfg);
    const KTensor x = to_nchw(in, name);
    const auto ps = pair_of(cfg, "pool_size", 2);
    const auto st = cfg.has("strides") ? pair_of(cfg, "strides", 1) : ps;
    const std::string padding = str(cfg, "padding", "valid");
    if (padding != "valid" && padding != "same") fail(name, cat("padding '", padding, "' is not supported"));
    const bool is_max = cls.rfind("Max", 0) == 0;
    const Vertex v = add_op(is_max ? OpKind::max_pool : OpKind::average_pool, name, {x.v}, cls);
    Op& op = op_of(v);
    op.int_lists["kernel_shape"] = ps;
    op.int_lists["strides"] = st;
    op.strings["auto_pad"] = padding == "same" ? "SAME_UPPER" : "VALID";
    op.ints["count_include_pad"] = 0;  // TensorFlow averages over the real inputs only
    const bool same = padding == "same";
    const std::int64_t h = x.shape[channels_first_ ? 2 : 1];
    const std::int64_t wd = x.shape[channels_first_ ? 3 : 2];
    const std::int64_t c = x.shape[channels_first_ ? 1 : 3];
    const std::int64_t oh = window_out(h, ps[0], st[0], 1, same);
    const std::int64_t ow = window_out(wd, ps[1], st[1], 1, same);
    if (oh < 1 || ow < 1)
      fail(name, cat("pool ", ps[0], "x", ps[1], " does not fit the ", h, "x", wd, " input"));
    const Shape shape = channels_first_ ? Shape{x.shape[0], c, oh, ow} : Shape{x.shape[0], oh, ow, c};
    return {v, shape, x.nchw};
  }

  KTensor global_pool(const std::string& name, const Cfg& cfg, const KTensor& in) {
    if (in.shape.size() != 4) fail(name, cat("input has shape ", shape_str(in.shape), ", expected rank 4"));
    check_format(name, cfg);
    if (cfg.boolean_or("keepdims", false)) fail(name, "keepdims = true is not supported");
    const KTensor x = to_nchw(in, name);
    const Vertex g = add_op(OpKind::global_average_pool, name, {x.v}, "GlobalAveragePooling2D");
    const Vertex f = add_op(OpKind::flatten, name + "/flatten", {g}, "GlobalAveragePooling2D");
    op_of(f).ints["axis"] = 1;
    const std::int64_t c = x.shape[channels_first_ ? 1 : 3];
    return {f, {x.shape[0], c}, false};
  }

  KTensor batch_norm(const std::string& name, const Cfg& cfg, const KTensor& in) {
    KTensor x = in.shape.size() == 4 ? to_nchw(in, name) : in;
    if (x.shape.size() < 2) fail(name, cat("input has shape ", shape_str(x.shape), ", expected rank >= 2"));
    std::int64_t axis = static_cast<std::int64_t>(x.shape.size()) - 1;
    if (cfg.has("axis")) {
      const Cfg a = cfg.at("axis");
      if (a.is_array()) {
        if (a.size() != 1) fail(name, "BatchNormalization over several axes is not supported");
        axis = keras_axis(a.at(0), x.shape.size());
      } else {
        axis = keras_axis(a, x.shape.size());
      }
    }
    if (internal_axis(x, axis) != 1) {
      fail(name, cat("BatchNormalization axis ", axis, " of a ", shape_str(x.shape),
                     " tensor is not its channel axis (only the channel axis is supported)"));
    }
    const std::int64_t channels = x.shape[static_cast<std::size_t>(axis)];
    if (channels < 1) fail(name, cat("input has shape ", shape_str(x.shape), " (unknown channel count)"));
    const auto w = weights_of(name);
    const bool scale = cfg.boolean_or("scale", true);
    const bool center = cfg.boolean_or("center", true);
    const std::vector<float> ones(static_cast<std::size_t>(channels), 1.0F);
    const std::vector<float> zeros(static_cast<std::size_t>(channels), 0.0F);
    const std::vector<float> gamma = scale ? weight(w, name, "gamma", {channels}).first : ones;
    const std::vector<float> beta = center ? weight(w, name, "beta", {channels}).first : zeros;
    const auto& mean = weight(w, name, "moving_mean", {channels});
    const auto& var = weight(w, name, "moving_variance", {channels});
    const Vertex v =
        add_op(OpKind::batch_norm, name,
               {x.v, constant(name + "/gamma", {channels}, gamma), constant(name + "/beta", {channels}, beta),
                constant(name + "/moving_mean", {channels}, mean.first),
                constant(name + "/moving_variance", {channels}, var.first)},
               "BatchNormalization");
    op_of(v).floats["epsilon"] = cfg.number_or("epsilon", 1e-3, 0.0);  // Keras default 1e-3
    return {v, x.shape, x.nchw};
  }

  // --- model structure ---

  // The "config" object of a layer, for typed reads whose errors name the file and the layer.
  Cfg layer_config(const Json& layer, const std::string& name) const {
    return {layer.at("config"), cat(file_, ": layer '", name, "'"), "config"};
  }

  static std::string class_of(const Json& layer) { return layer.at("class_name").get<std::string>(); }
  static std::string name_of(const Json& layer) {
    if (layer.contains("name") && layer["name"].is_string()) return layer["name"];
    return layer.at("config").at("name").get<std::string>();
  }

  void check_layers(const Json& layers) {
    std::vector<std::string> bad;
    std::set<std::string> classes;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string cls = class_of(layers[i]);
      if (!supported_layers().contains(cls)) {
        bad.push_back(cat("layer ", i, " '", name_of(layers[i]), "' (", cls, ")"));
        classes.insert(cls);
      }
    }
    if (bad.empty()) return;
    std::string what;
    for (const auto& b : bad)
      what += "\n  " + b;
    std::string cls_text;
    for (const auto& c : classes)
      cls_text += (cls_text.empty() ? "" : ", ") + c;
    std::string supported;
    for (const auto& s : supported_layers())
      supported += (supported.empty() ? "" : " ") + s;
    throw ModelError(cat(file_, ": ", bad.size(), " unsupported layer", bad.size() == 1 ? "" : "s", " (",
                         cls_text, "):", what, "\nsupported layers: ", supported));
  }

  void finish_output(const KTensor& t, const std::string& name) {
    const KTensor out = to_keras(t, name);
    const Vertex v = add_op(OpKind::output, name + "/output", {out.v}, "output");
    op_of(v).order = INT_MAX;
  }

  void build(const Json& config) {
    const std::string cls = class_of(config);
    const Json& body = config.at("config");
    if (cls == "Sequential") {
      const Json& layers = body.is_array() ? body : body.at("layers");
      check_layers(layers);
      std::optional<KTensor> x;
      for (std::size_t i = 0; i < layers.size(); ++i) {
        const Json& l = layers[i];
        const std::string lcls = class_of(l);
        const std::string lname = name_of(l);
        const Cfg cfg = layer_config(l, lname);
        if (lcls == "InputLayer") {
          if (x) fail(lname, "InputLayer after the first layer");
          x = input_layer(lname, cfg);
          continue;
        }
        if (!x) {
          // Old Sequential files put the input shape on the first layer; newer ones in build_input_shape.
          if (cfg.has("batch_input_shape")) {
            x = input_layer("input", cfg);
          } else if (!body.is_array() && body.contains("build_input_shape") &&
                     body["build_input_shape"].is_array()) {
            const Json wrapped{{"batch_input_shape", body["build_input_shape"]}};
            x = input_layer("input", Cfg(wrapped, cat(file_, ": model_config"), "config.build_input_shape"));
          } else {
            fail(lname,
                 "the Sequential model has no input shape (no InputLayer, batch_input_shape or "
                 "build_input_shape)");
          }
        }
        x = layer(lcls, lname, cfg, {*x});
      }
      if (!x) throw ModelError(cat(file_, ": the Sequential model has no layers"));
      finish_output(*x, "model");
      return;
    }
    if (cls != "Functional" && cls != "Model") {
      throw ModelError(
          cat(file_, ": model class '", cls, "' is not supported (Sequential, Functional / Model)"));
    }
    const Json& layers = body.at("layers");
    check_layers(layers);
    std::map<std::string, const Json*> by_name;
    for (const auto& l : layers)
      by_name[name_of(l)] = &l;
    // Outputs per (layer, node index); layers are created in passes until every node has its inputs.
    std::map<std::pair<std::string, std::int64_t>, KTensor> made;
    std::map<std::string, std::size_t> nodes_done;
    bool progress = true;
    while (progress) {
      progress = false;
      for (const auto& l : layers) {
        const std::string lname = name_of(l);
        const std::string lcls = class_of(l);
        if (lcls == "InputLayer") {
          if (!made.contains({lname, 0})) {
            made[{lname, 0}] = input_layer(lname, layer_config(l, lname));
            progress = true;
          }
          continue;
        }
        const Json& nodes = l.at("inbound_nodes");
        for (std::size_t k = nodes_done[lname]; k < nodes.size(); ++k) {
          std::vector<std::pair<std::string, std::int64_t>> refs = node_inputs(nodes[k], lname);
          std::vector<KTensor> ins;
          bool ready = true;
          for (const auto& r : refs) {
            if (!by_name.contains(r.first)) fail(lname, cat("input from unknown layer '", r.first, "'"));
            const auto it = made.find(r);
            if (it == made.end()) {
              ready = false;
              break;
            }
            ins.push_back(it->second);
          }
          if (!ready) break;
          const std::string op_name = k == 0 ? lname : cat(lname, "/call", k);
          made[{lname, static_cast<std::int64_t>(k)}] = layer(lcls, op_name, layer_config(l, lname), ins);
          nodes_done[lname] = k + 1;
          progress = true;
        }
      }
    }
    for (const auto& l : layers) {
      const std::string lname = name_of(l);
      if (class_of(l) != "InputLayer" && nodes_done[lname] < l.at("inbound_nodes").size())
        fail(lname, "its inputs are never computed (cycle or missing layer)");
    }
    const auto outs = tensor_refs(body.at("output_layers"));
    for (const auto& r : outs) {
      const auto it = made.find(r);
      if (it == made.end())
        throw ModelError(cat(file_, ": output layer '", r.first, "' node ", r.second, " is never computed"));
      finish_output(it->second, r.first);
    }
  }

  // [[name, node, tensor], ...] or a single [name, node, tensor].
  static std::vector<std::pair<std::string, std::int64_t>> tensor_refs(const Json& j) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    if (j.is_array() && !j.empty() && j[0].is_string()) {
      out.emplace_back(j[0].get<std::string>(), j.at(1).get<std::int64_t>());
      return out;
    }
    for (const auto& e : j) {
      const auto sub = tensor_refs(e);
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }

  // Keras tensors nested anywhere in a Keras 3 node's args.
  static void collect_keras_tensors(const Json& j, std::vector<std::pair<std::string, std::int64_t>>& out) {
    if (j.is_object()) {
      if (j.contains("class_name") && j["class_name"] == "__keras_tensor__") {
        const Json& h = j.at("config").at("keras_history");
        out.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::int64_t>());
        return;
      }
      for (const auto& [k, v] : j.items())
        collect_keras_tensors(v, out);
    } else if (j.is_array()) {
      for (const auto& v : j)
        collect_keras_tensors(v, out);
    }
  }

  std::vector<std::pair<std::string, std::int64_t>> node_inputs(const Json& node,
                                                                const std::string& layer_name) const {
    std::vector<std::pair<std::string, std::int64_t>> out;
    if (node.is_object()) {  // Keras 3
      collect_keras_tensors(node.at("args"), out);
    } else {  // Keras 2: [[name, node, tensor, kwargs], ...]
      for (const auto& e : node) {
        if (!e.is_array() || e.size() < 3) fail(layer_name, "unexpected inbound node format");
        out.emplace_back(e[0].get<std::string>(), e[1].get<std::int64_t>());
      }
    }
    if (out.empty()) fail(layer_name, "a call with no input tensors");
    return out;
  }

  H5Reader h5_;
  std::string file_;
  std::string weights_root_;
  Network net_;
  std::set<std::string> names_;
  int order_ = 0;
  bool channels_first_ = false;
  bool format_seen_ = false;
};

}  // namespace

Network load_keras(const std::filesystem::path& file) {
  return Loader(file).load();
}

}  // namespace spikesim::models
