#include "models/hf_llm.hpp"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

namespace {

using nlohmann::json;

json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ModelError(cat(path.string(), ": file not found"));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw ModelError(cat(path.string(), ": not valid JSON (", e.what(), ")"));
  }
}

// Reads an optional key; ModelError naming the file and key when its type is wrong.
template <class T>
T get_or(const json& j, const std::string& key, T fallback, const std::string& file) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw ModelError(cat(file, ": key '", key, "' has the wrong type (found ", it->dump(), ")"));
  }
}

template <class T>
T get_required(const json& j, const std::string& key, const std::string& file) {
  if (!j.contains(key) || j.at(key).is_null()) throw ModelError(cat(file, ": key '", key, "' missing"));
  return get_or<T>(j, key, T{}, file);
}

std::int32_t token_id(const json& j, const std::string& key, std::int32_t fallback, const std::string& file) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_array()) return it->empty() ? fallback : (*it)[0].get<std::int32_t>();
  return get_or<std::int32_t>(j, key, fallback, file);
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
  const json j = read_json_file(config_json);
  if (!j.is_object()) throw ModelError(cat(file, ": not a JSON object"));
  LlmConfig c;
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty()) {
    arch = j["architectures"][0].get<std::string>();
  } else {
    const auto type = get_or<std::string>(j, "model_type", "", file);
    arch = type == "llama" ? "LlamaForCausalLM" : type == "qwen2" ? "Qwen2ForCausalLM" : type;
  }
  if (arch != "LlamaForCausalLM" && arch != "Qwen2ForCausalLM") {
    throw ModelError(cat(file, ": architecture '", arch,
                         "' not supported (spikesim reads LlamaForCausalLM and Qwen2ForCausalLM)"));
  }
  const bool qwen2 = arch == "Qwen2ForCausalLM";
  c.architecture = arch;
  c.dim = get_required<std::int64_t>(j, "hidden_size", file);
  c.hidden_dim = get_required<std::int64_t>(j, "intermediate_size", file);
  c.n_layers = get_required<std::int64_t>(j, "num_hidden_layers", file);
  c.n_heads = get_required<std::int64_t>(j, "num_attention_heads", file);
  c.n_kv_heads = get_or<std::int64_t>(j, "num_key_value_heads", c.n_heads, file);
  c.vocab_size = get_required<std::int64_t>(j, "vocab_size", file);
  c.seq_len = default_context > 0 ? get_or<std::int64_t>(j, "max_position_embeddings", default_context, file)
                                  : get_required<std::int64_t>(j, "max_position_embeddings", file);
  c.head_dim = get_or<std::int64_t>(j, "head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0, file);
  if (!j.contains("head_dim") && c.n_heads > 0 && c.dim % c.n_heads != 0) {
    throw ModelError(
        cat(file, ": hidden_size ", c.dim, " is not a multiple of num_attention_heads ", c.n_heads));
  }
  c.norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, file);
  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0, file);
  c.tied_classifier = get_or<bool>(j, "tie_word_embeddings", false, file);
  const bool attention_bias = get_or<bool>(j, "attention_bias", false, file);
  c.qkv_bias = qwen2 || attention_bias;
  c.o_bias = !qwen2 && attention_bias;
  c.mlp_bias = get_or<bool>(j, "mlp_bias", false, file);
  c.rope = RopeStyle::half;
  c.bos_id = token_id(j, "bos_token_id", 1, file);
  c.eos_id = token_id(j, "eos_token_id", 2, file);
  const auto act = get_or<std::string>(j, "hidden_act", "silu", file);
  if (act != "silu") throw ModelError(cat(file, ": hidden_act '", act, "' not supported (expected silu)"));
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    throw ModelError(
        cat(file, ": rope_scaling ", j["rope_scaling"].dump(), " not supported (plain RoPE only)"));
  }
  if (get_or<bool>(j, "use_sliding_window", false, file)) {
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
    const json index = read_json_file(index_file);
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw ModelError(cat(index_file.string(), ": key 'weight_map' missing"));
    }
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : index["weight_map"].items())
      shards.insert(shard.get<std::string>());
    for (const auto& s : shards)
      files.push_back(dir / s);
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
