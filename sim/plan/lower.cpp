#include "sim/plan/lower.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <tuple>

#include "base/text.hpp"
#include "models/check.hpp"
#include "models/error.hpp"
#include "models/mapped_file.hpp"
#include "sim/plan/fuse.hpp"

namespace spikesim::sim {

namespace {

using models::OpKind;
using ops::Shape;

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

class Lowering {
 public:
  Lowering(const models::Network& net, const LowerOptions& options) : net_(net), options_(options) {
    plan_.source = net.source;
  }

  Plan run() {
    const auto order = net_.execution_order();
    plan_.kind = kind_of(order);
    std::vector<models::Vertex> outputs;
    for (const models::Vertex v : order) {
      const models::Op& op = net_.graph[v];
      try {
        if (op.kind == OpKind::output) {
          outputs.push_back(v);
          continue;
        }
        const int id = lower(v, op);
        if (!values_of_.contains(v)) values_of_[v] = {id};
        for (const int out : values_of_[v]) {
          if (out >= 0) value(out).consumers = static_cast<int>(boost::out_degree(v, net_.graph));
        }
      } catch (const std::invalid_argument& e) {
        fail(op, e.what());
      }
    }
    if (plan_.kind == PlanKind::trace) return std::move(plan_);
    if (plan_.input < 0) throw models::ModelError(cat(plan_.source, ": the model has no input"));
    if (outputs.empty()) throw models::ModelError(cat(plan_.source, ": the model has no output"));
    const models::Vertex first = *std::min_element(outputs.begin(), outputs.end());
    const models::Op& out_op = net_.graph[first];
    plan_.output = input_of(first, 0);
    plan_.output_name = out_op.name;
    const PlanValue& out = value(plan_.output);
    if (out.constant) fail(out_op, "the model output does not depend on the input");
    if (plan_.batch > 1 && !out.sample_major)
      fail(out_op, "samples are not contiguous in the output; run with a batch of 1");
    return std::move(plan_);
  }

 private:
  // Token plans start from token ids, traces from recorded activations; anything else is a network.
  PlanKind kind_of(const std::vector<models::Vertex>& order) const {
    for (const models::Vertex v : order) {
      const models::Op& op = net_.graph[v];
      if (op.kind != OpKind::input) continue;
      if (op.strings.contains("input") && op.strings.at("input") == "token_ids") return PlanKind::tokens;
      if (op.tensors.contains("value")) return PlanKind::trace;
    }
    return PlanKind::network;
  }

  [[noreturn]] void fail(const models::Op& op, const std::string& why) const {
    throw models::ModelError(cat(plan_.source, ": op '", op.name, "' (",
                                 op.source_op.empty() ? std::string(models::name(op.kind)) : op.source_op,
                                 "): ", why));
  }

  PlanValue& value(int id) { return plan_.values[sz(id)]; }
  [[nodiscard]] const PlanValue& value(int id) const { return plan_.values[sz(id)]; }

  // Value id on input `slot` of v, or -1 when the slot is empty.
  int input_of(models::Vertex v, int slot) const {
    for (auto [e, end] = boost::in_edges(v, net_.graph); e != end; ++e) {
      if (net_.graph[*e].slot != slot) continue;
      const std::vector<int>& outs = values_of_.at(boost::source(*e, net_.graph));
      const auto output = static_cast<std::size_t>(net_.graph[*e].output);
      if (output >= outs.size()) {
        throw std::invalid_argument(cat("input ", slot, " reads output ", output, " of '",
                                        net_.graph[boost::source(*e, net_.graph)].name, "', which has ",
                                        outs.size()));
      }
      return outs[output];
    }
    return -1;
  }
  int slots_of(models::Vertex v) const {
    int n = 0;
    for (auto [e, end] = boost::in_edges(v, net_.graph); e != end; ++e)
      n = std::max(n, net_.graph[*e].slot + 1);
    return n;
  }
  int need(models::Vertex v, const models::Op& op, int slot, const char* what) const {
    const int id = input_of(v, slot);
    if (id < 0) fail(op, cat("input ", slot, " (", what, ") missing"));
    return id;
  }

  std::vector<std::int64_t> const_ints(int id, const models::Op& op, const char* what) {
    const PlanValue& pv = value(id);
    if (!pv.constant) fail(op, cat(what, " must be a constant (computed from the input here)"));
    if (pv.integer) return pv.ints;
    std::vector<std::int64_t> out;
    for (const float f : pv.data) {
      if (std::trunc(f) != f) fail(op, cat(what, " must hold integers, found ", f));
      out.push_back(static_cast<std::int64_t>(f));
    }
    return out;
  }
  const std::vector<float>& const_floats(int id, const models::Op& op, const char* what) {
    const PlanValue& pv = value(id);
    if (!pv.constant) fail(op, cat(what, " must be a constant"));
    return pv.data;
  }

  int add_value(PlanValue v) {
    plan_.values.push_back(std::move(v));
    return static_cast<int>(plan_.values.size()) - 1;
  }
  int add_runtime(const std::string& name, const Shape& shape) {
    PlanValue v;
    v.name = name;
    v.shape = shape;
    v.slot = static_cast<int>(plan_.slot_size.size());
    plan_.slot_size.push_back(ops::numel(shape) / plan_.batch);  // per row (sample or token)
    return add_value(std::move(v));
  }
  int add_constant(const std::string& name, const Shape& shape, std::vector<float> data) {
    PlanValue v;
    v.name = name;
    v.shape = shape;
    v.constant = true;
    v.data = std::move(data);
    return add_value(std::move(v));
  }
  // A value that shares the bytes of `src` under a new shape.
  int add_view(const std::string& name, int src, const Shape& shape, const models::Op& op) {
    const PlanValue s = value(src);
    if (ops::numel(shape) != ops::numel(s.shape))
      fail(op, cat("cannot view ", shape_str(s.shape), " (", ops::numel(s.shape), " values) as ",
                   shape_str(shape)));
    PlanValue v = s;
    v.name = name;
    v.shape = shape;
    v.site_step = -1;
    v.consumers = 0;
    v.sample_major = s.sample_major && (s.constant || (!shape.empty() && shape[0] % plan_.batch == 0));
    return add_value(std::move(v));
  }

  // Adds `step` producing a value of `shape`; folds it when every input is constant.
  int emit(Step step, const Shape& shape) {
    bool all_constant = true;
    bool after_site = false;
    bool sample_major = true;
    for (const int id : step.in) {
      const PlanValue& pv = value(id);
      all_constant = all_constant && pv.constant;
      after_site = after_site || pv.after_site;
      if (!pv.constant) {
        sample_major = sample_major && pv.sample_major && pv.shape.size() == shape.size() && !shape.empty() &&
                       pv.shape[0] == shape[0];
      }
    }
    if (all_constant) {
      std::vector<std::span<const float>> ins;
      for (const int id : step.in)
        ins.emplace_back(value(id).data);
      std::vector<float> out(sz(ops::numel(shape)));
      run_step_dense(step, ins, {std::span<float>(out)});
      return add_constant(step.name, shape, std::move(out));
    }
    const bool synaptic = step.synaptic();
    const int id = add_runtime(step.name, shape);
    PlanValue& pv = value(id);
    pv.after_site = after_site || synaptic;
    pv.sample_major = sample_major;
    step.out = {id};
    if (synaptic) {
      const PlanValue& x = value(step.in[0]);
      step.input_layer = !x.after_site;
      if (plan_.batch > 1 && !x.sample_major)
        throw std::invalid_argument("samples are not contiguous in this site's input; run with a batch of 1");
      pv.site_step = static_cast<int>(plan_.steps.size());
    }
    plan_.steps.push_back(std::move(step));
    return id;
  }

