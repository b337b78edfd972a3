#pragma once
// Tiny Llama/Qwen2 checkpoints written by the tests themselves, an independent float64 reference forward
// pass (written from the llama2.c / Hugging Face definitions, sharing no code with sim/), and a byte-level
// tokenizer. Header-only: included by the LLM tests.

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "models/llm.hpp"
#include "models/tokenizer.hpp"

namespace spikesim::test {

struct TinyLlm {
  models::LlmConfig config;
  std::map<std::string, std::vector<float>> w;  // Hugging Face names, row-major [out][in]
};

inline models::LlmConfig tiny_config(const std::string& architecture = "LlamaForCausalLM") {
  models::LlmConfig c;
  c.architecture = architecture;
  c.dim = 16;
  c.hidden_dim = 40;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 300;
  c.seq_len = 48;
  c.norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tied_classifier = true;
  c.qkv_bias = architecture == "Qwen2ForCausalLM";
  c.rope = architecture == "llama2.c" ? models::RopeStyle::interleaved : models::RopeStyle::half;
  return c;
}

inline TinyLlm tiny_llm(const models::LlmConfig& c, std::uint32_t seed) {
  TinyLlm m;
  m.config = c;
  std::mt19937 rng(seed);
  for (const auto& spec : models::required_tensors(c)) {
    std::int64_t n = 1;
    for (const auto d : spec.shape)
      n *= d;
    const bool norm = spec.name.find("norm") != std::string::npos;
    const bool bias = spec.name.find(".bias") != std::string::npos;
    const bool embed = spec.name == models::embed_tensor_name || spec.name == models::lm_head_tensor_name;
    const double stddev = norm    ? 0.1
                          : bias  ? 0.2
                          : embed ? 1.0
                                  : 1.0 / std::sqrt(static_cast<double>(spec.shape[1]));
    std::normal_distribution<double> dist(0.0, stddev);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v)
      x = static_cast<float>(norm ? 1.0 + dist(rng) : dist(rng));
    m.w[spec.name] = std::move(v);
  }
  return m;
}

// llama2.c version-0 file of `m` (its weights as stored; the config's rope should be interleaved).
inline void write_llama2c(const std::filesystem::path& file, const TinyLlm& m) {
  const auto& c = m.config;
  std::ofstream out(file, std::ios::binary);
  auto ints = [&](std::int32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto put = [&](const std::vector<float>& v) {
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  };
  for (const auto v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                       c.tied_classifier ? c.vocab_size : -c.vocab_size, c.seq_len})
    ints(static_cast<std::int32_t>(v));
  put(m.w.at(models::embed_tensor_name));
  for (const char* role : {"input_layernorm", "q_proj", "k_proj", "v_proj", "o_proj",
                           "post_attention_layernorm", "gate_proj", "down_proj", "up_proj"}) {
    for (std::int64_t l = 0; l < c.n_layers; ++l)
      put(m.w.at(models::layer_tensor_name(l, role)));
  }
  put(m.w.at(models::final_norm_tensor_name));
  put(std::vector<float>(static_cast<std::size_t>(c.seq_len * c.head_dim), 0.5F));  // freq_cis (unused)
  if (!c.tied_classifier) put(m.w.at(models::lm_head_tensor_name));
}

inline std::uint16_t bf16_of(float v) {  // round to nearest even (finite values)
  const auto bits = std::bit_cast<std::uint32_t>(v);
  return static_cast<std::uint16_t>((bits + 0x7FFFU + ((bits >> 16U) & 1U)) >> 16U);
}

inline nlohmann::json hf_config(const models::LlmConfig& c) {
  nlohmann::json j = {{"architectures", {c.architecture}},
                      {"hidden_size", c.dim},
                      {"intermediate_size", c.hidden_dim},
                      {"num_hidden_layers", c.n_layers},
                      {"num_attention_heads", c.n_heads},
                      {"num_key_value_heads", c.n_kv_heads},
                      {"vocab_size", c.vocab_size},
                      {"max_position_embeddings", c.seq_len},
                      {"rms_norm_eps", c.norm_eps},
                      {"rope_theta", c.rope_theta},
                      {"tie_word_embeddings", c.tied_classifier},
                      {"hidden_act", "silu"},
                      {"bos_token_id", 1},
                      {"eos_token_id", 2}};
  return j;
}

