#include "models/gla_swa.hpp"

#include <algorithm>
#include <set>

#include "base/text.hpp"
#include "models/hf_llm.hpp"

namespace spikesim::models {

namespace {
using Config = JsonAt<ModelError>;
}  // namespace

LlmConfig read_gla_swa_config(const Config& j, std::int64_t default_context) {
  const std::string& file = j.file();
  LlmConfig c;
  c.architecture = gla_swa_architecture;
  c.names = TensorNames::gla_swa;
  // Defaults of configuration_gla_swa.py:29-55 (the release's 7B values).
  c.vocab_size = j.integer_or("vocab_size", 152064, 1, max_llm_vocab);
  c.dim = j.integer_or("hidden_size", 3584, 1, max_llm_width);
  c.n_layers = j.integer_or("num_hidden_layers", 28, 1, max_llm_layers);
  c.n_heads = j.integer_or("num_attention_heads", 28, 1, max_llm_heads);
  c.n_kv_heads = j.integer_or("num_key_value_heads", c.n_heads, 1, max_llm_heads);  // :62
  c.hidden_dim = j.integer_or("intermediate_size", 18944, 1, max_llm_width);
  if (c.dim % c.n_heads != 0) {
    throw ModelError(
        cat(file, ": hidden_size ", c.dim, " is not a multiple of num_attention_heads ", c.n_heads));
  }
  c.head_dim = c.dim / c.n_heads;  // gla_attention.py:66, window_attention.py:111 (no head_dim field)
  if (j.has("head_dim") && j.at("head_dim").integer() != c.head_dim) {
    j.at("head_dim")
        .fail(cat("is ", j.at("head_dim").integer(),
                  " but GLAswa's head_dim is hidden_size / "
                  "num_attention_heads = ",
                  c.head_dim));
  }
  const std::int64_t context = default_context > 0 ? default_context : 131072;
  c.seq_len = j.integer_or("max_position_embeddings", context, 1, max_llm_context);
  c.norm_eps = j.number_or("norm_eps", 1e-6, 0.0, 1.0);
  if (!(c.norm_eps > 0.0)) j.at("norm_eps").fail("must be positive");
  c.rope_theta = j.number_or("rope_theta", 1e6, 0.0);
  if (!(c.rope_theta > 0.0)) j.at("rope_theta").fail("must be positive");
  const std::string act = j.string_or("hidden_act", "swish");
  if (act != "swish" && act != "silu") {
    j.at("hidden_act").fail(cat("'", act, "' not supported (GLAswa's GLU uses swish = silu)"));
  }
  if (j.boolean_or("use_short_conv", false)) {
    j.at("use_short_conv")
        .fail(
            "true is not supported (the release's short-convolution decode never stores its updated conv "
            "states, "
            "hf_7B_model/gla_attention.py:125-127, :162; released checkpoints use false)");
  }
  const std::string mode = j.string_or("attn_mode", "chunk");
  if (mode != "chunk" && mode != "fused_chunk" && mode != "fused_recurrent") {
    j.at("attn_mode")
        .fail(cat("'", mode, "' unknown (gla_attention.py:69: chunk, fused_chunk, fused_recurrent)"));
  }
  if (j.has("rope_scaling")) j.at("rope_scaling").fail("not supported for GLAswa (the release has none)");
  c.tied_classifier = j.boolean_or("tie_word_embeddings", false);
  c.qkv_bias = true;  // gla_attention.py:72-74, window_attention.py:119-121
  c.o_bias = false;
  c.mlp_bias = false;
  c.rope = RopeStyle::half;
  c.bos_id = config_token_id(j, "bos_token_id", 1);
  c.eos_id = config_token_id(j, "eos_token_id", 2);
  c.gla_normaliser = j.number_or("gate_logit_normalizer", 16.0, 0.0);
  if (!(c.gla_normaliser > 0.0)) j.at("gate_logit_normalizer").fail("must be positive");
  c.gla_low_rank = j.integer_or("gate_low_rank_dim", -1, 1, max_llm_width);  // -1: from the tensors

  // Layer kinds: attn_layers (0-based SWA layers; default the odd ones, configuration_gla_swa.py:75), or
  // spikesim's layer_types list, which must agree with a stored attn_layers.
  std::vector<LayerKind> kinds(static_cast<std::size_t>(c.n_layers), LayerKind::gla);
  for (std::int64_t l = 1; l < c.n_layers; l += 2)
    kinds[static_cast<std::size_t>(l)] = LayerKind::attention;
  if (j.has("attn_layers")) {
    const Config list = j.at("attn_layers");
    std::fill(kinds.begin(), kinds.end(), LayerKind::gla);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::int64_t l = list.at(i).integer();
      if (l < 0 || l >= c.n_layers) {
        list.at(i).fail(
            cat("is layer ", l, ", outside [0, ", c.n_layers, ") (num_hidden_layers ", c.n_layers, ")"));
      }
      kinds[static_cast<std::size_t>(l)] = LayerKind::attention;
    }
  }
  if (j.has("layer_types")) {
    const Config types = j.at("layer_types");
    if (types.size() != static_cast<std::size_t>(c.n_layers))
      types.fail(cat("has ", types.size(), " entries, expected num_hidden_layers = ", c.n_layers));
    std::vector<LayerKind> listed(kinds.size());
    for (std::size_t l = 0; l < types.size(); ++l) {
      const std::string t = types.at(l).string();
      if (t != "gla" && t != "swa")
        types.at(l).fail(cat("'", t, "' is an unknown layer type (known: gla, swa)"));
      listed[l] = t == "swa" ? LayerKind::attention : LayerKind::gla;
    }
    if (j.has("attn_layers") && listed != kinds) types.fail("disagrees with attn_layers");
    kinds = listed;
  }
  c.layer_kinds = kinds;
  const bool any_swa = std::find(kinds.begin(), kinds.end(), LayerKind::attention) != kinds.end();
  c.window.assign(kinds.size(), 0);
  if (any_swa) {
    std::int64_t window = 4096;  // configuration_gla_swa.py default
    if (j.has("sliding_window")) {
      const Config w = j.at("sliding_window");
      if (!w.is_number() || w.json().is_number_float() || w.integer() < 1)
        w.fail(cat("must be a positive whole number of tokens, found ", w.found()));
      window = w.integer(1, max_llm_context);
    }
    for (std::size_t l = 0; l < kinds.size(); ++l) {
      // flash-attn window_size=(W, 0): itself and W previous tokens = W + 1 keys
      // (window_attention.py:204-216).
      if (kinds[l] == LayerKind::attention) c.window[l] = window + 1;
    }
  }
  c.attention_query_site = true;
  c.kv_int8 = true;
  validate(c, file);
  return c;
}

