#include "models/hf_llm.hpp"

#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "base/files.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

namespace {

using nlohmann::json;
using Config = JsonAt<ModelError>;

// bos_token_id / eos_token_id: an id, a list of ids (the first counts), or absent.
std::int32_t token_id(const Config& j, const std::string& key, std::int32_t fallback) {
  if (!j.has(key)) return fallback;
  const Config v = j.at(key);
  if (v.is_array()) {
    if (v.size() == 0) return fallback;
    return static_cast<std::int32_t>(v.at(0).integer(0, max_llm_vocab - 1));
  }
  return static_cast<std::int32_t>(v.integer(0, max_llm_vocab - 1));
}

}  // namespace

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

LlmConfig read_hf_config(const std::filesystem::path& config_json, std::int64_t default_context) {
  const std::string file = config_json.string();
  const json doc = parse_json_file<ModelError>(config_json);
  if (!doc.is_object()) throw ModelError(cat(file, ": not a JSON object"));
  const Config j(doc, file);
  LlmConfig c;
  std::string arch;
  if (j.has("architectures") && j.at("architectures").is_array() && j.at("architectures").size() > 0) {
    arch = j.at("architectures").at(0).string();
  } else {
    const auto type = j.string_or("model_type", "");
    arch = type == "llama" ? "LlamaForCausalLM" : type == "qwen2" ? "Qwen2ForCausalLM" : type;
  }
  if (arch != "LlamaForCausalLM" && arch != "Qwen2ForCausalLM") {
    throw ModelError(cat(file, ": architecture '", arch,
                         "' not supported (spikesim reads LlamaForCausalLM and Qwen2ForCausalLM)"));
  }
  const bool qwen2 = arch == "Qwen2ForCausalLM";
  c.architecture = arch;
  // Sizes: whole numbers within the limits of validate(), so nothing is sized from an absurd value.
  c.dim = j.at("hidden_size").integer(1, max_llm_width);
  c.hidden_dim = j.at("intermediate_size").integer(1, max_llm_width);
  c.n_layers = j.at("num_hidden_layers").integer(1, max_llm_layers);
  c.n_heads = j.at("num_attention_heads").integer(1, max_llm_heads);
  c.n_kv_heads = j.integer_or("num_key_value_heads", c.n_heads, 1, max_llm_heads);
  c.vocab_size = j.at("vocab_size").integer(1, max_llm_vocab);
  c.seq_len = default_context > 0 ? j.integer_or("max_position_embeddings", default_context, 1, max_llm_context)
                                  : j.at("max_position_embeddings").integer(1, max_llm_context);
  c.head_dim = j.integer_or("head_dim", c.dim / c.n_heads, 1, max_llm_width);
  if (!j.has("head_dim") && c.dim % c.n_heads != 0) {
    throw ModelError(
        cat(file, ": hidden_size ", c.dim, " is not a multiple of num_attention_heads ", c.n_heads));
  }
  c.norm_eps = j.number_or("rms_norm_eps", 1e-6, 0.0, 1.0);
  c.rope_theta = j.number_or("rope_theta", 10000.0, std::numeric_limits<double>::min());
  c.tied_classifier = j.boolean_or("tie_word_embeddings", false);
  const bool attention_bias = j.boolean_or("attention_bias", false);
  c.qkv_bias = qwen2 || attention_bias;
  c.o_bias = !qwen2 && attention_bias;
  c.mlp_bias = j.boolean_or("mlp_bias", false);
  c.rope = RopeStyle::half;
  c.bos_id = token_id(j, "bos_token_id", 1);
  c.eos_id = token_id(j, "eos_token_id", 2);
  const auto act = j.string_or("hidden_act", "silu");
  if (act != "silu") throw ModelError(cat(file, ": hidden_act '", act, "' not supported (expected silu)"));
  if (j.has("rope_scaling")) {
    throw ModelError(
        cat(file, ": rope_scaling ", j.at("rope_scaling").found(), " not supported (plain RoPE only)"));
  }
  if (j.boolean_or("use_sliding_window", false)) {
    throw ModelError(cat(file, ": use_sliding_window = true not supported (full causal attention only)"));
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
