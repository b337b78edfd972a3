#include "models/hf_llm.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/files.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "models/error.hpp"
#include "models/gla_swa.hpp"

namespace spikesim::models {

namespace {

using nlohmann::json;
using Config = JsonAt<ModelError>;

}  // namespace

std::int32_t config_token_id(const JsonAt<ModelError>& j, const std::string& key, std::int32_t fallback) {
  if (!j.has(key)) return fallback;
  const JsonAt<ModelError> v = j.at(key);
  if (v.is_array()) {
    if (v.size() == 0) return fallback;
    return static_cast<std::int32_t>(v.at(0).integer(0, max_llm_vocab - 1));
  }
  return static_cast<std::int32_t>(v.integer(0, max_llm_vocab - 1));
}

std::filesystem::path hf_config_path(const std::filesystem::path& model) {
  std::error_code ec;
  if (std::filesystem::is_directory(model, ec)) {
    return std::filesystem::exists(model / "config.json", ec) ? model / "config.json"
                                                              : std::filesystem::path{};
  }
  if (model.filename() == "config.json") return model;
  if (model.extension() == ".safetensors" || model.filename() == "model.safetensors.index.json") {
    const auto cfg = model.parent_path() / "config.json";
    return std::filesystem::exists(cfg, ec) ? cfg : std::filesystem::path{};
  }
  return {};
}

namespace {

const std::set<std::string>& supported_architectures() {
  static const std::set<std::string> names = {
      "LlamaForCausalLM",    "Qwen2ForCausalLM",   "Qwen3ForCausalLM",
      "MistralForCausalLM",  "MixtralForCausalLM", "Qwen2MoeForCausalLM",
      "Qwen3MoeForCausalLM", gla_swa_architecture, spikingbrain_moe_architecture};
  return names;
}

std::string architecture_of(const Config& j) {
  if (j.has("architectures") && j.at("architectures").is_array() && j.at("architectures").size() > 0)
    return j.at("architectures").at(0).string();
  static const std::map<std::string, std::string> by_type = {
      {"llama", "LlamaForCausalLM"},
      {"qwen2", "Qwen2ForCausalLM"},
      {"qwen3", "Qwen3ForCausalLM"},
      {"mistral", "MistralForCausalLM"},
      {"mixtral", "MixtralForCausalLM"},
      {"qwen2_moe", "Qwen2MoeForCausalLM"},
      {"qwen3_moe", "Qwen3MoeForCausalLM"},
      {"gla_swa", gla_swa_architecture},
      {"spikingbrain_hybrid_moe", spikingbrain_moe_architecture}};
  const auto type = j.string_or("model_type", "");
  const auto it = by_type.find(type);
  return it != by_type.end() ? it->second : type;
}

// RoPE: transformers 5's `rope_parameters` {rope_type, rope_theta, ...} or the older top-level `rope_theta`
// with `rope_scaling` (null, or {rope_type | type, factor, ...}). Keys are those transformers'
// modeling_rope_utils reads for each type; any other key is refused by name.
void read_rope(const Config& j, LlmConfig& c) {
  const bool v5 = j.has("rope_parameters");
  const std::string block = v5 ? "rope_parameters" : "rope_scaling";
  c.rope_theta = v5 ? j.at(block).number_or("rope_theta", 10000.0, std::numeric_limits<double>::min())
                    : j.number_or("rope_theta", 10000.0, std::numeric_limits<double>::min());
  if (v5 && j.has("rope_scaling") && !j.at("rope_scaling").is_null()) {
    throw ModelError(cat(j.file(), ": both rope_parameters and rope_scaling are set (use one)"));
  }
  if (j.has("partial_rotary_factor") && j.at("partial_rotary_factor").number() != 1.0) {
    throw ModelError(cat(j.file(), ": key 'partial_rotary_factor' ", j.at("partial_rotary_factor").found(),
                         " not supported (RoPE over the whole head only)"));
  }
  if (!j.has(block)) return;
  const Config r = j.at(block);
  if (!r.is_object()) r.fail(cat("must be an object, found ", r.found()));
  std::string type;
  if (r.has("rope_type")) {
    type = r.at("rope_type").string();
  } else if (r.has("type")) {
    type = r.at("type").string();
  } else {
    throw ModelError(cat(j.file(), ": key '", block, ".rope_type' missing"));
  }
  RopeScaling& s = c.rope_scaling;
  std::set<std::string> keys = {"rope_type", "type", "rope_theta"};
  const auto factor = [&] {
    keys.insert("factor");
    s.factor = r.at("factor").number(1.0, 1e6);
  };
  if (type == "default") {
    s.type = RopeType::plain;
  } else if (type == "linear") {
    s.type = RopeType::linear;
    factor();
  } else if (type == "dynamic") {
    s.type = RopeType::dynamic;
    factor();
  } else if (type == "llama3") {
    s.type = RopeType::llama3;
    factor();
    keys.insert({"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"});
    s.low_freq_factor = r.at("low_freq_factor").number(std::numeric_limits<double>::min(), 1e6);
    s.high_freq_factor = r.at("high_freq_factor").number(std::numeric_limits<double>::min(), 1e6);
    s.original_context = r.at("original_max_position_embeddings").integer(1, max_llm_context);
    if (!(s.high_freq_factor > s.low_freq_factor)) {
      throw ModelError(cat(r.where(), " high_freq_factor ", s.high_freq_factor,
                           " must exceed low_freq_factor ", s.low_freq_factor));
    }
  } else if (type == "yarn") {
    s.type = RopeType::yarn;
    factor();
    keys.insert(
        {"original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor", "truncate"});
    s.original_context = r.integer_or("original_max_position_embeddings", 0, 1, max_llm_context);
    s.beta_fast = r.number_or("beta_fast", 32.0, std::numeric_limits<double>::min(), 1e6);
    s.beta_slow = r.number_or("beta_slow", 1.0, std::numeric_limits<double>::min(), 1e6);
    s.attention_factor = r.number_or("attention_factor", 0.0, 0.0, 1e6);
    s.truncate = r.boolean_or("truncate", true);
  } else {
    throw ModelError(cat(r.where(), ".rope_type '", type,
                         "' not supported (spikesim reads default, linear, dynamic, llama3 and yarn)"));
  }
  for (const auto& [key, value] : r.items()) {
    if (!keys.contains(key) && !value.is_null()) {
      throw ModelError(cat(value.where(), " not supported for rope_type '", type, "' (spikesim reads ",
                           join(std::vector<std::string>(keys.begin(), keys.end()), ", "), ")"));
    }
  }
}

// Sliding windows per layer, as transformers applies them: Mistral slides every layer when sliding_window
// is set; Qwen2 / Qwen3 / Qwen2-MoE / Qwen3-MoE only with use_sliding_window true, on the layers whose
// `layer_types` entry is "sliding_attention" (when the config lists them) or else layers
// >= max_window_layers. Mixtral and Llama: sliding_window slides every layer when set (Mixtral) / never.
void read_window(const Config& j, LlmConfig& c) {
  const std::string& a = c.architecture;
  const bool qwen = a.rfind("Qwen", 0) == 0;
  const bool mistral_like = a == "MistralForCausalLM" || a == "MixtralForCausalLM";
  if (!qwen && !mistral_like) {
    if (j.has("sliding_window") || j.boolean_or("use_sliding_window", false)) {
      throw ModelError(cat(j.file(), ": key 'sliding_window' not supported for ", a, " (transformers' ", a,
                           " attends every position)"));
    }
    return;
  }
  if (qwen && !j.boolean_or("use_sliding_window", false)) return;  // the window is ignored
  if (!j.has("sliding_window")) {
    if (qwen)
      throw ModelError(cat(j.file(), ": use_sliding_window is true but key 'sliding_window' missing"));
    return;
  }
  const std::int64_t w = j.at("sliding_window").integer(1, max_llm_context);
  c.window.assign(static_cast<std::size_t>(c.n_layers), mistral_like ? w : 0);
  if (!qwen) return;
  if (j.has("layer_types")) {
    const Config types = j.at("layer_types");
    if (types.size() != static_cast<std::size_t>(c.n_layers)) {
      types.fail(cat("has ", types.size(), " entries, expected num_hidden_layers = ", c.n_layers));
    }
    for (std::size_t l = 0; l < types.size(); ++l) {
      const std::string t = types.at(l).string();
      if (t != "sliding_attention" && t != "full_attention") {
        types.at(l).fail(cat("'", t, "' not supported (full_attention or sliding_attention)"));
      }
      c.window[l] = t == "sliding_attention" ? w : 0;
    }
    return;
  }
  const std::int64_t first = j.integer_or("max_window_layers", 28, 0, max_llm_layers);
  for (std::int64_t l = first; l < c.n_layers; ++l)
    c.window[static_cast<std::size_t>(l)] = w;
}

// Mixture-of-experts keys of Mixtral (num_local_experts, num_experts_per_tok; every layer sparse) and
// Qwen2-MoE / Qwen3-MoE (num_experts or num_local_experts, num_experts_per_tok, moe_intermediate_size,
// norm_topk_prob, decoder_sparse_step, mlp_only_layers; Qwen2-MoE's shared_expert_intermediate_size).
void read_moe(const Config& j, LlmConfig& c) {
  MoeConfig& m = c.moe;
  const std::string& a = c.architecture;
  if (a == "MixtralForCausalLM") {
    m.names = MoeNames::mixtral;
    m.experts = j.at("num_local_experts").integer(1, max_llm_heads);
    m.top_k = j.at("num_experts_per_tok").integer(1, m.experts);
    m.expert_hidden = c.hidden_dim;
    m.norm_topk_prob = true;
    m.sparse.assign(static_cast<std::size_t>(c.n_layers), true);
    return;
  }
  if (a != "Qwen2MoeForCausalLM" && a != "Qwen3MoeForCausalLM") return;
  m.names = MoeNames::qwen;
  // Hub checkpoints write num_experts; transformers 5 writes Qwen3-MoE's as num_local_experts.
  const bool both = j.has("num_experts") && j.has("num_local_experts");
  if (!j.has("num_experts") && !j.has("num_local_experts"))
    throw ModelError(cat(j.file(), ": key 'num_experts' missing (nor num_local_experts)"));
  m.experts = j.has("num_experts") ? j.at("num_experts").integer(1, max_llm_heads)
                                   : j.at("num_local_experts").integer(1, max_llm_heads);
  if (both && j.at("num_local_experts").integer(1, max_llm_heads) != m.experts) {
    throw ModelError(cat(j.file(), ": num_experts ", m.experts, " and num_local_experts ",
                         j.at("num_local_experts").integer(), " disagree"));
  }
  m.top_k = j.at("num_experts_per_tok").integer(1, m.experts);
  m.expert_hidden = j.at("moe_intermediate_size").integer(1, max_llm_width);
  m.norm_topk_prob = j.boolean_or("norm_topk_prob", a == "Qwen3MoeForCausalLM");
  if (a == "Qwen2MoeForCausalLM")
    m.shared_hidden = j.integer_or("shared_expert_intermediate_size", 0, 0, max_llm_width);
  const std::int64_t step = j.integer_or("decoder_sparse_step", 1, 1, max_llm_layers);
  std::set<std::int64_t> dense_only;
  if (j.has("mlp_only_layers")) {
    for (const Config& e : j.at("mlp_only_layers").elements())
      dense_only.insert(e.integer(0, c.n_layers - 1));
  }
  m.sparse.resize(static_cast<std::size_t>(c.n_layers));
  for (std::int64_t l = 0; l < c.n_layers; ++l)
    m.sparse[static_cast<std::size_t>(l)] = !dense_only.contains(l) && (l + 1) % step == 0;
}

}  // namespace

LlmConfig read_hf_config(const std::filesystem::path& config_json, std::int64_t default_context) {
  const std::string file = config_json.string();
  const json doc = parse_json_file<ModelError>(config_json);
  if (!doc.is_object()) throw ModelError(cat(file, ": not a JSON object"));
  const Config j(doc, file);
  LlmConfig c;
  const std::string arch = architecture_of(j);
  if (!supported_architectures().contains(arch)) {
    throw ModelError(
        cat(file, ": architecture '", arch, "' not supported (spikesim reads ",
            join(std::vector<std::string>(supported_architectures().begin(), supported_architectures().end()),
                 ", "),
            ")"));
  }
  if (arch == gla_swa_architecture) return read_gla_swa_config(j, default_context);
  if (arch == spikingbrain_moe_architecture) return read_spikingbrain_moe_config(j, default_context);
  const bool qwen2 = arch == "Qwen2ForCausalLM" || arch == "Qwen2MoeForCausalLM";
  c.architecture = arch;
  // Sizes: whole numbers within the limits of validate(), so nothing is sized from an absurd value.
  c.dim = j.at("hidden_size").integer(1, max_llm_width);
  c.hidden_dim = j.at("intermediate_size").integer(1, max_llm_width);
  c.n_layers = j.at("num_hidden_layers").integer(1, max_llm_layers);
  c.n_heads = j.at("num_attention_heads").integer(1, max_llm_heads);
  c.n_kv_heads = j.integer_or("num_key_value_heads", c.n_heads, 1, max_llm_heads);
  c.vocab_size = j.at("vocab_size").integer(1, max_llm_vocab);
  c.seq_len = default_context > 0
                  ? j.integer_or("max_position_embeddings", default_context, 1, max_llm_context)
                  : j.at("max_position_embeddings").integer(1, max_llm_context);
  // head_dim: explicit, or hidden / heads (Mixtral writes null).
  c.head_dim = j.integer_or("head_dim", c.dim / c.n_heads, 1, max_llm_width);
  if (!j.has("head_dim") && c.dim % c.n_heads != 0) {
    throw ModelError(
        cat(file, ": hidden_size ", c.dim, " is not a multiple of num_attention_heads ", c.n_heads));
  }
  c.norm_eps = j.number_or("rms_norm_eps", 1e-6, 0.0, 1.0);
  read_rope(j, c);
  c.tied_classifier = j.boolean_or("tie_word_embeddings", false);
  // q/k/v biases: Qwen2 / Qwen2-MoE always (Qwen2-MoE writes qkv_bias: true; false is refused below);
  // Llama / Mistral / Qwen3 with attention_bias, which covers o as well on Llama and Qwen3.
  const bool attention_bias = j.boolean_or("attention_bias", false);
  if (arch == "Qwen2MoeForCausalLM" && !j.boolean_or("qkv_bias", true)) {
    throw ModelError(cat(file,
                         ": key 'qkv_bias' false not supported (transformers' Qwen2-MoE has q/k/v "
                         "biases)"));
  }
  c.qkv_bias = qwen2 || attention_bias;
  c.o_bias = !qwen2 && attention_bias;
  c.mlp_bias = j.boolean_or("mlp_bias", false);
  if (c.mlp_bias && arch != "LlamaForCausalLM") {
    throw ModelError(cat(file, ": key 'mlp_bias' true not supported for ", arch, " (only Llama has it)"));
  }
  c.qk_norm = arch == "Qwen3ForCausalLM" || arch == "Qwen3MoeForCausalLM";
  c.rope = RopeStyle::half;
  c.bos_id = config_token_id(j, "bos_token_id", 1);
  c.eos_id = config_token_id(j, "eos_token_id", 2);
  const auto act = j.string_or("hidden_act", "silu");
  if (act != "silu") throw ModelError(cat(file, ": hidden_act '", act, "' not supported (expected silu)"));
  read_window(j, c);
  read_moe(j, c);
  if (c.rope_scaling.type == RopeType::dynamic) {
    // Dynamic NTK stretches RoPE past max_position_embeddings (transformers sets no limit): spikesim's
    // context is max_position_embeddings x factor, the length the factor is meant for.
    c.rope_scaling.original_context = c.seq_len;
    c.seq_len = std::min<std::int64_t>(
        max_llm_context,
        static_cast<std::int64_t>(std::floor(static_cast<double>(c.seq_len) * c.rope_scaling.factor)));
  }
  validate(c, file);
  return c;
}

LlmModel load_hf_llm(const std::filesystem::path& model) {
  const std::filesystem::path config_json = hf_config_path(model);
  if (config_json.empty()) {
    throw ModelError(cat(model.string(),
                         ": config.json not found beside the checkpoint (a Hugging Face model "
                         "needs config.json + model.safetensors)"));
  }
  LlmModel m;
  m.config = read_hf_config(config_json);
  if (m.config.config_only) {
    throw ModelError(cat(config_json.string(), ": ", m.config.architecture,
                         " has no released code or weights; its config is for `spikesim account` only"));
  }
  const std::filesystem::path dir = config_json.parent_path();

  // Which safetensors files: the one given, the sharded index, or model.safetensors.
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (model.extension() == ".safetensors") {
    files.push_back(model);
  } else if (std::filesystem::exists(dir / "model.safetensors.index.json", ec)) {
    const auto index_file = dir / "model.safetensors.index.json";
    const json index = parse_json_file<ModelError>(index_file);
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : Config(index, index_file.string()).at("weight_map").items())
      shards.insert(shard.string());
    // A shard name comes from the file: it must name a file inside the checkpoint's directory.
    for (const auto& s : shards)
      files.push_back(resolve_inside<ModelError>(dir, s, cat(index_file.string(), ": weight_map shard")));
  } else {
    files.push_back(dir / "model.safetensors");
  }

