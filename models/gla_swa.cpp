#include "models/gla_swa.hpp"

#include <algorithm>
#include <set>

#include "base/text.hpp"

namespace spikesim::models {

namespace {

using Config = JsonAt<ModelError>;

std::int32_t token_id(const Config& j, const std::string& key, std::int32_t fallback) {
  if (!j.has(key)) return fallback;
  const Config v = j.at(key);
  if (v.is_array())
    return v.size() == 0 ? fallback : static_cast<std::int32_t>(v.at(0).integer(0, max_llm_vocab - 1));
  return static_cast<std::int32_t>(v.integer(0, max_llm_vocab - 1));
}

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
  c.bos_id = token_id(j, "bos_token_id", 1);
  c.eos_id = token_id(j, "eos_token_id", 2);
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