LlmConfig read_spikingbrain_moe_config(const Config& j, std::int64_t default_context) {
  const std::string& file = j.file();
  LlmConfig c;
  c.architecture = spikingbrain_moe_architecture;
  c.config_only = true;
  c.dim = j.at("hidden_size").integer(1, max_llm_width);
  c.n_layers = j.at("num_hidden_layers").integer(1, max_llm_layers);
  c.n_heads = j.at("num_attention_heads").integer(1, max_llm_heads);
  c.n_kv_heads = j.integer_or("num_key_value_heads", c.n_heads, 1, max_llm_heads);
  c.head_dim = j.integer_or("head_dim", c.dim / c.n_heads, 1, max_llm_width);
  c.hidden_dim = j.at("intermediate_size").integer(1, max_llm_width);
  c.vocab_size = j.at("vocab_size").integer(1, max_llm_vocab);
  const std::int64_t context = default_context > 0 ? default_context : 131072;
  c.seq_len = j.integer_or("max_position_embeddings", context, 1, max_llm_context);
  c.norm_eps = j.number_or("norm_eps", 1e-6, 0.0, 1.0);
  c.rope_theta = j.number_or("rope_theta", 1e6, 0.0);
  if (!(c.rope_theta > 0.0)) j.at("rope_theta").fail("must be positive");
  const std::string act = j.string_or("hidden_act", "silu");
  if (act != "silu" && act != "swish") j.at("hidden_act").fail(cat("'", act, "' not supported (silu)"));
  c.tied_classifier = j.boolean_or("tie_word_embeddings", false);
  c.qkv_bias = j.boolean_or("attention_bias", true);
  c.rope = RopeStyle::half;
  c.gla_key_gate = true;
  c.attention_query_site = true;  // as the 7B release (the report codes "all linear projection" inputs)
  c.kv_int8 = true;

  const auto expect_string = [](const Config& obj, const char* key, const std::string& want) {
    if (obj.has(key) && obj.at(key).string() != want)
      obj.at(key).fail(cat("'", obj.at(key).string(), "' not supported (spikesim implements '", want, "')"));
  };
  // Layers: "gla+swa" / "gla+full" (the softmax branch beside the linear one).
  const std::int64_t window = j.at("sliding_window").integer(1, max_llm_context);
  const Config types = j.at("layer_types");
  if (types.size() != static_cast<std::size_t>(c.n_layers))
    types.fail(cat("has ", types.size(), " entries, expected num_hidden_layers = ", c.n_layers));
  c.layer_kinds.assign(types.size(), LayerKind::hybrid);
  c.window.assign(types.size(), 0);
  for (std::size_t l = 0; l < types.size(); ++l) {
    const std::string t = types.at(l).string();
    if (t != "gla+swa" && t != "gla+full")
      types.at(l).fail(cat("'", t, "' is an unknown layer type (gla+swa, gla+full)"));
    c.window[l] = t == "gla+swa" ? window + 1 : 0;  // W + 1 keys, as the 7B release's flash-attn window
  }
  if (j.has("sink_tokens")) {
    const Config sinks = j.at("sink_tokens");
    c.sink_tokens = sinks.integer_or("num_tokens", 0, 0, max_llm_context);
    if (sinks.boolean_or("per_layer", false))
      sinks.at("per_layer").fail("true not supported (one set of sink embeddings at the input)");
    if (sinks.boolean_or("causal_among_sinks", false))
      sinks.at("causal_among_sinks")
          .fail("true not supported (the report: sinks attend each other unmasked)");
  }
  if (j.has("linear_attention")) {
    const Config la = j.at("linear_attention");
    expect_string(la, "type", "gla");
    expect_string(la, "feature_map", "sigmoid");
    expect_string(la, "gate", "one_minus_key");
    expect_string(la, "output_norm", "rmsnorm_per_head");
    expect_string(la, "scale", "head_dim^-0.5");
    if (la.integer_or("num_heads", c.n_heads) != c.n_heads)
      la.at("num_heads").fail(cat("must equal num_attention_heads ", c.n_heads));
    if (la.integer_or("num_key_value_heads", c.n_kv_heads) != c.n_kv_heads)
      la.at("num_key_value_heads").fail(cat("must equal num_key_value_heads ", c.n_kv_heads));
    if (la.boolean_or("qkv_bias", c.qkv_bias) != c.qkv_bias)
      la.at("qkv_bias").fail("must equal attention_bias (one bias flag for both branches)");
  }
  if (j.has("hybrid")) {
    expect_string(j.at("hybrid"), "branch_norm", "rmsnorm");
    expect_string(j.at("hybrid"), "combine", "sum");
  }
  // MLPs: dense SwiGLU or MoE.
  const Config mlps = j.at("mlp_layer_types");
  if (mlps.size() != static_cast<std::size_t>(c.n_layers))
    mlps.fail(cat("has ", mlps.size(), " entries, expected num_hidden_layers = ", c.n_layers));
  MoeConfig& m = c.moe;
  m.sparse.assign(mlps.size(), false);
  for (std::size_t l = 0; l < mlps.size(); ++l) {
    const std::string t = mlps.at(l).string();
    if (t != "dense" && t != "moe") mlps.at(l).fail(cat("'", t, "' is unknown (dense, moe)"));
    m.sparse[l] = t == "moe";
  }
  if (std::find(m.sparse.begin(), m.sparse.end(), true) != m.sparse.end()) {
    const Config moe = j.at("moe");
    m.experts = moe.at("num_experts").integer(1, max_llm_width);
    m.top_k = moe.at("num_experts_per_tok").integer(1, m.experts);
    m.expert_hidden = moe.integer_or("expert_intermediate_size", c.hidden_dim, 1, max_llm_width);
    const std::int64_t shared = moe.integer_or("num_shared_experts", 0, 0, 1);
    m.shared_hidden =
        shared > 0 ? moe.integer_or("shared_expert_intermediate_size", m.expert_hidden, 1, max_llm_width) : 0;
    m.shared_gated = moe.boolean_or("shared_expert_gate", false);
    m.norm_topk_prob = moe.boolean_or("normalize_topk_weights", false);
    expect_string(moe, "router_activation", "softmax");
    m.names = MoeNames::qwen;
  }
  validate(c, file);
  return c;
}

