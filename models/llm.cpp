#include "models/llm.hpp"

#include <algorithm>
#include <cmath>

#include "base/text.hpp"
#include "models/check.hpp"

namespace spikesim::models {

std::string_view name(RopeStyle style) {
  return style == RopeStyle::interleaved ? "interleaved" : "half";
}

std::string_view name(RopeType type) {
  switch (type) {
    case RopeType::plain:
      return "default";
    case RopeType::linear:
      return "linear";
    case RopeType::dynamic:
      return "dynamic";
    case RopeType::llama3:
      return "llama3";
    case RopeType::yarn:
      return "yarn";
  }
  return "?";
}

std::string_view name(LayerKind kind) {
  switch (kind) {
    case LayerKind::attention:
      return "attention";
    case LayerKind::gla:
      return "gla";
    case LayerKind::hybrid:
      return "hybrid";
  }
  return "?";
}

// transformers modeling_rope_utils.py (5.17): _compute_default_rope_parameters, _compute_linear_scaling_...,
// _compute_llama3_parameters, _compute_yarn_parameters. Computed in double (transformers: float32).
RopeFrequencies rope_frequencies(const RopeScaling& s, double theta, std::int64_t head_dim,
                                 std::int64_t context) {
  const auto half = static_cast<std::size_t>(head_dim / 2);
  const auto d = static_cast<double>(head_dim);
  RopeFrequencies f;
  f.inv_freq.resize(half);
  for (std::size_t i = 0; i < half; ++i)
    f.inv_freq[i] = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / d);
  switch (s.type) {
    case RopeType::plain:
    case RopeType::dynamic:  // per call (ops::dynamic_ntk_theta)
      break;
    case RopeType::linear:
      for (double& v : f.inv_freq)
        v /= s.factor;
      break;
    case RopeType::llama3: {
      const auto old = static_cast<double>(s.original_context);
      const double low_wavelen = old / s.low_freq_factor;
      const double high_wavelen = old / s.high_freq_factor;
      for (double& v : f.inv_freq) {
        const double wavelen = 2.0 * M_PI / v;
        if (wavelen > low_wavelen) {
          v /= s.factor;
        } else if (!(wavelen < high_wavelen)) {  // medium: smooth between the two
          const double smooth =
              (old / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
          v = (1.0 - smooth) * v / s.factor + smooth * v;
        }
      }
      break;
    }
    case RopeType::yarn: {
      // With original_max_position_embeddings the factor is context / original (DeepSeek-V3's convention,
      // as transformers applies it); else the stated factor over max_position_embeddings.
      const double original =
          s.original_context > 0 ? static_cast<double>(s.original_context) : static_cast<double>(context);
      const double factor = s.original_context > 0 ? static_cast<double>(context) / original : s.factor;
      const auto correction_dim = [&](double rotations) {
        return d * std::log(original / (rotations * 2.0 * M_PI)) / (2.0 * std::log(theta));
      };
      double low = correction_dim(s.beta_fast);
      double high = correction_dim(s.beta_slow);
      if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, d - 1.0);
      if (low == high) high += 0.001;
      for (std::size_t i = 0; i < half; ++i) {
        const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolation = f.inv_freq[i];
        f.inv_freq[i] = extrapolation / factor * ramp + extrapolation * (1.0 - ramp);
      }
      f.attention_scaling = s.attention_factor > 0.0 ? s.attention_factor
                            : factor <= 1.0          ? 1.0
                                                     : 0.1 * std::log(factor) + 1.0;
      break;
    }
  }
  return f;
}

