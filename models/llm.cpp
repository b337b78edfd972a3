#include "models/llm.hpp"

#include <cmath>

#include "base/text.hpp"
#include "models/check.hpp"

namespace spikesim::models {

std::string_view name(RopeStyle style) {
  return style == RopeStyle::interleaved ? "interleaved" : "half";
}

std::int64_t LlmConfig::parameter_count() const {
  const std::int64_t attn = dim * q_dim() + 2 * dim * kv_dim() + q_dim() * dim;
  const std::int64_t biases =
      (qkv_bias ? q_dim() + 2 * kv_dim() : 0) + (o_bias ? dim : 0) + (mlp_bias ? 2 * hidden_dim + dim : 0);
  const std::int64_t layer = attn + 3 * dim * hidden_dim + 2 * dim + biases;
  return vocab_size * dim * (tied_classifier ? 1 : 2) + n_layers * layer + dim;
}

std::int64_t llm_size_limit(std::string_view key) {
  if (key == "num_hidden_layers") return max_llm_layers;
  if (key == "num_attention_heads" || key == "num_key_value_heads") return max_llm_heads;
  if (key == "vocab_size") return max_llm_vocab;
  if (key == "max_position_embeddings") return max_llm_context;
  return max_llm_width;
}

void validate(const LlmConfig& c, const std::string& file) {
  auto positive = [&](std::int64_t v, const char* field) {
    if (v <= 0) throw ModelError(cat(file, ": ", field, " must be positive, found ", v));
  };
  positive(c.dim, "dim (hidden_size)");
  positive(c.hidden_dim, "hidden_dim (intermediate_size)");
  positive(c.n_layers, "n_layers (num_hidden_layers)");
  positive(c.n_heads, "n_heads (num_attention_heads)");
  positive(c.n_kv_heads, "n_kv_heads (num_key_value_heads)");
  positive(c.head_dim, "head_dim");
  positive(c.vocab_size, "vocab_size");
  positive(c.seq_len, "seq_len (max_position_embeddings)");
  if (c.n_heads % c.n_kv_heads != 0) {
    throw ModelError(cat(file, ": n_heads ", c.n_heads, " is not a multiple of n_kv_heads ", c.n_kv_heads));
  }
  if (c.head_dim % 2 != 0) throw ModelError(cat(file, ": head_dim ", c.head_dim, " must be even for RoPE"));
  if (!(c.rope_theta > 0.0))
    throw ModelError(cat(file, ": rope_theta must be positive, found ", c.rope_theta));
  if (!(c.norm_eps >= 0.0)) throw ModelError(cat(file, ": rms_norm_eps must be >= 0, found ", c.norm_eps));
  auto at_most = [&](std::int64_t v, std::int64_t limit, const char* field) {
    if (v > limit) throw ModelError(cat(file, ": ", field, " ", v, " is more than the limit of ", limit));
  };
  at_most(c.dim, max_llm_width, "dim (hidden_size)");
  at_most(c.hidden_dim, max_llm_width, "hidden_dim (intermediate_size)");
  at_most(c.head_dim, max_llm_width, "head_dim");
  at_most(c.n_layers, max_llm_layers, "n_layers (num_hidden_layers)");
  at_most(c.n_heads, max_llm_heads, "n_heads (num_attention_heads)");
  at_most(c.n_kv_heads, max_llm_heads, "n_kv_heads (num_key_value_heads)");
  at_most(c.vocab_size, max_llm_vocab, "vocab_size");
  at_most(c.seq_len, max_llm_context, "seq_len (max_position_embeddings)");
  at_most(c.q_dim(), max_llm_width, "n_heads x head_dim");
  if (!std::isfinite(c.rope_theta))
    throw ModelError(cat(file, ": rope_theta must be finite, found ", c.rope_theta));
  if (!std::isfinite(c.norm_eps))
    throw ModelError(cat(file, ": rms_norm_eps must be finite, found ", c.norm_eps));
}

void check_layer_count(const LlmConfig& c, const std::vector<std::string>& names, const std::string& file) {
  // Each layer needs at least 9 tensors (2 norms, q, k, v, o, gate, up, down).
  if (static_cast<std::uint64_t>(c.n_layers) * 9 > names.size()) {
    throw ModelError(cat(file, ": num_hidden_layers ", c.n_layers, " needs at least ", c.n_layers * 9,
                         " tensors but the checkpoint holds ", names.size(), " (config of another model?)"));
  }
  const std::string prefix = "model.layers.";
  std::int64_t highest = -1;
  std::string example;
  for (const auto& n : names) {
    if (n.rfind(prefix, 0) != 0) continue;
    std::int64_t layer = 0;
    std::size_t i = prefix.size();
    for (; i < n.size() && n[i] >= '0' && n[i] <= '9' && layer < max_llm_layers * 1000; ++i)
      layer = layer * 10 + (n[i] - '0');
    if (i == prefix.size() || i >= n.size() || n[i] != '.') continue;
    if (layer > highest) {
      highest = layer;
      example = n;
    }
  }
  if (highest >= c.n_layers) {
    throw ModelError(cat(file, ": the checkpoint holds layer ", highest, " (tensor '", example,
                         "') but the config's num_hidden_layers is ", c.n_layers,
                         " (config of another model, or a truncated layer list?)"));
  }
}

std::string layer_tensor_name(std::int64_t layer, const std::string& role, const std::string& kind) {
  const bool norm = role == "input_layernorm" || role == "post_attention_layernorm";
  const bool mlp = role == "gate_proj" || role == "up_proj" || role == "down_proj";
  return cat("model.layers.", layer, ".", norm ? "" : (mlp ? "mlp." : "self_attn."), role, ".", kind);
}

std::vector<TensorSpec> required_tensors(const LlmConfig& c) {
  std::vector<TensorSpec> specs;
  specs.push_back({embed_tensor_name, {c.vocab_size, c.dim}});
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    specs.push_back({layer_tensor_name(l, "input_layernorm"), {c.dim}});
    specs.push_back({layer_tensor_name(l, "q_proj"), {c.q_dim(), c.dim}});
    specs.push_back({layer_tensor_name(l, "k_proj"), {c.kv_dim(), c.dim}});
    specs.push_back({layer_tensor_name(l, "v_proj"), {c.kv_dim(), c.dim}});
    if (c.qkv_bias) {
      specs.push_back({layer_tensor_name(l, "q_proj", "bias"), {c.q_dim()}});
      specs.push_back({layer_tensor_name(l, "k_proj", "bias"), {c.kv_dim()}});
      specs.push_back({layer_tensor_name(l, "v_proj", "bias"), {c.kv_dim()}});
    }
    specs.push_back({layer_tensor_name(l, "o_proj"), {c.dim, c.q_dim()}});
    if (c.o_bias) specs.push_back({layer_tensor_name(l, "o_proj", "bias"), {c.dim}});
    specs.push_back({layer_tensor_name(l, "post_attention_layernorm"), {c.dim}});
    specs.push_back({layer_tensor_name(l, "gate_proj"), {c.hidden_dim, c.dim}});
    specs.push_back({layer_tensor_name(l, "up_proj"), {c.hidden_dim, c.dim}});
    specs.push_back({layer_tensor_name(l, "down_proj"), {c.dim, c.hidden_dim}});
    if (c.mlp_bias) {
      specs.push_back({layer_tensor_name(l, "gate_proj", "bias"), {c.hidden_dim}});
      specs.push_back({layer_tensor_name(l, "up_proj", "bias"), {c.hidden_dim}});
      specs.push_back({layer_tensor_name(l, "down_proj", "bias"), {c.dim}});
    }
  }
  specs.push_back({final_norm_tensor_name, {c.dim}});
  if (!c.tied_classifier) specs.push_back({lm_head_tensor_name, {c.vocab_size, c.dim}});
  return specs;
}