// config.json + model.safetensors (F32 or BF16), written independently of models/safetensors.
// `mutate_header` can corrupt the header JSON before it is written.
inline void write_hf(const std::filesystem::path& dir, const TinyLlm& m, const std::string& dtype = "F32",
                     const std::function<void(nlohmann::json&)>& mutate_header = {},
                     const std::function<void(nlohmann::json&)>& mutate_config = {}) {
  std::filesystem::create_directories(dir);
  nlohmann::json cfg = hf_config(m.config);
  if (mutate_config) mutate_config(cfg);
  std::ofstream(dir / "config.json") << cfg.dump(2);
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, v] : m.w) {
    const std::size_t begin = data.size();
    if (dtype == "F32") {
      data.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    } else {
      for (const float x : v) {
        const std::uint16_t h = bf16_of(x);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    std::vector<std::int64_t> shape;
    for (const auto& spec : models::required_tensors(m.config)) {
      if (spec.name == name) shape = spec.shape;
    }
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  if (mutate_header) mutate_header(header);
  std::string json = header.dump();
  while (json.size() % 8 != 0)
    json += ' ';
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  const std::uint64_t n = json.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << json << data;
}

// float64 forward pass over `tokens` from position 0: logits [n][vocab].
inline std::vector<double> reference_logits(const TinyLlm& m, const std::vector<std::int32_t>& tokens) {
  const auto& c = m.config;
  const auto dim = static_cast<std::size_t>(c.dim);
  const auto hd = static_cast<std::size_t>(c.head_dim);
  const auto hidden = static_cast<std::size_t>(c.hidden_dim);
  const auto vocab = static_cast<std::size_t>(c.vocab_size);
  const auto nh = static_cast<std::size_t>(c.n_heads);
  const auto nkv = static_cast<std::size_t>(c.n_kv_heads);
  auto W = [&](const std::string& n) -> const std::vector<float>& { return m.w.at(n); };
  auto matvec = [](const std::vector<float>& w, const std::vector<double>& x, std::size_t out) {
    std::vector<double> y(out, 0.0);
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t i = 0; i < x.size(); ++i)
        y[o] += static_cast<double>(w[o * x.size() + i]) * x[i];
    return y;
  };
  auto add_bias = [&](std::vector<double>& y, const std::string& n) {
    if (!m.w.contains(n)) return;
    for (std::size_t i = 0; i < y.size(); ++i)
      y[i] += W(n)[i];
  };
  auto rmsnorm = [&](const std::vector<double>& x, const std::vector<float>& w) {
    double ss = 0;
    for (const double v : x)
      ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c.norm_eps);
    std::vector<double> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
      y[i] = x[i] * inv * w[i];
    return y;
  };
  auto rope = [&](std::vector<double>& v, std::size_t heads, std::size_t pos) {
    for (std::size_t h = 0; h < heads; ++h) {
      for (std::size_t i = 0; i < hd / 2; ++i) {
        const double freq =
            1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(hd));
        const double a = static_cast<double>(pos) * freq;
        const bool il = c.rope == models::RopeStyle::interleaved;
        const std::size_t p0 = h * hd + (il ? 2 * i : i);
        const std::size_t p1 = h * hd + (il ? 2 * i + 1 : i + hd / 2);
        const double x0 = v[p0];
        const double x1 = v[p1];
        v[p0] = x0 * std::cos(a) - x1 * std::sin(a);
        v[p1] = x0 * std::sin(a) + x1 * std::cos(a);
      }
    }
  };
  std::vector<std::vector<std::vector<double>>> kcache(static_cast<std::size_t>(c.n_layers));
  std::vector<std::vector<std::vector<double>>> vcache(static_cast<std::size_t>(c.n_layers));
  std::vector<double> logits;
  for (std::size_t pos = 0; pos < tokens.size(); ++pos) {
    std::vector<double> x(dim);
    for (std::size_t i = 0; i < dim; ++i)
      x[i] = W(models::embed_tensor_name)[static_cast<std::size_t>(tokens[pos]) * dim + i];
    for (std::int64_t l = 0; l < c.n_layers; ++l) {
      const auto L = static_cast<std::size_t>(l);
      auto name = [&](const char* role, const char* kind = "weight") {
        return models::layer_tensor_name(l, role, kind);
      };
      auto xn = rmsnorm(x, W(name("input_layernorm")));
      auto q = matvec(W(name("q_proj")), xn, nh * hd);
      auto k = matvec(W(name("k_proj")), xn, nkv * hd);
      auto v = matvec(W(name("v_proj")), xn, nkv * hd);
      add_bias(q, name("q_proj", "bias"));
      add_bias(k, name("k_proj", "bias"));
      add_bias(v, name("v_proj", "bias"));
      rope(q, nh, pos);
      rope(k, nkv, pos);
      kcache[L].push_back(k);
      vcache[L].push_back(v);
      std::vector<double> att(nh * hd, 0.0);
      for (std::size_t h = 0; h < nh; ++h) {
        const std::size_t kvh = h / (nh / nkv);
        std::vector<double> s(pos + 1);
        double mx = -1e300;
        for (std::size_t t = 0; t <= pos; ++t) {
          double d = 0;
          for (std::size_t e = 0; e < hd; ++e)
            d += q[h * hd + e] * kcache[L][t][kvh * hd + e];
          s[t] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[t]);
        }
        double sum = 0;
        for (auto& e : s) {
          e = std::exp(e - mx);
          sum += e;
        }
        for (std::size_t t = 0; t <= pos; ++t)
          for (std::size_t e = 0; e < hd; ++e)
            att[h * hd + e] += s[t] / sum * vcache[L][t][kvh * hd + e];
      }
      auto o = matvec(W(name("o_proj")), att, dim);
      add_bias(o, name("o_proj", "bias"));
      for (std::size_t i = 0; i < dim; ++i)
        x[i] += o[i];
      xn = rmsnorm(x, W(name("post_attention_layernorm")));
      auto g = matvec(W(name("gate_proj")), xn, hidden);
      auto u = matvec(W(name("up_proj")), xn, hidden);
      for (std::size_t i = 0; i < hidden; ++i)
        g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      auto d = matvec(W(name("down_proj")), g, dim);
      for (std::size_t i = 0; i < dim; ++i)
        x[i] += d[i];
    }
    const auto xn = rmsnorm(x, W(models::final_norm_tensor_name));
    const auto y =
        matvec(W(c.tied_classifier ? models::embed_tensor_name : models::lm_head_tensor_name), xn, vocab);
    logits.insert(logits.end(), y.begin(), y.end());
  }
  return logits;
}

// A tokenizer of `vocab` pieces: <unk>, <s>, </s>, the 256 byte pieces, then " ", letters, and merges
// "th", "the", " the", "he" with scores that make " the" win.
inline std::string byte_tokenizer(std::int64_t vocab) {
  std::vector<std::string> pieces{"<unk>", "\n<s>\n", "\n</s>\n"};
  std::vector<float> scores{0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    pieces.emplace_back(buf);
    scores.push_back(0);
  }
  const std::vector<std::pair<std::string, float>> extra{
      {" ", -100},  {"t", -101}, {"h", -102}, {"e", -103},   {"a", -104},
      {"n", -105},  {"d", -106}, {"th", -1},  {"he", -2},    {"the", -3},
      {" the", -4}, {" a", -5},  {"nd", -6},  {" and", -20}, {"an", -7}};
  for (const auto& [p, s] : extra) {
    pieces.push_back(p);
    scores.push_back(s);
  }
  while (static_cast<std::int64_t>(pieces.size()) < vocab) {
    pieces.push_back("<pad" + std::to_string(pieces.size()) + ">");
    scores.push_back(-1000);
  }
  return models::tokenizer_bytes(pieces, scores);
}

inline void write_file(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace spikesim::test