  m.network.source = files.size() == 1 ? files[0].string() : dir.string();
  std::map<std::string, std::string> unsupported;  // tensor -> "file: dtype"
  for (const auto& f : files) {
    SafetensorsFile st = read_safetensors(f);
    for (auto& [name, t] : st.tensors) {
      if (!m.network.tensors.emplace(name, t).second) {
        throw ModelError(cat(st.file, ": tensor '", name, "' appears in more than one shard"));
      }
    }
    for (const auto& [name, dtype] : st.unsupported)
      unsupported[name] = cat(st.file, ": tensor '", name, "' has dtype ", dtype);
    m.network.storage.insert(m.network.storage.end(), st.storage.begin(), st.storage.end());
  }
  std::vector<std::string> names;
  for (const auto& [name, t] : m.network.tensors)
    names.push_back(name);
  for (const auto& [name, what] : unsupported)
    names.push_back(name);
  check_layer_count(m.config, names, m.network.source);
  if (m.config.names == TensorNames::gla_swa)
    set_gla_gate_layout(m.config, m.network.tensors, m.network.source);
  for (const TensorSpec& spec : required_tensors(m.config)) {
    const auto it = unsupported.find(spec.name);
    if (it != unsupported.end()) throw ModelError(cat(it->second, "; spikesim reads F32, F16 and BF16"));
  }
  build_llm_graph(m);
  return m;
}