namespace {

std::int64_t mlp_weights(std::int64_t dim, std::int64_t hidden) {
  return 3 * dim * hidden;
}

std::int64_t count_parameters(const LlmConfig& c, bool active) {
  const std::int64_t attn = c.dim * c.q_dim() + 2 * c.dim * c.kv_dim() + c.q_dim() * c.dim;
  const std::int64_t biases = (c.qkv_bias ? c.q_dim() + 2 * c.kv_dim() : 0) + (c.o_bias ? c.dim : 0) +
                              (c.mlp_bias ? 2 * c.hidden_dim + c.dim : 0);
  const std::int64_t norms = 2 * c.dim + (c.qk_norm ? 2 * c.head_dim : 0);
  std::int64_t total = c.vocab_size * c.dim * (c.tied_classifier ? 1 : 2) + c.dim;
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    std::int64_t gate = 0;  // GLA: gk_proj (low-rank pair or merged, with its bias) and g_norm
    if (c.kind_of(l) == LayerKind::gla) {
      const std::int64_t r = c.gla_rank();
      gate = (r > 0 ? r * c.dim + c.kv_dim() * r : c.kv_dim() * c.dim) + c.kv_dim() + c.head_dim;
    }
    if (c.kind_of(l) == LayerKind::hybrid)  // the second (linear) branch, its g_norm and both branch norms
      gate = attn + biases - (c.o_bias ? c.dim : 0) + c.head_dim + 2 * c.dim;
    total += gate;
    std::int64_t mlp = mlp_weights(c.dim, c.hidden_dim);
    if (c.moe.sparse_layer(l)) {
      const MoeConfig& m = c.moe;
      mlp = m.experts * c.dim + (active ? m.top_k : m.experts) * mlp_weights(c.dim, m.expert_hidden);
      if (m.shared_hidden > 0) mlp += mlp_weights(c.dim, m.shared_hidden) + (m.shared_gated ? c.dim : 0);
    }
    total += attn + biases + norms + mlp;
  }
  return total;
}

}  // namespace

std::int64_t LlmConfig::parameter_count() const {
  return count_parameters(*this, false);
}

std::int64_t LlmConfig::active_parameter_count() const {
  return count_parameters(*this, true);
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
  if (!c.window.empty() && c.window.size() != static_cast<std::size_t>(c.n_layers))
    throw ModelError(cat(file, ": ", c.window.size(), " layer windows for ", c.n_layers, " layers"));
  for (const std::int64_t w : c.window) {
    if (w < 0) throw ModelError(cat(file, ": sliding_window must be positive, found ", w));
  }
  const MoeConfig& m = c.moe;
  if (m.experts > 0) {
    if (m.top_k < 1 || m.top_k > m.experts)
      throw ModelError(cat(file, ": num_experts_per_tok ", m.top_k, " must be in [1, ", m.experts, "]"));
    if (m.expert_hidden < 1) throw ModelError(cat(file, ": expert intermediate size must be positive"));
    if (m.sparse.size() != static_cast<std::size_t>(c.n_layers))
      throw ModelError(cat(file, ": ", m.sparse.size(), " MoE layer flags for ", c.n_layers, " layers"));
    at_most(m.experts * m.expert_hidden, max_llm_width, "num_experts x expert intermediate size");
  }
  if (!c.layer_kinds.empty() && c.layer_kinds.size() != static_cast<std::size_t>(c.n_layers))
    throw ModelError(cat(file, ": ", c.layer_kinds.size(), " layer kinds for ", c.n_layers, " layers"));
  if (!(c.gla_normaliser > 0.0) || !std::isfinite(c.gla_normaliser))
    throw ModelError(cat(file, ": gate_logit_normalizer must be positive, found ", c.gla_normaliser));
  const RopeScaling& r = c.rope_scaling;
  if (r.type == RopeType::llama3 && r.original_context < 1)
    throw ModelError(cat(file, ": rope llama3 needs original_max_position_embeddings"));
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
  // Norms and SpikingBrain-76B's second branch (linear_attn.*, the branch norms) sit at the layer's top
  // level.
  const bool top = role == "input_layernorm" || role == "post_attention_layernorm" ||
                   role.rfind("linear_attn", 0) == 0 || role.ends_with("branch_norm");
  const bool mlp = role == "gate_proj" || role == "up_proj" || role == "down_proj";
  return cat("model.layers.", layer, ".", top ? "" : (mlp ? "mlp." : "self_attn."), role, ".", kind);
}

std::string layer_tensor_name(const LlmConfig& c, std::int64_t layer, const std::string& role,
                              const std::string& kind) {
  if (c.names == TensorNames::hf) return layer_tensor_name(layer, role, kind);
  // GLAswa (modeling_gla_swa.py:62-86, gla_attention.py:72-89): attn_norm, mlp_norm, attn.*, mlp.*.
  const std::string p = cat("model.layers.", layer, ".");
  if (role == "input_layernorm") return cat(p, "attn_norm.", kind);
  if (role == "post_attention_layernorm") return cat(p, "mlp_norm.", kind);
  if (role == "gate_proj" || role == "up_proj" || role == "down_proj") return cat(p, "mlp.", role, ".", kind);
  return cat(p, "attn.", role, ".", kind);
}