  Step make_step(StepParams params, const models::Op& op, std::vector<int> in) const {
    Step s;
    s.params = std::move(params);
    s.name = op.name;
    if (op.ints.contains("index")) s.index = op.ints.at("index");
    s.op = op.source_op.empty() ? std::string(models::name(op.kind)) : op.source_op;
    s.in = std::move(in);
    return s;
  }

  static std::int64_t axis_of(std::int64_t axis, std::size_t rank, bool allow_end = false) {
    const auto r = static_cast<std::int64_t>(rank) + (allow_end ? 1 : 0);
    const std::int64_t a = axis < 0 ? axis + r : axis;
    if (a < 0 || a >= r) throw std::invalid_argument(cat("axis ", axis, " is out of range for rank ", rank));
    return a;
  }
  static std::int64_t prod(const Shape& s, std::size_t from, std::size_t to) {
    std::int64_t p = 1;
    for (std::size_t i = from; i < to; ++i)
      p *= s[i];
    return p;
  }
  std::int64_t per_sample(const Shape& s) const { return ops::numel(s) / plan_.batch; }

  // --- ops ---

  int lower(models::Vertex v, const models::Op& op) {
    switch (op.kind) {
      case OpKind::input:
        return lower_input(op);
      case OpKind::constant:
        return lower_constant(op);
      case OpKind::conv:
        return lower_conv(v, op);
      case OpKind::gemm:
        return lower_gemm(v, op);
      case OpKind::matmul:
        return lower_matmul(v, op);
      case OpKind::add:
      case OpKind::sub:
      case OpKind::mul:
      case OpKind::div:
        return lower_binary(v, op);
      case OpKind::relu:
      case OpKind::leaky_relu:
      case OpKind::sigmoid:
      case OpKind::tanh:
      case OpKind::clip:
        return lower_unary(v, op);
      case OpKind::max_pool:
      case OpKind::average_pool:
        return lower_pool(v, op);
      case OpKind::global_average_pool:
        return lower_global_pool(v, op);
      case OpKind::batch_norm:
        return lower_batch_norm(v, op);
      case OpKind::flatten: {
        const int x = need(v, op, 0, "data");
        const Shape& s = value(x).shape;
        const std::int64_t axis = axis_of(op.ints.at("axis"), s.size(), true);
        return add_view(op.name, x, {prod(s, 0, sz(axis)), prod(s, sz(axis), s.size())}, op);
      }
      case OpKind::reshape:
        return lower_reshape(v, op);
      case OpKind::transpose:
        return lower_transpose(v, op);
      case OpKind::squeeze:
      case OpKind::unsqueeze:
        return lower_squeeze(v, op);
      case OpKind::concat:
        return lower_concat(v, op);
      case OpKind::softmax:
      case OpKind::log_softmax:
        return lower_softmax(v, op);
      case OpKind::identity: {
        const int x = need(v, op, 0, "input");
        return add_view(op.name, x, value(x).shape, op);
      }
      case OpKind::linear:
        return lower_linear(v, op);
      case OpKind::embedding:
        return lower_embedding(v, op);
      case OpKind::rmsnorm:
        return lower_rmsnorm(v, op);
      case OpKind::rope:
        return lower_rope(v, op);
      case OpKind::attention:
        return lower_attention(v, op);
      case OpKind::silu_mul:
        return lower_silu_mul(v, op);
      case OpKind::moe:
        return lower_moe(v, op);
      case OpKind::gla:
        return lower_gla(v, op);
      case OpKind::output:
        break;
    }
    fail(op, "op kind not supported here");
  }

  int lower_input(const models::Op& op) {
    if (plan_.kind == PlanKind::trace) return lower_recorded(op);
    if (plan_.kind == PlanKind::tokens) {
      if (plan_.input >= 0) fail(op, "a second token input");
      PlanValue v;  // token ids: read by the embedding from the run's tokens, no float buffer
      v.name = op.name;
      v.shape = {1, 1};
      plan_.input = add_value(std::move(v));
      plan_.input_name = op.name;
      plan_.vocab = op.ints.at("vocab");
      plan_.context = op.ints.at("context");
      return plan_.input;
    }
    if (plan_.input >= 0)
      fail(op,
           cat("the model has a second input (first: '", plan_.input_name, "'); spikesim feeds one input"));
    if (!op.int_lists.contains("shape")) fail(op, "input without a shape");
    Shape shape = op.int_lists.at("shape");
    if (shape.size() < 2)
      fail(op,
           cat("input shape ", shape_str(shape), " has no batch dimension (expected [N, ...], rank >= 2)"));
    for (std::size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] < 1)
        fail(op, cat("input dimension ", d, " of ", shape_str(shape),
                     " is dynamic; spikesim needs a fixed sample shape"));
    }
    plan_.dynamic_batch = shape[0] < 1;
    plan_.batch = plan_.dynamic_batch ? options_.batch : shape[0];
    if (plan_.batch < 1) fail(op, cat("batch must be >= 1, got ", plan_.batch));
    shape[0] = plan_.batch;
    const int id = add_runtime(op.name, shape);
    plan_.input = id;
    plan_.input_name = op.name;
    plan_.input_shape = shape;
    return id;
  }

  int lower_constant(const models::Op& op) {
    const models::Tensor& t = net_.tensor(op.tensors.at("value"));
    const int id = add_constant(op.name, t.shape, t.to_f32());
    if (t.dtype == models::DType::i64) {
      value(id).integer = true;
      value(id).ints = t.to_i64();
    }
    return id;
  }

  // ONNX lists per spatial axis: kernel_shape [k...], strides, dilations, pads [begin..., end...].
  static std::vector<std::int64_t> list(const models::Op& op, const char* name, std::size_t n,
                                        std::int64_t fallback) {
    const auto it = op.int_lists.find(name);
    if (it == op.int_lists.end() || it->second.empty()) return std::vector<std::int64_t>(n, fallback);
    if (it->second.size() != n)
      throw std::invalid_argument(cat(name, " has ", it->second.size(), " values but expected ", n));
    return it->second;
  }

  // Windows of a conv / pool over x [N][C][spatial...] (1 or 2 spatial axes); returns {h, w}.
  std::pair<ops::Window, ops::Window> windows(const models::Op& op, const Shape& x, const Shape& kernel,
                                              bool ceil_mode, bool dilations) {
    const std::size_t spatial = x.size() - 2;
    const auto strides = list(op, "strides", spatial, 1);
    const auto dil = dilations ? list(op, "dilations", spatial, 1) : std::vector<std::int64_t>(spatial, 1);
    const auto pads = list(op, "pads", 2 * spatial, 0);
    const std::string auto_pad = op.strings.contains("auto_pad") ? op.strings.at("auto_pad") : "NOTSET";
    std::vector<ops::Window> w;
    for (std::size_t a = 0; a < spatial; ++a) {
      w.push_back(ops::make_window(x[2 + a], kernel[a], strides[a], dil[a], pads[a], pads[spatial + a],
                                   auto_pad, ceil_mode, cat("axis ", a)));
    }
    if (spatial == 1) return {ops::Window{}, w[0]};
    return {w[0], w[1]};
  }