namespace {

class GraphBuilder {
 public:
  explicit GraphBuilder(LlmModel& m) : m_(m) {}

  Vertex op(OpKind kind, const std::string& name, std::map<std::string, std::string> tensors,
            std::vector<Vertex> inputs) {
    Op o;
    o.kind = kind;
    o.name = name;
    o.tensors = std::move(tensors);
    o.order = order_++;
    const Vertex v = m_.network.add_op(o);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      m_.network.connect(inputs[i], v, static_cast<int>(i));
    return v;
  }
  Op& at(Vertex v) { return m_.network.graph[v]; }

  // A projection op: weight (+ bias when the config has one); `site` names the synaptic site it belongs to
  // (projections reading one tensor are fused into one site by the lowering).
  Vertex linear(std::int64_t l, const std::string& role, bool has_bias, Vertex input,
                const std::string& site) {
    std::map<std::string, std::string> t{{"weight", layer_tensor_name(l, role)}};
    if (has_bias) t["bias"] = layer_tensor_name(l, role, "bias");
    const Vertex v = op(OpKind::linear, cat("layers.", l, ".", role), t, {input});
    at(v).strings["site"] = cat("layers.", l, ".", site);
    return v;
  }

 private:
  LlmModel& m_;
  int order_ = 0;
};

}  // namespace