std::string embed_tensor_name_of(const LlmConfig& c) {
  return c.names == TensorNames::gla_swa ? gla_swa_embed_tensor_name : embed_tensor_name;
}

std::string moe_tensor_name(const LlmConfig& c, std::int64_t layer, std::int64_t expert, MoeRole role) {
  const bool mixtral = c.moe.names == MoeNames::mixtral;
  const std::string block = cat("model.layers.", layer, mixtral ? ".block_sparse_moe." : ".mlp.");
  switch (role) {
    case MoeRole::router:
      return block + "gate.weight";
    case MoeRole::gate:
      return cat(block, "experts.", expert, mixtral ? ".w1.weight" : ".gate_proj.weight");
    case MoeRole::up:
      return cat(block, "experts.", expert, mixtral ? ".w3.weight" : ".up_proj.weight");
    case MoeRole::down:
      return cat(block, "experts.", expert, mixtral ? ".w2.weight" : ".down_proj.weight");
    case MoeRole::shared_gate:
      return block + "shared_expert.gate_proj.weight";
    case MoeRole::shared_up:
      return block + "shared_expert.up_proj.weight";
    case MoeRole::shared_down:
      return block + "shared_expert.down_proj.weight";
    case MoeRole::shared_router:
      return block + "shared_expert_gate.weight";
  }
  return {};
}

std::vector<TensorSpec> required_tensors(const LlmConfig& c) {
  std::vector<TensorSpec> specs;
  const auto name = [&](std::int64_t l, const std::string& role, const std::string& kind = "weight") {
    return layer_tensor_name(c, l, role, kind);
  };
  specs.push_back({embed_tensor_name_of(c), {c.vocab_size, c.dim}});
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    specs.push_back({name(l, "input_layernorm"), {c.dim}});
    specs.push_back({name(l, "q_proj"), {c.q_dim(), c.dim}});
    specs.push_back({name(l, "k_proj"), {c.kv_dim(), c.dim}});
    specs.push_back({name(l, "v_proj"), {c.kv_dim(), c.dim}});
    if (c.qkv_bias) {
      specs.push_back({name(l, "q_proj", "bias"), {c.q_dim()}});
      specs.push_back({name(l, "k_proj", "bias"), {c.kv_dim()}});
      specs.push_back({name(l, "v_proj", "bias"), {c.kv_dim()}});
    }
    if (c.qk_norm) {
      specs.push_back({name(l, "q_norm"), {c.head_dim}});
      specs.push_back({name(l, "k_norm"), {c.head_dim}});
    }
    if (c.kind_of(l) == LayerKind::hybrid) {  // the linear-attention branch beside the softmax one
      specs.push_back({name(l, "linear_attn.q_proj"), {c.q_dim(), c.dim}});
      specs.push_back({name(l, "linear_attn.k_proj"), {c.kv_dim(), c.dim}});
      specs.push_back({name(l, "linear_attn.v_proj"), {c.kv_dim(), c.dim}});
      if (c.qkv_bias) {
        specs.push_back({name(l, "linear_attn.q_proj", "bias"), {c.q_dim()}});
        specs.push_back({name(l, "linear_attn.k_proj", "bias"), {c.kv_dim()}});
        specs.push_back({name(l, "linear_attn.v_proj", "bias"), {c.kv_dim()}});
      }
      specs.push_back({name(l, "linear_attn.g_norm"), {c.head_dim}});
      specs.push_back({name(l, "linear_attn.o_proj"), {c.dim, c.q_dim()}});
      specs.push_back({name(l, "linear_attn_branch_norm"), {c.dim}});
      specs.push_back({name(l, "attn_branch_norm"), {c.dim}});
    }
    if (c.kind_of(l) == LayerKind::gla) {
      const std::int64_t r = c.gla_rank();
      if (r > 0) {
        specs.push_back({name(l, "gk_proj.0"), {r, c.dim}});
        specs.push_back({name(l, "gk_proj.1"), {c.kv_dim(), r}});
        specs.push_back({name(l, "gk_proj.1", "bias"), {c.kv_dim()}});
      } else {
        specs.push_back({name(l, "gk_proj"), {c.kv_dim(), c.dim}});
        specs.push_back({name(l, "gk_proj", "bias"), {c.kv_dim()}});
      }
      specs.push_back({name(l, "g_norm"), {c.head_dim}});
    }
    specs.push_back({name(l, "o_proj"), {c.dim, c.q_dim()}});
    if (c.o_bias) specs.push_back({name(l, "o_proj", "bias"), {c.dim}});
    specs.push_back({name(l, "post_attention_layernorm"), {c.dim}});
    if (c.moe.sparse_layer(l)) {
      const MoeConfig& m = c.moe;
      specs.push_back({moe_tensor_name(c, l, 0, MoeRole::router), {m.experts, c.dim}});
      for (std::int64_t e = 0; e < m.experts; ++e) {
        specs.push_back({moe_tensor_name(c, l, e, MoeRole::gate), {m.expert_hidden, c.dim}});
        specs.push_back({moe_tensor_name(c, l, e, MoeRole::up), {m.expert_hidden, c.dim}});
        specs.push_back({moe_tensor_name(c, l, e, MoeRole::down), {c.dim, m.expert_hidden}});
      }
      if (m.shared_hidden > 0) {
        specs.push_back({moe_tensor_name(c, l, 0, MoeRole::shared_gate), {m.shared_hidden, c.dim}});
        specs.push_back({moe_tensor_name(c, l, 0, MoeRole::shared_up), {m.shared_hidden, c.dim}});
        specs.push_back({moe_tensor_name(c, l, 0, MoeRole::shared_down), {c.dim, m.shared_hidden}});
        if (m.shared_gated) specs.push_back({moe_tensor_name(c, l, 0, MoeRole::shared_router), {1, c.dim}});
      }
      continue;
    }
    specs.push_back({name(l, "gate_proj"), {c.hidden_dim, c.dim}});
    specs.push_back({name(l, "up_proj"), {c.hidden_dim, c.dim}});
    specs.push_back({name(l, "down_proj"), {c.dim, c.hidden_dim}});
    if (c.mlp_bias) {
      specs.push_back({name(l, "gate_proj", "bias"), {c.hidden_dim}});
      specs.push_back({name(l, "up_proj", "bias"), {c.hidden_dim}});
      specs.push_back({name(l, "down_proj", "bias"), {c.dim}});
    }
  }
  specs.push_back({final_norm_tensor_name, {c.dim}});
  if (!c.tied_classifier) specs.push_back({lm_head_tensor_name, {c.vocab_size, c.dim}});
  return specs;
}