std::vector<std::int64_t> rope_half_permutation(std::int64_t heads, std::int64_t head_dim) {
  std::vector<std::int64_t> old_of_new(static_cast<std::size_t>(heads * head_dim));
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t t = 0; t < 2; ++t) {
      for (std::int64_t i = 0; i < half; ++i)
        old_of_new[static_cast<std::size_t>(h * head_dim + t * half + i)] = h * head_dim + 2 * i + t;
    }
  }
  return old_of_new;
}

std::string hf_config_json(const LlmConfig& c, const std::string& dtype) {
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";
  if (c.rope_scaling.type != RopeType::plain || c.qk_norm || !c.window.empty() || c.moe.experts > 0 ||
      !c.layer_kinds.empty()) {
    throw ModelError(
        cat("convert: ", c.architecture,
            " with RoPE scaling, q/k norms, sliding windows, experts or GLA layers is already a Hugging Face "
            "checkpoint; convert writes plain Llama / Qwen2 configs only"));
  }
  nlohmann::ordered_json j;
  j["architectures"] = {qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = qwen2 ? "qwen2" : "llama";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.seq_len;
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tied_classifier;
  if (!qwen2) {
    j["attention_bias"] = c.qkv_bias;
    j["mlp_bias"] = c.mlp_bias;
    if (c.qkv_bias != c.o_bias) {
      throw ModelError(
          "convert: a Llama checkpoint with q/k/v biases but no o bias cannot be written as "
          "LlamaForCausalLM (attention_bias covers all four)");
    }
  }
  j["hidden_act"] = "silu";
  j["bos_token_id"] = c.bos_id;
  j["eos_token_id"] = c.eos_id;
  j["torch_dtype"] = dtype == "F32" ? "float32" : dtype == "F16" ? "float16" : "bfloat16";
  return j.dump(2) + "\n";
}

std::vector<TensorBytes> hf_tensors(const LlmModel& model, const std::string& dtype) {
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16") {
    throw ModelError(cat("convert: dtype '", dtype, "' not supported (F32, F16, BF16)"));
  }
  const LlmConfig& c = model.config;
  const bool permute = c.rope == RopeStyle::interleaved;
  const auto q_perm = rope_half_permutation(c.n_heads, c.head_dim);
  const auto k_perm = rope_half_permutation(c.n_kv_heads, c.head_dim);
  std::vector<TensorBytes> out;
  for (const TensorSpec& spec : required_tensors(c)) {
    std::vector<float> v = model.network.tensor(spec.name).to_f32();
    const bool is_q = spec.name.find(".q_proj.") != std::string::npos;
    const bool is_k = spec.name.find(".k_proj.") != std::string::npos;
    if (permute && (is_q || is_k)) {
      const auto& perm = is_q ? q_perm : k_perm;
      const std::size_t row = spec.shape.size() == 2 ? static_cast<std::size_t>(spec.shape[1]) : 1;
      std::vector<float> p(v.size());
      for (std::size_t r = 0; r < perm.size(); ++r)
        std::memcpy(p.data() + r * row, v.data() + static_cast<std::size_t>(perm[r]) * row,
                    row * sizeof(float));
      v = std::move(p);
    }
    TensorBytes t{spec.name, dtype, spec.shape, {}};
    if (dtype == "F32") {
      t.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));  // NOLINT
    } else {
      t.bytes.resize(v.size() * 2);
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::uint16_t h = dtype == "F16" ? float_to_half(v[i]) : float_to_bf16(v[i]);
        std::memcpy(t.bytes.data() + 2 * i, &h, 2);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace spikesim::models