  int lower_conv(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "X");
    const int wi = need(v, op, 1, "W");
    const int bi = input_of(v, 2);
    const Shape x = value(xi).shape;
    if (x.size() != 3 && x.size() != 4)
      fail(op,
           cat("input has shape ", shape_str(x), " but expected [N, C, H, W] or [N, C, L] (1-D / 2-D conv)"));
    const PlanValue& w = value(wi);
    if (!w.constant) fail(op, "weights W are not constant (computed from the input)");
    const std::size_t spatial = x.size() - 2;
    const std::int64_t group = op.ints.contains("group") ? op.ints.at("group") : 1;
    if (w.shape.size() != x.size())
      fail(op, cat("weight W has shape ", shape_str(w.shape), " but expected rank ", x.size(),
                   " [M, C/group, k...]"));
    if (group < 1 || x[1] % group != 0 || w.shape[1] * group != x[1]) {
      fail(op, cat("weight W has shape ", shape_str(w.shape), ": ", w.shape[1],
                   " input channels per group x group ", group, " but the input has ", x[1],
                   " channels (input ", shape_str(x), ")"));
    }
    const Shape kernel(w.shape.begin() + 2, w.shape.end());
    if (op.int_lists.contains("kernel_shape") && op.int_lists.at("kernel_shape") != kernel) {
      fail(op, cat("kernel_shape ", shape_str(op.int_lists.at("kernel_shape")), " does not match W ",
                   shape_str(w.shape)));
    }
    const auto [wh, ww] = windows(op, x, kernel, false, true);
    ConvGeometry g;
    g.in_channels = x[1];
    g.in_h = spatial == 2 ? x[2] : 1;
    g.in_w = x.back();
    g.out_channels = w.shape[0];
    g.kernel_h = wh.kernel;
    g.kernel_w = ww.kernel;
    g.stride_h = wh.stride;
    g.stride_w = ww.stride;
    g.pad_top = wh.pad_begin;
    g.pad_bottom = wh.pad_end;
    g.pad_left = ww.pad_begin;
    g.pad_right = ww.pad_end;
    g.dilation_h = wh.dilation;
    g.dilation_w = ww.dilation;
    g.groups = group;
    g.finish(op.name);
    std::vector<float> bias;
    if (bi >= 0) {
      bias = const_floats(bi, op, "bias B");
      if (static_cast<std::int64_t>(bias.size()) != g.out_channels)
        fail(op, cat("bias B has ", bias.size(), " values but W has ", g.out_channels, " output channels"));
    }
    Step s = make_step(ConvStep{std::make_shared<ConvWeights>(ConvWeights::lower(op.name, g, w.data, bias))},
                       op, {xi});
    s.macs_per_row = g.macs_per_sample() * (x[0] / plan_.batch);
    s.in_per_row = g.in_size() * (x[0] / plan_.batch);
    s.out_per_row = g.out_size() * (x[0] / plan_.batch);
    s.weights = g.weight_count() + static_cast<std::int64_t>(bias.size());
    const Shape out =
        spatial == 2 ? Shape{x[0], g.out_channels, g.out_h, g.out_w} : Shape{x[0], g.out_channels, g.out_w};
    return emit(std::move(s), out);
  }

  // A linear site y [..., n] = x [..., k] W^T + b for W [n][k].
  int emit_linear(const models::Op& op, int xi, const std::vector<float>& w_row_major, std::int64_t n,
                  std::int64_t k, const std::vector<float>& bias) {
    check_linear_input(op, xi, k);
    return emit_linear(op, xi, LinearWeights::from_row_major(op.name, w_row_major, n, k, bias));
  }
  void check_linear_input(const models::Op& op, int xi, std::int64_t k) const {
    const Shape& x = value(xi).shape;
    if (x.empty() || x.back() != k)
      fail(op, cat("input has shape ", shape_str(x), " but the weight expects ", k,
                   " features in the last dimension"));
  }
  int emit_linear(const models::Op& op, int xi, LinearWeights weights) {
    const Shape x = value(xi).shape;
    const std::int64_t n = weights.out;
    const std::int64_t k = weights.in;
    check_linear_input(op, xi, k);
    const auto bias_count = static_cast<std::int64_t>(weights.bias.size());
    const std::int64_t rows = ops::numel(x) / k;
    Step s = make_step(LinearStep{std::make_shared<LinearWeights>(std::move(weights)),
                                  {n},
                                  plan_.kind == PlanKind::tokens ? 0 : rows},
                       op, {xi});
    s.members = {op.name};
    if (op.strings.contains("site")) s.site = op.strings.at("site");
    s.macs_per_row = rows * n * k / plan_.batch;
    s.in_per_row = k;
    s.out_per_row = n;
    s.weights = n * k + bias_count;
    Shape out = x;
    out.back() = n;
    return emit(std::move(s), out);
  }

  // A linear site with shapes only: every synapse taken as non-zero (effective SOPs = SOPs), a zero bias
  // when the model has one (so bias adds are counted), no weight values.
  int emit_shape_only_linear(const models::Op& op, int xi, std::int64_t n, std::int64_t k, bool bias) {
    const Shape x = value(xi).shape;
    if (x.empty() || x.back() != k)
      fail(op, cat("input has shape ", shape_str(x), " but the weight expects ", k,
                   " features in the last dimension"));
    auto w = std::make_shared<LinearWeights>();
    w->name = op.name;
    w->in = k;
    w->out = n;
    w->fanout_nonzero.assign(sz(k), n);
    if (bias) w->bias.assign(sz(n), 0.0F);
    Step s = make_step(LinearStep{std::move(w), {n}, 0}, op, {xi});
    s.members = {op.name};
    if (op.strings.contains("site")) s.site = op.strings.at("site");
    s.macs_per_row = n * k;
    s.in_per_row = k;
    s.out_per_row = n;
    s.weights = n * k + (bias ? n : 0);
    Shape out = x;
    out.back() = n;
    return emit(std::move(s), out);
  }

  int emit_transpose(const models::Op& op, int xi, Shape perm, const std::string& suffix) {
    const Shape x = value(xi).shape;
    Step s = make_step(TransposeStep{perm, x}, op, {xi});
    s.name += suffix;
    Shape out(x.size());
    for (std::size_t d = 0; d < x.size(); ++d)
      out[d] = x[sz(perm[d])];
    s.in_per_row = per_sample(x);
    s.out_per_row = s.in_per_row;
    return emit(std::move(s), out);
  }

  int emit_matmul(const models::Op& op, int ai, int bi, const std::string& suffix) {
    Shape a = value(ai).shape;
    Shape b = value(bi).shape;
    if (a.empty() || b.empty()) fail(op, "matmul of a scalar");
    const bool a_vec = a.size() == 1;
    const bool b_vec = b.size() == 1;
    if (a_vec) a.insert(a.begin(), 1);
    if (b_vec) b.push_back(1);
    const std::int64_t m = a[a.size() - 2];
    const std::int64_t k = a.back();
    const std::int64_t n = b.back();
    if (b[b.size() - 2] != k) {
      fail(op, cat("inner dimensions differ: A ", shape_str(value(ai).shape), " x B ",
                   shape_str(value(bi).shape)));
    }
    const Shape a_batch(a.begin(), a.end() - 2);
    const Shape b_batch(b.begin(), b.end() - 2);
    const Shape out_batch = ops::broadcast_shapes(a_batch, b_batch, "matmul batch dimensions");
    Step s = make_step(MatmulStep{out_batch, ops::broadcast_strides(a_batch, out_batch),
                                  ops::broadcast_strides(b_batch, out_batch), m, k, n},
                       op, {ai, bi});
    s.name += suffix;
    Shape out = out_batch;
    if (!a_vec) out.push_back(m);
    if (!b_vec) out.push_back(n);
    s.macs_per_row = ops::numel(out_batch) * m * k * n / plan_.batch;
    s.in_per_row = per_sample(value(ai).shape);
    s.out_per_row = ops::numel(out) / plan_.batch;
    return emit(std::move(s), out);
  }

  int emit_binary(const models::Op& op, ops::Binary kind, int ai, int bi, const std::string& suffix) {
    const Shape& a = value(ai).shape;
    const Shape& b = value(bi).shape;
    const Shape out = ops::broadcast_shapes(a, b, "element-wise inputs");
    BinaryStep p{kind, out, ops::broadcast_strides(a, out), ops::broadcast_strides(b, out), false};
    // Token plans: a residual add of two [rows][width] values, element by element whatever the rows.
    p.rows_elementwise =
        plan_.kind == PlanKind::tokens && a == b && !value(ai).constant && !value(bi).constant;
    if (plan_.kind == PlanKind::tokens && !p.rows_elementwise)
      throw std::invalid_argument(cat("element-wise inputs ", shape_str(a), " and ", shape_str(b),
                                      " must be two token-row values of one shape"));
    Step s = make_step(std::move(p), op, {ai, bi});
    s.name += suffix;
    s.elementwise_per_row = ops::numel(out) / plan_.batch;
    s.in_per_row = s.elementwise_per_row;
    s.out_per_row = s.elementwise_per_row;
    return emit(std::move(s), out);
  }

  int lower_gemm(models::Vertex v, const models::Op& op) {
    int ai = need(v, op, 0, "A");
    int bi = need(v, op, 1, "B");
    const int ci = input_of(v, 2);
    const double alpha = op.floats.contains("alpha") ? op.floats.at("alpha") : 1.0;
    const double beta = op.floats.contains("beta") ? op.floats.at("beta") : 1.0;
    const bool trans_a = op.ints.contains("transA") && op.ints.at("transA") != 0;
    const bool trans_b = op.ints.contains("transB") && op.ints.at("transB") != 0;
    if (value(ai).shape.size() != 2 || value(bi).shape.size() != 2) {
      fail(op, cat("A ", shape_str(value(ai).shape), " and B ", shape_str(value(bi).shape), " must be 2-D"));
    }
    if (trans_a) ai = emit_transpose(op, ai, {1, 0}, "/transA");
    const Shape a = value(ai).shape;
    const Shape b = value(bi).shape;
    const std::int64_t k = a[1];
    const std::int64_t n = trans_b ? b[0] : b[1];
    if ((trans_b ? b[1] : b[0]) != k) {
      fail(op, cat("A", trans_a ? "^T" : "", " ", shape_str(a), " and B", trans_b ? "^T" : "", " ",
                   shape_str(b), " do not multiply"));
    }
    // C: a per-output bias when it broadcasts along the rows, else a separate add.
    std::vector<float> bias;
    bool c_pending = false;
    if (ci >= 0) {
      const PlanValue& c = value(ci);
      const Shape cs = c.shape;
      (void)ops::broadcast_shapes(cs, {a[0], n}, "Gemm C");
      const bool per_output = ops::numel(cs) == 1 || (cs.size() == 1 && cs[0] == n) ||
                              (cs.size() == 2 && cs[0] == 1 && cs[1] == n);
      if (c.constant && per_output) {
        bias.assign(sz(n), 0.0F);
        for (std::int64_t j = 0; j < n; ++j)
          bias[sz(j)] =
              static_cast<float>(beta * static_cast<double>(c.data[ops::numel(cs) == 1 ? 0 : sz(j)]));
      } else {
        c_pending = true;
      }
    }
    int y = -1;
    if (value(bi).constant) {
      const std::vector<float>& bw = value(bi).data;
      std::vector<float> w(sz(n * k));  // [n][k]
      for (std::int64_t o = 0; o < n; ++o) {
        for (std::int64_t j = 0; j < k; ++j) {
          const float bv = trans_b ? bw[sz(o * k + j)] : bw[sz(j * n + o)];
          w[sz(o * k + j)] = static_cast<float>(alpha * static_cast<double>(bv));
        }
      }
      y = emit_linear(op, ai, w, n, k, bias);
    } else {
      if (trans_b) bi = emit_transpose(op, bi, {1, 0}, "/transB");
      y = emit_matmul(op, ai, bi, "");
      if (alpha != 1.0) {
        const int alpha_id = add_constant(op.name + "/alpha", {}, {static_cast<float>(alpha)});
        y = emit_binary(op, ops::Binary::mul, y, alpha_id, "/alpha");
      }
      if (!bias.empty()) {
        const int b_id = add_constant(op.name + "/bias", {n}, bias);
        y = emit_binary(op, ops::Binary::add, y, b_id, "/bias");
      }
    }
    if (c_pending) {
      int c_id = ci;
      if (beta != 1.0) {
        const int beta_id = add_constant(op.name + "/beta", {}, {static_cast<float>(beta)});
        c_id = emit_binary(op, ops::Binary::mul, ci, beta_id, "/beta");
      }
      y = emit_binary(op, ops::Binary::add, y, c_id, "/C");
    }
    return y;
  }

  int lower_matmul(models::Vertex v, const models::Op& op) {
    const int ai = need(v, op, 0, "A");
    const int bi = need(v, op, 1, "B");
    const PlanValue& b = value(bi);
    if (b.constant && b.shape.size() == 2 && value(ai).shape.size() >= 2 && !value(ai).constant) {
      const std::int64_t k = b.shape[0];
      const std::int64_t n = b.shape[1];
      std::vector<float> w(sz(n * k));  // W = B^T [n][k]
      for (std::int64_t j = 0; j < k; ++j) {
        for (std::int64_t o = 0; o < n; ++o)
          w[sz(o * k + j)] = b.data[sz(j * n + o)];
      }
      return emit_linear(op, ai, w, n, k, {});
    }
    return emit_matmul(op, ai, bi, "");
  }

  // Folds `c` into the bias of the site that produced `x` when `x` feeds only this op and `c` is one value
  // per output channel. Returns the site's output value, or -1 when it does not apply.
  int fold_bias(int x, int c, double sign) {
    const PlanValue& xv = value(x);
    const PlanValue& cv = value(c);
    if (xv.site_step < 0 || xv.consumers != 1 || !cv.constant) return -1;
    Step& site = plan_.steps[sz(xv.site_step)];
    if (plan_.kind == PlanKind::tokens) return -1;
    const Shape& xs = xv.shape;
    const Shape& cs = cv.shape;
    if (cs.size() > xs.size()) return -1;
    // The channel axis: 1 for conv outputs [N, M, ...], the last one for linear outputs.
    const std::size_t channel_axis = site.kind() == StepKind::conv ? 1 : xs.size() - 1;
    const std::int64_t channels = xs[channel_axis];
    std::int64_t c_channels = 1;
    for (std::size_t k = 0; k < cs.size(); ++k) {
      const std::size_t axis = xs.size() - cs.size() + k;
      if (axis == channel_axis) {
        c_channels = cs[k];
      } else if (cs[k] != 1) {
        return -1;
      }
    }
    if (c_channels != 1 && c_channels != channels) return -1;
    std::vector<float>& bias = site.kind() == StepKind::conv ? site.as<ConvStep>().weights->bias
                                                             : site.as<LinearStep>().weights->bias;
    if (bias.empty()) bias.assign(sz(channels), 0.0F);
    for (std::int64_t m = 0; m < channels; ++m)
      bias[sz(m)] += static_cast<float>(sign * static_cast<double>(cv.data[c_channels == 1 ? 0 : sz(m)]));
    site.weights += ops::numel(cs);
    return x;
  }

  int lower_binary(models::Vertex v, const models::Op& op) {
    const int ai = need(v, op, 0, "A");
    const int bi = need(v, op, 1, "B");
    if (op.kind == OpKind::add || op.kind == OpKind::sub) {
      const double sign = op.kind == OpKind::add ? 1.0 : -1.0;
      if (const int folded = fold_bias(ai, bi, sign); folded >= 0) return folded;
      if (op.kind == OpKind::add) {
        if (const int folded = fold_bias(bi, ai, 1.0); folded >= 0) return folded;
      }
    }
    const ops::Binary kind = op.kind == OpKind::add   ? ops::Binary::add
                             : op.kind == OpKind::sub ? ops::Binary::sub
                             : op.kind == OpKind::mul ? ops::Binary::mul
                                                      : ops::Binary::div;
    return emit_binary(op, kind, ai, bi, "");
  }

  int lower_unary(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "X");
    UnaryStep u;
    switch (op.kind) {
      case OpKind::relu:
        u.op = ops::Unary::relu;
        break;
      case OpKind::leaky_relu:
        u.op = ops::Unary::leaky_relu;
        u.params.alpha = static_cast<float>(op.floats.contains("alpha") ? op.floats.at("alpha") : 0.01);
        break;
      case OpKind::sigmoid:
        u.op = ops::Unary::sigmoid;
        break;
      case OpKind::tanh:
        u.op = ops::Unary::tanh;
        break;
      default: {  // clip
        u.op = ops::Unary::clip;
        float lo = -std::numeric_limits<float>::infinity();
        float hi = std::numeric_limits<float>::infinity();
        if (op.floats.contains("min")) lo = static_cast<float>(op.floats.at("min"));
        if (op.floats.contains("max")) hi = static_cast<float>(op.floats.at("max"));
        for (int slot = 1; slot <= 2; ++slot) {
          const int id = input_of(v, slot);
          if (id < 0) continue;
          const auto& vals = const_floats(id, op, slot == 1 ? "min" : "max");
          if (vals.size() != 1)
            fail(op, cat(slot == 1 ? "min" : "max", " must be a scalar, has ", vals.size(), " values"));
          (slot == 1 ? lo : hi) = vals[0];
        }
        u.params.lo = lo;
        u.params.hi = hi;
        break;
      }
    }
    Step s = make_step(u, op, {xi});
    const Shape x = value(xi).shape;
    s.elementwise_per_row = per_sample(x);
    s.in_per_row = s.elementwise_per_row;
    s.out_per_row = s.elementwise_per_row;
    return emit(std::move(s), x);
  }

  int lower_pool(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "X");
    const Shape x = value(xi).shape;
    if (x.size() != 3 && x.size() != 4)
      fail(op, cat("input has shape ", shape_str(x), " but expected [N, C, H, W] or [N, C, L]"));
    const std::size_t spatial = x.size() - 2;
    const Shape kernel = list(op, "kernel_shape", spatial, 1);
    const bool ceil_mode = op.ints.contains("ceil_mode") && op.ints.at("ceil_mode") != 0;
    const bool is_max = op.kind == OpKind::max_pool;
    const auto [wh, ww] = windows(op, x, kernel, ceil_mode, is_max);
    PoolStep p;
    p.pool.h = wh;
    p.pool.w = ww;
    p.pool.count_include_pad = op.ints.contains("count_include_pad") && op.ints.at("count_include_pad") != 0;
    p.planes = x[0] * x[1];
    p.max = is_max;
    const std::int64_t planes_per_sample = p.planes / plan_.batch;
    const std::int64_t taps = ops::pool_taps(p.pool);
    Step s = make_step(p, op, {xi});
    const Shape out = spatial == 2 ? Shape{x[0], x[1], wh.out, ww.out} : Shape{x[0], x[1], ww.out};
    s.elementwise_per_row = taps * planes_per_sample;
    if (!is_max) s.elementwise_per_row += per_sample(out);  // the divisions
    s.in_per_row = per_sample(x);
    s.out_per_row = per_sample(out);
    return emit(std::move(s), out);
  }

  int lower_global_pool(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "X");
    const Shape x = value(xi).shape;
    if (x.size() < 3) fail(op, cat("input has shape ", shape_str(x), " but expected [N, C, spatial...]"));
    Step s = make_step(GlobalPoolStep{x[0] * x[1], prod(x, 2, x.size())}, op, {xi});
    Shape out = x;
    std::fill(out.begin() + 2, out.end(), 1);
    s.elementwise_per_row = per_sample(x) + per_sample(out);
    s.in_per_row = per_sample(x);
    s.out_per_row = per_sample(out);
    return emit(std::move(s), out);
  }

  int lower_batch_norm(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "X");
    const Shape x = value(xi).shape;
    if (x.size() < 2) fail(op, cat("input has shape ", shape_str(x), " but expected [N, C, ...]"));
    const std::int64_t channels = x[1];
    const std::int64_t inner = prod(x, 2, x.size());
    const bool spatial = !op.ints.contains("spatial") || op.ints.at("spatial") != 0;
    const std::int64_t params = spatial ? channels : channels * inner;
    const double eps = op.floats.contains("epsilon") ? op.floats.at("epsilon") : 1e-5;
    std::vector<const std::vector<float>*> p;
    const char* names[] = {"scale", "B", "mean", "var"};
    for (int slot = 1; slot <= 4; ++slot) {
      const auto& vals = const_floats(need(v, op, slot, names[slot - 1]), op, names[slot - 1]);
      if (static_cast<std::int64_t>(vals.size()) != params) {
        fail(op, cat(names[slot - 1], " has ", vals.size(), " values but expected ", params, " (",
                     spatial ? "one per channel" : "one per activation", " of input ", shape_str(x), ")"));
      }
      p.push_back(&vals);
    }
    BatchNormStep bn;
    bn.scale.resize(sz(params));
    bn.shift.resize(sz(params));
    for (std::size_t c = 0; c < sz(params); ++c) {
      const double var = static_cast<double>((*p[3])[c]);
      if (var + eps <= 0.0)
        fail(op, cat("var + epsilon = ", var + eps, " at channel ", c, " is not positive"));
      const double a = static_cast<double>((*p[0])[c]) / std::sqrt(var + eps);
      bn.scale[c] = static_cast<float>(a);
      bn.shift[c] = static_cast<float>(static_cast<double>((*p[1])[c]) - static_cast<double>((*p[2])[c]) * a);
    }
    bn.channels = channels;
    bn.inner = inner;
    Step s = make_step(std::move(bn), op, {xi});
    s.macs_per_row = per_sample(x);  // y = x * scale + shift: one MAC per element
    s.in_per_row = per_sample(x);
    s.out_per_row = s.in_per_row;
    s.weights = 2 * params;
    return emit(std::move(s), x);
  }

  int lower_reshape(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "data");
    const Shape x = value(xi).shape;
    const std::vector<std::int64_t> target = const_ints(need(v, op, 1, "shape"), op, "shape");
    const bool allow_zero = op.ints.contains("allowzero") && op.ints.at("allowzero") != 0;
    Shape out(target.size());
    std::int64_t known = 1;
    int infer = -1;
    for (std::size_t d = 0; d < target.size(); ++d) {
      std::int64_t dim = target[d];
      if (dim == 0 && !allow_zero) {
        if (d >= x.size())
          fail(op, cat("shape ", shape_str(target), ": 0 at dimension ", d, " but the input ", shape_str(x),
                       " has rank ", x.size()));
        dim = x[d];
      }
      if (dim == -1) {
        if (infer >= 0) fail(op, cat("shape ", shape_str(target), " has more than one -1"));
        infer = static_cast<int>(d);
        continue;
      }
      if (dim < 0) fail(op, cat("shape ", shape_str(target), " has a negative dimension"));
      out[d] = dim;
      known *= dim;
    }
    if (infer >= 0) {
      if (known == 0 || ops::numel(x) % known != 0)
        fail(op,
             cat("cannot reshape ", shape_str(x), " (", ops::numel(x), " values) to ", shape_str(target)));
      out[sz(infer)] = ops::numel(x) / known;
    }
    return add_view(op.name, xi, out, op);
  }

  int lower_transpose(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "data");
    const std::size_t rank = value(xi).shape.size();
    Shape perm = op.int_lists.contains("perm") ? op.int_lists.at("perm") : Shape{};
    if (perm.empty()) {
      perm.resize(rank);
      for (std::size_t d = 0; d < rank; ++d)
        perm[d] = static_cast<std::int64_t>(rank - 1 - d);
    }
    Shape sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t d = 0; d < sorted.size(); ++d) {
      if (sorted.size() != rank || sorted[d] != static_cast<std::int64_t>(d))
        fail(op, cat("perm ", shape_str(perm), " is not a permutation of the ", rank, " input dimensions"));
    }
    const int out = emit_transpose(op, xi, perm, "");
    if (!value(out).constant && perm[0] != 0) value(out).sample_major = false;
    return out;
  }

  int lower_squeeze(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "data");
    const Shape x = value(xi).shape;
    std::vector<std::int64_t> axes;
    if (op.int_lists.contains("axes")) axes = op.int_lists.at("axes");
    if (const int ai = input_of(v, 1); ai >= 0) axes = const_ints(ai, op, "axes");
    Shape out;
    if (op.kind == OpKind::squeeze) {
      std::vector<bool> drop(x.size(), false);
      if (axes.empty()) {
        for (std::size_t d = 0; d < x.size(); ++d)
          drop[d] = x[d] == 1;
      }
      for (const auto a : axes) {
        const std::int64_t d = axis_of(a, x.size());
        if (x[sz(d)] != 1)
          fail(op, cat("cannot squeeze dimension ", a, " of ", shape_str(x), " (size ", x[sz(d)], ")"));
        drop[sz(d)] = true;
      }
      for (std::size_t d = 0; d < x.size(); ++d) {
        if (!drop[d]) out.push_back(x[d]);
      }
    } else {
      const std::size_t rank = x.size() + axes.size();
      std::vector<bool> inserted(rank, false);
      for (const auto a : axes) {
        const std::int64_t d = axis_of(a, rank);
        if (inserted[sz(d)]) fail(op, cat("axes ", shape_str(axes), " repeat dimension ", d));
        inserted[sz(d)] = true;
      }
      std::size_t next = 0;
      for (std::size_t d = 0; d < rank; ++d)
        out.push_back(inserted[d] ? 1 : x[next++]);
    }
    return add_view(op.name, xi, out, op);
  }

  int lower_concat(models::Vertex v, const models::Op& op) {
    const int n = slots_of(v);
    std::vector<int> ins;
    ins.reserve(static_cast<std::size_t>(n));
    for (int slot = 0; slot < n; ++slot)
      ins.push_back(need(v, op, slot, "input"));
    const Shape first = value(ins[0]).shape;
    const std::int64_t axis = axis_of(op.ints.at("axis"), first.size());
    ConcatStep cs;
    Shape out = first;
    out[sz(axis)] = 0;
    for (const int id : ins) {
      const Shape& sh = value(id).shape;
      bool ok = sh.size() == first.size();
      for (std::size_t d = 0; ok && d < sh.size(); ++d)
        ok = d == sz(axis) || sh[d] == first[d];
      if (!ok)
        fail(op, cat("input shapes ", shape_str(first), " and ", shape_str(sh), " differ off axis ", axis));
      cs.sizes.push_back(sh[sz(axis)]);
      out[sz(axis)] += sh[sz(axis)];
    }
    cs.outer = prod(first, 0, sz(axis));
    cs.inner = prod(first, sz(axis) + 1, first.size());
    Step s = make_step(std::move(cs), op, ins);
    s.in_per_row = per_sample(out);
    s.out_per_row = s.in_per_row;
    const int id = emit(std::move(s), out);
    // Along axis 0 samples no longer sit in one slice each.
    if (!value(id).constant && axis == 0) value(id).sample_major = false;
    return id;
  }

  int lower_softmax(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "input");
    const Shape x = value(xi).shape;
    const std::int64_t axis = axis_of(op.ints.at("axis"), x.size());
    SoftmaxStep sm;
    sm.log = op.kind == OpKind::log_softmax;
    sm.outer = prod(x, 0, sz(axis));
    if (op.ints.contains("coerce_2d") && op.ints.at("coerce_2d") != 0) {
      sm.len = prod(x, sz(axis), x.size());
      sm.inner = 1;
    } else {
      sm.len = x[sz(axis)];
      sm.inner = prod(x, sz(axis) + 1, x.size());
    }
    Step s = make_step(sm, op, {xi});
    s.elementwise_per_row = 3 * per_sample(x);  // exponent, sum, divide per element
    s.in_per_row = per_sample(x);
    s.out_per_row = s.in_per_row;
    const int id = emit(std::move(s), x);
    if (!value(id).constant && axis == 0) value(id).sample_major = false;
    return id;
  }

  // --- decoder LLM ops (token plans) and traces ---

  // Values of a tensor as floats, checked finite: f16 / bf16 are widened.
  std::vector<float> float_values(const models::Tensor& t) const {
    std::vector<float> v = t.to_f32();
    models::check_finite(v, t.shape, plan_.source, "tensor '" + t.name + "'");
    return v;
  }
  const models::Tensor& tensor(const models::Op& op, const std::string& role) const {
    const auto it = op.tensors.find(role);
    if (it == op.tensors.end()) fail(op, cat("no ", role, " tensor"));
    return net_.tensor(it->second);
  }
  std::int64_t width_of(int id) const { return value(id).shape.back(); }
  std::int64_t int_attr(const models::Op& op, const char* key) const {
    const auto it = op.ints.find(key);
    if (it == op.ints.end()) fail(op, cat("attribute '", key, "' missing"));
    return it->second;
  }

  // A trace layer's recorded input: read in place from the trace's storage, never folded.
  int lower_recorded(const models::Op& op) {
    const models::Tensor& t = net_.tensor(op.tensors.at("value"));
    PlanValue v;
    v.name = op.name;
    v.shape = t.shape;
    v.recorded = t.f32();
    return add_value(std::move(v));
  }

  int lower_linear(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "input");
    const models::Tensor& w = tensor(op, "weight");
    if (w.shape.size() != 2) fail(op, cat("weight has shape ", shape_str(w.shape), ", expected [out, in]"));
    if (options_.shape_only)
      return emit_shape_only_linear(op, xi, w.shape[0], w.shape[1], op.tensors.contains("bias"));
    std::vector<float> bias;
    if (op.tensors.contains("bias")) {
      const models::Tensor& b = tensor(op, "bias");
      models::check_shape(b.shape, {w.shape[0]}, plan_.source, "tensor '" + b.name + "'",
                          "out of the weight");
      bias = float_values(b);
    }
    // The weights stay in their stored dtype (F32 / F16 / BF16), transposed once into the fan-out layout
    // the kernels read; the checkpoint's pages are then released (a 7B model is not held twice).
    check_finite_stored(w);
    check_linear_input(op, xi, w.shape[1]);
    LinearWeights lw = LinearWeights::from_stored(op.name, w.bytes.data(), weight_type(w), w.shape[0],
                                                  w.shape[1], bias, models::release_mapped_pages);
    models::release_mapped_pages(w.bytes);
    return emit_linear(op, xi, std::move(lw));
  }

  WeightType weight_type(const models::Tensor& t) const {
    switch (t.dtype) {
      case models::DType::f32:
        return WeightType::f32;
      case models::DType::f16:
        return WeightType::f16;
      case models::DType::bf16:
        return WeightType::bf16;
      case models::DType::i64:
        break;
    }
    throw models::ModelError(cat(plan_.source, ": tensor '", t.name, "' holds integers, expected weights"));
  }
  // Every value finite, checked on the stored values (a copy is made only to name the first bad position).
  void check_finite_stored(const models::Tensor& t) const {
    const WeightType type = weight_type(t);
    const auto n = static_cast<std::size_t>(t.numel());
    if (t.bytes.size() < n * bytes_of(type))
      throw models::ModelError(cat(plan_.source, ": tensor '", t.name, "' holds ", t.bytes.size(),
                                   " bytes, expected ", n * bytes_of(type)));
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(widen(t.bytes.data(), type, i)))
        (void)float_values(t);  // throws naming the position
    }
  }

  int lower_embedding(models::Vertex v, const models::Op& op) {
    (void)need(v, op, 0, "token ids");
    const models::Tensor& t = tensor(op, "weight");
    if (t.shape.size() != 2) fail(op, cat("table has shape ", shape_str(t.shape), ", expected [vocab, dim]"));
    EmbeddingStep e;
    e.vocab = t.shape[0];
    e.dim = t.shape[1];
    if (!options_.shape_only) {  // a view of the stored table, in its dtype: rows are widened when looked up
      check_finite_stored(t);
      // The check paged the whole table in; a run touches only its tokens' rows (which page back in).
      models::release_mapped_pages(t.bytes);
      e.table = t.bytes.data();
      e.type = weight_type(t);
    }
    const std::int64_t vocab = e.vocab;
    const std::int64_t dim = e.dim;
    Step s = make_step(e, op, {plan_.input});
    s.in_per_row = vocab;
    s.out_per_row = dim;
    s.weights = vocab * dim;
    return emit(std::move(s), {1, dim});
  }

  int lower_rmsnorm(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "input");
    const models::Tensor& t = tensor(op, "weight");
    const std::int64_t dim = width_of(xi);
    // ints "heads": one norm per head of dim / heads features (Qwen3's q/k norm), the weight shared.
    const std::int64_t heads = op.ints.contains("heads") ? op.ints.at("heads") : 1;
    if (heads < 1 || dim % heads != 0) fail(op, cat(dim, " features are not ", heads, " heads"));
    models::check_shape(t.shape, {dim / heads}, plan_.source, "tensor '" + t.name + "'",
                        heads > 1 ? "width of one head" : "width of the input");
    RmsNormStep n{options_.shape_only ? std::vector<float>{} : float_values(t),
                  op.floats.contains("epsilon") ? op.floats.at("epsilon") : 1e-5};
    Step s = make_step(std::move(n), op, {xi});
    s.in_per_row = dim;
    s.out_per_row = dim;
    s.weights = dim;
    s.macs_per_row = 2 * dim;
    return emit(std::move(s), value(xi).shape);
  }

  int lower_rope(models::Vertex v, const models::Op& op) {
    const int inputs = slots_of(v);
    if (inputs < 1 || inputs > 2) fail(op, cat(inputs, " inputs, expected q [, k]"));
    RopeStep r;
    r.head_dim = int_attr(op, "head_dim");
    r.interleaved = int_attr(op, "interleaved") != 0;
    r.theta = op.floats.contains("theta") ? op.floats.at("theta") : 10000.0;
    r.context = int_attr(op, "context");
    if (op.floats.contains("dynamic_factor")) {
      r.dynamic_factor = op.floats.at("dynamic_factor");
      r.context = int_attr(op, "dynamic_context");
      if (r.context < 1 || r.context > int_attr(op, "context"))
        fail(op, cat("dynamic RoPE's original context ", r.context, " must be in [1, ",
                     int_attr(op, "context"), "]"));
    }
    const auto inv_freq = op.float_lists.find("inv_freq");
    if (inv_freq != op.float_lists.end() && sz(r.head_dim / 2) != inv_freq->second.size())
      fail(op, cat(inv_freq->second.size(), " inverse frequencies for head_dim ", r.head_dim));
    if (!options_.shape_only) {
      if (inv_freq != op.float_lists.end()) {  // scaled RoPE: this op's own table
        r.tables = std::make_shared<const ops::RopeTables>(ops::rope_tables(
            int_attr(op, "context"), inv_freq->second,
            op.floats.contains("attention_scaling") ? op.floats.at("attention_scaling") : 1.0));
      } else {
        r.tables = rope_tables(int_attr(op, "context"), r.head_dim, r.theta);
      }
    }
    std::vector<int> ins;
    std::int64_t width = 0;
    for (int slot = 0; slot < inputs; ++slot) {
      const int id = need(v, op, slot, slot == 0 ? "q" : "k");
      const std::int64_t heads = int_attr(op, slot == 0 ? "heads" : "kv_heads");
      if (width_of(id) != heads * r.head_dim)
        fail(op, cat("input ", slot, " has ", width_of(id), " features, expected ", heads, " heads x ",
                     r.head_dim));
      r.heads.push_back(heads);
      ins.push_back(id);
      width += width_of(id);
    }
    Step s = make_step(std::move(r), op, ins);
    s.in_per_row = width;
    s.out_per_row = width;
    s.macs_per_row = 2 * width;
    std::vector<int> outs;
    outs.reserve(ins.size());
    for (const int id : ins)
      outs.push_back(add_runtime(cat(op.name, "/", value(id).name), value(id).shape));
    s.out = outs;
    plan_.steps.push_back(std::move(s));
    values_of_[v] = outs;
    return outs[0];
  }

  int lower_attention(models::Vertex v, const models::Op& op) {
    const int qi = need(v, op, 0, "q");
    const int ki = need(v, op, 1, "k");
    const int vi = need(v, op, 2, "v");
    AttentionStep a{int_attr(op, "heads"), int_attr(op, "kv_heads"), int_attr(op, "head_dim"),
                    int_attr(op, "context"), op.ints.contains("window") ? op.ints.at("window") : 0};
    if (a.window < 0) fail(op, cat("window ", a.window, " must be >= 0"));
    if (a.heads < 1 || a.kv_heads < 1 || a.heads % a.kv_heads != 0)
      fail(op, cat(a.heads, " query heads are not a multiple of ", a.kv_heads, " key/value heads"));
    const std::int64_t q_dim = a.heads * a.head_dim;
    const std::int64_t kv_dim = a.kv_heads * a.head_dim;
    if (width_of(qi) != q_dim || width_of(ki) != kv_dim || width_of(vi) != kv_dim)
      fail(op, cat("q / k / v have ", width_of(qi), " / ", width_of(ki), " / ", width_of(vi),
                   " features, expected ", q_dim, " / ", kv_dim, " / ", kv_dim));
    a.kv_int8 = op.ints.contains("kv_int8") && op.ints.at("kv_int8") != 0;
    a.sinks = op.ints.contains("sinks") ? op.ints.at("sinks") : 0;
    if (a.sinks < 0) fail(op, cat("sink tokens ", a.sinks, " must be >= 0"));
    if (a.sinks > 0 && !options_.shape_only)
      fail(op,
           cat(a.sinks, " sink tokens: attention with learned sinks can be accounted (shape-only), not run"));
    Step s = make_step(a, op, {qi, ki, vi});
    if (op.strings.contains("site")) {  // SpikingBrain's SWA: the query is a coded site (execute.cpp)
      s.site = op.strings.at("site");
      s.name = s.site;
      s.members = {op.name};
    }
    s.in_per_row = q_dim + 2 * kv_dim;
    s.out_per_row = q_dim;
    return emit(std::move(s), {1, q_dim});
  }

  // Gated linear attention: q, k (after their ReLU), v, gk -> [rows][heads x head_dim]. Per token: the state
  // update (decay and k^T v, kv_heads x head_dim^2 each) and the readout (heads x head_dim^2) are dense MACs
  // / element-wise ops; the gate (log-sigmoid, divide, exp) and the query scale are element-wise.
  int lower_gla(models::Vertex v, const models::Op& op) {
    const int qi = need(v, op, 0, "q");
    const int ki = need(v, op, 1, "k");
    const int vi = need(v, op, 2, "v");
    GlaStep g{int_attr(op, "heads"), int_attr(op, "kv_heads"), int_attr(op, "head_dim"),
              op.floats.contains("normaliser") ? op.floats.at("normaliser") : 16.0,
              op.ints.contains("key_gate") && op.ints.at("key_gate") != 0};
    const int gi = g.key_gate ? vi : need(v, op, 3, "gk");
    if (g.heads < 1 || g.kv_heads < 1 || g.heads % g.kv_heads != 0)
      fail(op, cat(g.heads, " query heads are not a multiple of ", g.kv_heads, " key/value heads"));
    if (g.head_dim < 1) fail(op, cat("head_dim ", g.head_dim, " must be positive"));
    if (!(g.normaliser > 0.0) || !std::isfinite(g.normaliser))
      fail(op, cat("gate normaliser ", g.normaliser, " must be positive"));
    const std::int64_t q_dim = g.heads * g.head_dim;
    const std::int64_t kv_dim = g.kv_heads * g.head_dim;
    if (width_of(qi) != q_dim || width_of(ki) != kv_dim || width_of(vi) != kv_dim || width_of(gi) != kv_dim)
      fail(op, cat("q / k / v / gk have ", width_of(qi), " / ", width_of(ki), " / ", width_of(vi), " / ",
                   width_of(gi), " features, expected ", q_dim, " / ", kv_dim, " / ", kv_dim, " / ", kv_dim));
    const std::int64_t state = g.state_floats();
    Step s = make_step(g, op, {qi, ki, vi, gi});
    s.in_per_row = q_dim + 3 * kv_dim;
    s.out_per_row = q_dim;
    s.macs_per_row = state + g.heads * g.head_dim * g.head_dim;  // k^T v accumulate + q S readout
    s.elementwise_per_row = state + 3 * kv_dim + q_dim;          // decay, gate, query scale
    return emit(std::move(s), {1, q_dim});
  }

  int lower_silu_mul(models::Vertex v, const models::Op& op) {
    const int gi = need(v, op, 0, "gate");
    const int ui = need(v, op, 1, "up");
    if (value(gi).shape != value(ui).shape)
      fail(op, cat("gate ", shape_str(value(gi).shape), " and up ", shape_str(value(ui).shape), " differ"));
    const std::int64_t hidden = width_of(gi);
    Step s = make_step(SiluMulStep{}, op, {gi, ui});
    s.in_per_row = 2 * hidden;
    s.out_per_row = hidden;
    s.elementwise_per_row = 2 * hidden;  // SiLU and the product: element-wise, no weight
    return emit(std::move(s), value(gi).shape);
  }

  // A mixture of experts: x, router logits -> [rows][dim]. The experts' gate and up are fused into one
  // [2 hidden][dim] weight each (gate rows first); the shared expert's gate, up and its sigmoid gate row
  // into one [2 shared + 1][dim].
  int lower_moe(models::Vertex v, const models::Op& op) {
    const int xi = need(v, op, 0, "x");
    const int li = need(v, op, 1, "router logits");
    MoeStep m;
    m.experts = int_attr(op, "experts");
    m.top_k = int_attr(op, "top_k");
    m.hidden = int_attr(op, "expert_hidden");
    m.shared_hidden = int_attr(op, "shared_hidden");
    m.norm_topk_prob = int_attr(op, "norm_topk_prob") != 0;
    m.dim = width_of(xi);
    if (m.experts < 1 || m.top_k < 1 || m.top_k > m.experts)
      fail(op, cat("top ", m.top_k, " of ", m.experts, " experts"));
    if (width_of(li) != m.experts)
      fail(op, cat("router gives ", width_of(li), " logits, expected one per expert (", m.experts, ")"));
    const auto weights_of = [&](const std::string& role, std::int64_t out, std::int64_t in) {
      const models::Tensor& t = tensor(op, role);
      models::check_shape(t.shape, {out, in}, plan_.source, "tensor '" + t.name + "'",
                          "from the model config");
      if (options_.shape_only) {
        auto w = std::make_shared<LinearWeights>();
        w->name = t.name;
        w->in = in;
        w->out = out;
        w->fanout_nonzero.assign(sz(in), out);
        return w;
      }
      check_finite_stored(t);
      auto w = std::make_shared<LinearWeights>(LinearWeights::from_stored(
          t.name, t.bytes.data(), weight_type(t), out, in, {}, models::release_mapped_pages));
      models::release_mapped_pages(t.bytes);
      return w;
    };
    const auto fused = [&](const std::string& name, std::vector<std::shared_ptr<LinearWeights>> parts) {
      std::vector<const LinearWeights*> p;
      p.reserve(parts.size());
      for (const auto& w : parts)
        p.push_back(w.get());
      if (options_.shape_only) {
        auto w = std::make_shared<LinearWeights>();
        w->name = name;
        w->in = parts[0]->in;
        for (const auto& part : parts)
          w->out += part->out;
        w->fanout_nonzero.assign(sz(w->in), w->out);
        return w;
      }
      return std::make_shared<LinearWeights>(concat_projections(name, p));
    };
    std::int64_t stored = 0;
    for (std::int64_t e = 0; e < m.experts; ++e) {
      m.gate_up.push_back(
          fused(cat(op.name, ".experts.", e, ".gate_up"),
                {weights_of(cat("gate.", e), m.hidden, m.dim), weights_of(cat("up.", e), m.hidden, m.dim)}));
      m.down.push_back(weights_of(cat("down.", e), m.dim, m.hidden));
      stored += 3 * m.hidden * m.dim;
    }
    std::int64_t macs = m.top_k * 3 * m.hidden * m.dim;
    std::int64_t elementwise = m.top_k * (2 * m.hidden + m.dim) + 3 * m.experts;
    if (m.shared_hidden > 0) {
      // The shared expert's sigmoid gate (Qwen2-MoE) is a last row of its fused gate/up; SpikingBrain-76B's
      // shared expert has none.
      m.shared_gated = op.tensors.contains("shared.router");
      std::vector<std::shared_ptr<LinearWeights>> parts = {weights_of("shared.gate", m.shared_hidden, m.dim),
                                                           weights_of("shared.up", m.shared_hidden, m.dim)};
      if (m.shared_gated) parts.push_back(weights_of("shared.router", 1, m.dim));
      m.shared_gate_up = fused(op.name + ".shared_expert.gate_up", parts);
      m.shared_down = weights_of("shared.down", m.dim, m.shared_hidden);
      const std::int64_t gate_rows = m.shared_gated ? 1 : 0;
      stored += (3 * m.shared_hidden + gate_rows) * m.dim;
      macs += (3 * m.shared_hidden + gate_rows) * m.dim;
      elementwise += 2 * m.shared_hidden + m.dim;
    } else if (op.tensors.contains("shared.gate")) {
      fail(op, "shared expert tensors but shared_hidden 0");
    }
    Step s = make_step(std::move(m), op, {xi, li});
    s.site = op.strings.contains("site") ? op.strings.at("site") : op.name;
    s.name = s.site;  // selected, reported and coded like the mlp_in site it replaces
    s.members = {op.name};
    s.in_per_row = width_of(xi);
    s.out_per_row = width_of(xi);
    s.weights = stored;
    s.macs_per_row = macs;
    s.elementwise_per_row = elementwise;
    return emit(std::move(s), value(xi).shape);
  }

  // One RoPE table per geometry, shared by every layer.
  std::shared_ptr<const ops::RopeTables> rope_tables(std::int64_t context, std::int64_t head_dim,
                                                     double theta) {
    auto& t = rope_tables_[{context, head_dim, theta}];
    if (!t) t = std::make_shared<const ops::RopeTables>(ops::rope_tables(context, head_dim, theta));
    return t;
  }

  const models::Network& net_;
  const LowerOptions& options_;
  std::map<std::tuple<std::int64_t, std::int64_t, double>, std::shared_ptr<const ops::RopeTables>>
      rope_tables_;
  Plan plan_;
  std::map<models::Vertex, std::vector<int>> values_of_;
};

}  // namespace

Plan lower_network(const models::Network& network, const LowerOptions& options) {
  if (options.batch < 1)
    throw models::ModelError(cat(network.source, ": batch must be >= 1, got ", options.batch));
  Plan plan = Lowering(network, options).run();
  plan.storage = network.storage;
  plan.shape_only = options.shape_only;
  fuse_shared_inputs(plan);
  select_sites(plan, options.sites);
  return plan;
}

}  // namespace spikesim::sim