namespace {

class GraphBuilder {
 public:
  explicit GraphBuilder(LlmModel& m) : m_(m), c_(m.config) {}

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
    std::map<std::string, std::string> t{{"weight", layer_tensor_name(c_, l, role)}};
    if (has_bias) t["bias"] = layer_tensor_name(c_, l, role, "bias");
    const Vertex v = op(OpKind::linear, cat("layers.", l, ".", role), t, {input});
    at(v).strings["site"] = cat("layers.", l, ".", site);
    return v;
  }

 private:
  LlmModel& m_;
  const LlmConfig& c_;
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
  Vertex x = g.op(OpKind::embedding, "embed", {{"weight", embed_tensor_name_of(c)}}, {tokens});
  auto norm = [&](const std::string& name, const std::string& weight, Vertex in) {
    const Vertex v = g.op(OpKind::rmsnorm, name, {{"weight", weight}}, {in});
    g.at(v).floats["epsilon"] = c.norm_eps;
    return v;
  };
  const RopeFrequencies freqs = rope_frequencies(c.rope_scaling, c.rope_theta, c.head_dim, c.seq_len);
  // SpikingBrain's GLA mixer (gla_attention.py:130-171): q, k through ReLU, the low-rank gate projection
  // (its second half reads the first's r outputs: site gate_in), the recurrence, per-head g_norm.
  auto gla = [&](std::int64_t l, const std::string& p, Vertex in) {
    const Vertex q = g.linear(l, "q_proj", c.qkv_bias, in, "attn_in");
    const Vertex k = g.linear(l, "k_proj", c.qkv_bias, in, "attn_in");
    const Vertex v = g.linear(l, "v_proj", c.qkv_bias, in, "attn_in");
    Vertex gk = 0;
    if (c.gla_rank() > 0) {
      const Vertex low = g.linear(l, "gk_proj.0", false, in, "attn_in");
      gk = g.linear(l, "gk_proj.1", true, low, "gate_in");
    } else {
      gk = g.linear(l, "gk_proj", true, in, "attn_in");
    }
    const Vertex qr = g.op(OpKind::relu, p + "q_relu", {}, {q});
    const Vertex kr = g.op(OpKind::relu, p + "k_relu", {}, {k});
    const Vertex mix = g.op(OpKind::gla, p + "gla", {}, {qr, kr, v, gk});
    g.at(mix).ints = {{"heads", c.n_heads}, {"kv_heads", c.n_kv_heads}, {"head_dim", c.head_dim}};
    g.at(mix).floats["normaliser"] = c.gla_normaliser;
    const Vertex gn = norm(p + "g_norm", layer_tensor_name(c, l, "g_norm"), mix);
    g.at(gn).ints["heads"] = c.n_heads;
    return gn;
  };
  // SpikingBrain-76B's linear branch: sigmoid feature maps, the decay tied to the key (1 - k), g_norm, its
  // own o projection (site la_out).
  auto key_gated_gla = [&](std::int64_t l, const std::string& p, Vertex in) {
    const Vertex q = g.linear(l, "linear_attn.q_proj", c.qkv_bias, in, "attn_in");
    const Vertex k = g.linear(l, "linear_attn.k_proj", c.qkv_bias, in, "attn_in");
    const Vertex v = g.linear(l, "linear_attn.v_proj", c.qkv_bias, in, "attn_in");
    const Vertex qs = g.op(OpKind::sigmoid, p + "linear_attn.q_sigmoid", {}, {q});
    const Vertex ks = g.op(OpKind::sigmoid, p + "linear_attn.k_sigmoid", {}, {k});
    const Vertex mix = g.op(OpKind::gla, p + "linear_attn.gla", {}, {qs, ks, v});
    g.at(mix).ints = {
        {"heads", c.n_heads}, {"kv_heads", c.n_kv_heads}, {"head_dim", c.head_dim}, {"key_gate", 1}};
    const Vertex gn = norm(p + "linear_attn.g_norm", layer_tensor_name(c, l, "linear_attn.g_norm"), mix);
    g.at(gn).ints["heads"] = c.n_heads;
    return g.linear(l, "linear_attn.o_proj", false, gn, "la_out");
  };
  auto softmax_attention = [&](std::int64_t l, const std::string& p, Vertex in) {
    Vertex q = g.linear(l, "q_proj", c.qkv_bias, in, "attn_in");
    Vertex k = g.linear(l, "k_proj", c.qkv_bias, in, "attn_in");
    const Vertex v = g.linear(l, "v_proj", c.qkv_bias, in, "attn_in");
    if (c.qk_norm) {  // Qwen3: RMSNorm over each head's head_dim, one weight shared by the heads
      q = norm(p + "q_norm", layer_tensor_name(c, l, "q_norm"), q);
      g.at(q).ints["heads"] = c.n_heads;
      k = norm(p + "k_norm", layer_tensor_name(c, l, "k_norm"), k);
      g.at(k).ints["heads"] = c.n_kv_heads;
    }
    // One rope op rotates the query and the key heads (outputs 0 and 1).
    const Vertex rope = g.op(OpKind::rope, p + "rope", {}, {q, k});
    g.at(rope).ints = {{"heads", c.n_heads},
                       {"kv_heads", c.n_kv_heads},
                       {"head_dim", c.head_dim},
                       {"context", c.seq_len},
                       {"interleaved", c.rope == RopeStyle::interleaved ? 1 : 0}};
    g.at(rope).floats["theta"] = c.rope_theta;
    g.at(rope).strings["rope_type"] = name(c.rope_scaling.type);
    if (c.rope_scaling.type == RopeType::dynamic) {
      g.at(rope).floats["dynamic_factor"] = c.rope_scaling.factor;
      g.at(rope).ints["dynamic_context"] = c.rope_scaling.original_context;
    } else if (c.rope_scaling.type != RopeType::plain) {
      g.at(rope).float_lists["inv_freq"] = freqs.inv_freq;
      g.at(rope).floats["attention_scaling"] = freqs.attention_scaling;
    }
    const Vertex attn = g.op(OpKind::attention, p + "attention", {}, {});
    g.at(attn).ints = {{"heads", c.n_heads},
                       {"kv_heads", c.n_kv_heads},
                       {"head_dim", c.head_dim},
                       {"context", c.seq_len},
                       {"window", c.window_of(l)}};
    if (c.attention_query_site) g.at(attn).strings["site"] = p + "attn_query";
    if (c.kv_int8) g.at(attn).ints["kv_int8"] = 1;
    if (c.sink_tokens > 0) g.at(attn).ints["sinks"] = c.sink_tokens;
    model.network.connect(rope, attn, 0, 0);
    model.network.connect(rope, attn, 1, 1);
    model.network.connect(v, attn, 2);
    return attn;
  };
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = cat("layers.", l, ".");
    const Vertex attn_norm = norm(p + "attn_norm", layer_tensor_name(c, l, "input_layernorm"), x);
    Vertex o = 0;
    switch (c.kind_of(l)) {
      case LayerKind::gla:
        o = g.linear(l, "o_proj", c.o_bias, gla(l, p, attn_norm), "attn_out");
        break;
      case LayerKind::attention:
        o = g.linear(l, "o_proj", c.o_bias, softmax_attention(l, p, attn_norm), "attn_out");
        break;
      case LayerKind::hybrid: {  // both branches normalised, then summed
        const Vertex la = key_gated_gla(l, p, attn_norm);
        const Vertex sm = g.linear(l, "o_proj", c.o_bias, softmax_attention(l, p, attn_norm), "attn_out");
        const Vertex la_n =
            norm(p + "linear_attn_branch_norm", layer_tensor_name(c, l, "linear_attn_branch_norm"), la);
        const Vertex sm_n = norm(p + "attn_branch_norm", layer_tensor_name(c, l, "attn_branch_norm"), sm);
        o = g.op(OpKind::add, p + "branch_sum", {}, {la_n, sm_n});
        break;
      }
    }
    const Vertex attn_res = g.op(OpKind::add, p + "attn_residual", {}, {x, o});
    const Vertex mlp_norm =
        norm(p + "mlp_norm", layer_tensor_name(c, l, "post_attention_layernorm"), attn_res);
    Vertex mlp_out = 0;
    if (c.moe.sparse_layer(l)) {
      const MoeConfig& m = c.moe;
      const Vertex router = g.op(OpKind::linear, p + "router",
                                 {{"weight", moe_tensor_name(c, l, 0, MoeRole::router)}}, {mlp_norm});
      g.at(router).strings["site"] = p + "router";
      std::map<std::string, std::string> t;
      for (std::int64_t e = 0; e < m.experts; ++e) {
        t[cat("gate.", e)] = moe_tensor_name(c, l, e, MoeRole::gate);
        t[cat("up.", e)] = moe_tensor_name(c, l, e, MoeRole::up);
        t[cat("down.", e)] = moe_tensor_name(c, l, e, MoeRole::down);
      }
      if (m.shared_hidden > 0) {
        t["shared.gate"] = moe_tensor_name(c, l, 0, MoeRole::shared_gate);
        t["shared.up"] = moe_tensor_name(c, l, 0, MoeRole::shared_up);
        t["shared.down"] = moe_tensor_name(c, l, 0, MoeRole::shared_down);
        if (m.shared_gated) t["shared.router"] = moe_tensor_name(c, l, 0, MoeRole::shared_router);
      }
      mlp_out = g.op(OpKind::moe, p + "moe", t, {mlp_norm, router});
      g.at(mlp_out).strings["site"] = p + "mlp_in";
      g.at(mlp_out).ints = {{"experts", m.experts},
                            {"top_k", m.top_k},
                            {"norm_topk_prob", m.norm_topk_prob ? 1 : 0},
                            {"expert_hidden", m.expert_hidden},
                            {"shared_hidden", m.shared_hidden}};
    } else {
      const Vertex gate = g.linear(l, "gate_proj", c.mlp_bias, mlp_norm, "mlp_in");
      const Vertex up = g.linear(l, "up_proj", c.mlp_bias, mlp_norm, "mlp_in");
      const Vertex act = g.op(OpKind::silu_mul, p + "swiglu", {}, {gate, up});
      mlp_out = g.linear(l, "down_proj", c.mlp_bias, act, "mlp_out");
    }
    x = g.op(OpKind::add, p + "mlp_residual", {}, {attn_res, mlp_out});
  }
  const Vertex final_norm = norm("final_norm", final_norm_tensor_name, x);
  const Vertex head =
      g.op(OpKind::linear, "lm_head",
           {{"weight", c.tied_classifier ? embed_tensor_name_of(c) : lm_head_tensor_name}}, {final_norm});
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