void set_gla_gate_layout(LlmConfig& c, const std::map<std::string, Tensor>& tensors,
                         const std::string& file) {
  for (const auto& [name, t] : tensors) {
    if (name.find("weight_quantizer") != std::string::npos) {
      throw ModelError(cat(file, ": tensor '", name,
                           "' is a W8ASpike INT8 weight-quantiser scale; spikesim reads the float checkpoint "
                           "(hf_7B_model layout) and codes activations itself"));
    }
  }
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    if (c.kind_of(l) != LayerKind::gla) continue;
    const auto low = tensors.find(layer_tensor_name(c, l, "gk_proj.0"));
    const auto merged = tensors.find(layer_tensor_name(c, l, "gk_proj"));
    if (low == tensors.end() && merged != tensors.end()) {
      c.gla_low_rank = 0;
    } else if (low != tensors.end()) {
      if (low->second.shape.size() != 2) break;  // the shape check names it
      const std::int64_t r = low->second.shape[0];
      if (c.gla_low_rank > 0 && r != c.gla_low_rank) {
        throw ModelError(cat(file, ": tensor '", low->first, "' has ", r,
                             " rows but config.json's "
                             "gate_low_rank_dim is ",
                             c.gla_low_rank));
      }
      c.gla_low_rank = r;
    }
    return;  // the first GLA layer decides; required_tensors checks every layer against it
  }
}

}  // namespace spikesim::models