void build_llm_graph(LlmModel& model) {
  const LlmConfig& c = model.config;
  const std::string& file = model.network.source;
  validate(c, file);
  std::vector<std::string> names;
  names.reserve(model.network.tensors.size());
  for (const auto& [name, t] : model.network.tensors)
    names.push_back(name);
  check_layer_count(c, names, file);
  for (const TensorSpec& spec : required_tensors(c)) {
    const auto it = model.network.tensors.find(spec.name);
    if (it == model.network.tensors.end()) {
      throw ModelError(cat(file, ": tensor '", spec.name, "' missing (expected shape ", shape_str(spec.shape),
                           " for ", c.architecture, ")"));
    }
    check_shape(it->second.shape, spec.shape, file, "tensor '" + spec.name + "'", "from the model config");
  }

  GraphBuilder g(model);
  const Vertex tokens = g.op(OpKind::input, "tokens", {}, {});
  g.at(tokens).strings["input"] = "token_ids";
  g.at(tokens).ints = {{"vocab", c.vocab_size}, {"context", c.seq_len}};
  Vertex x = g.op(OpKind::embedding, "embed", {{"weight", embed_tensor_name}}, {tokens});
  auto norm = [&](const std::string& name, const std::string& weight, Vertex in) {
    const Vertex v = g.op(OpKind::rmsnorm, name, {{"weight", weight}}, {in});
    g.at(v).floats["epsilon"] = c.norm_eps;
    return v;
  };
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = cat("layers.", l, ".");
    const Vertex attn_norm = norm(p + "attn_norm", layer_tensor_name(l, "input_layernorm"), x);
    const Vertex q = g.linear(l, "q_proj", c.qkv_bias, attn_norm, "attn_in");
    const Vertex k = g.linear(l, "k_proj", c.qkv_bias, attn_norm, "attn_in");
    const Vertex v = g.linear(l, "v_proj", c.qkv_bias, attn_norm, "attn_in");
    // One rope op rotates the query and the key heads (outputs 0 and 1).
    const Vertex rope = g.op(OpKind::rope, p + "rope", {}, {q, k});
    g.at(rope).ints = {{"heads", c.n_heads},
                       {"kv_heads", c.n_kv_heads},
                       {"head_dim", c.head_dim},
                       {"context", c.seq_len},
                       {"interleaved", c.rope == RopeStyle::interleaved ? 1 : 0}};
    g.at(rope).floats["theta"] = c.rope_theta;
    const Vertex attn = g.op(OpKind::attention, p + "attention", {}, {});
    g.at(attn).ints = {
        {"heads", c.n_heads}, {"kv_heads", c.n_kv_heads}, {"head_dim", c.head_dim}, {"context", c.seq_len}};
    model.network.connect(rope, attn, 0, 0);
    model.network.connect(rope, attn, 1, 1);
    model.network.connect(v, attn, 2);
    const Vertex o = g.linear(l, "o_proj", c.o_bias, attn, "attn_out");
    const Vertex attn_res = g.op(OpKind::add, p + "attn_residual", {}, {x, o});
    const Vertex mlp_norm = norm(p + "mlp_norm", layer_tensor_name(l, "post_attention_layernorm"), attn_res);
    const Vertex gate = g.linear(l, "gate_proj", c.mlp_bias, mlp_norm, "mlp_in");
    const Vertex up = g.linear(l, "up_proj", c.mlp_bias, mlp_norm, "mlp_in");
    const Vertex act = g.op(OpKind::silu_mul, p + "swiglu", {}, {gate, up});
    const Vertex down = g.linear(l, "down_proj", c.mlp_bias, act, "mlp_out");
    x = g.op(OpKind::add, p + "mlp_residual", {}, {attn_res, down});
  }
  const Vertex final_norm = norm("final_norm", final_norm_tensor_name, x);
  const Vertex head =
      g.op(OpKind::linear, "lm_head",
           {{"weight", c.tied_classifier ? embed_tensor_name : lm_head_tensor_name}}, {final_norm});
  g.at(head).strings["site"] = "lm_head";
  g.op(OpKind::output, "logits", {}, {head});
}

LlmModel shape_only_llm(const LlmConfig& config, const std::string& source) {
  LlmModel model;
  model.config = config;
  model.network.source = source;
  for (const TensorSpec& spec : required_tensors(config)) {
    Tensor t;
    t.name = spec.name;
    t.shape = spec.shape;
    model.network.tensors.emplace(spec.name, std::move(t));
  }
  build_llm_graph(model);
  return model;
}

}  // namespace spikesim::models
