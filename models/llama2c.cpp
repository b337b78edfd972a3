#include "models/llama2c.hpp"

#include <array>
#include <cstring>
#include <fstream>
#include <initializer_list>

#include "base/checked.hpp"
#include "base/text.hpp"
#include "models/mapped_file.hpp"

namespace spikesim::models {

namespace {

constexpr std::uint32_t magic_v1 = 0x616b3432;  // "ak42": llama2.c export versions >= 1
constexpr std::size_t header_bytes = 7 * sizeof(std::int32_t);

}  // namespace

bool looks_like_llama2c(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::array<std::int32_t, 7> h{};
  if (!in.read(reinterpret_cast<char*>(h.data()), sizeof(h))) return false;  // NOLINT
  std::uint32_t magic = 0;
  std::memcpy(&magic, h.data(), sizeof(magic));
  if (magic == magic_v1) return true;
  return h[0] > 0 && h[1] > 0 && h[2] > 0 && h[3] > 0 && h[4] > 0 && h[5] != 0 && h[6] > 0;
}

LlmModel load_llama2c(const std::filesystem::path& path) {
  auto map = map_file(path);
  const std::string& file = map->path();
  const std::span<const std::byte> bytes = map->bytes();
  if (bytes.size() < header_bytes) {
    throw ModelError(cat(file, ": truncated llama2.c checkpoint: ", bytes.size(),
                         " bytes, expected at least ", header_bytes, " for the 7 int32 header fields"));
  }
  std::array<std::int32_t, 7> h{};
  std::memcpy(h.data(), bytes.data(), header_bytes);
  std::uint32_t magic = 0;
  std::memcpy(&magic, bytes.data(), sizeof(magic));
  if (magic == magic_v1) {
    throw ModelError(cat(file, ": llama2.c export version ", h[1],
                         " (magic \"ak42\") is not supported; export with llama2.c's export.py --version 0 "
                         "(legacy), or convert to safetensors + config.json"));
  }

  LlmModel m;
  LlmConfig& c = m.config;
  c.architecture = "llama2.c";
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.tied_classifier = h[5] > 0;
  c.vocab_size = h[5] < 0 ? -static_cast<std::int64_t>(h[5]) : h[5];
  c.seq_len = h[6];
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  c.rope = RopeStyle::interleaved;
  c.rope_theta = 10000.0;
  c.norm_eps = 1e-5;
  const std::string header =
      cat("header {dim ", h[0], ", hidden_dim ", h[1], ", n_layers ", h[2], ", n_heads ", h[3],
          ", n_kv_heads ", h[4], ", vocab_size ", h[5], ", seq_len ", h[6], "}");
  try {
    validate(c, file);
  } catch (const ModelError& e) {
    throw ModelError(cat(e.what(), " (", header, "; not a llama2.c checkpoint?)"));
  }
  if (c.dim % c.n_heads != 0) {
    throw ModelError(
        cat(file, ": dim ", c.dim, " is not a multiple of n_heads ", c.n_heads, " (", header, ")"));
  }

  // Sizes in floats of each block, in file order. Every product is checked: a header can declare sizes whose
  // product wraps 64 bits, and a wrapped sum could match the file size.
  const auto floats_of = [&](std::initializer_list<std::int64_t> factors, const char* what) {
    std::uint64_t v = 1;
    for (const std::int64_t f : factors)
      v = checked_mul<ModelError>(v, static_cast<std::uint64_t>(f),
                                  cat(file, ": ", header, ": block ", what));
    return v;
  };
  const std::int64_t layers = c.n_layers;
  const std::int64_t kv = c.kv_dim();
  struct Block {
    const char* what;
    std::uint64_t floats;
  };
  const std::array<Block, 13> blocks{
      {{"token_embedding", floats_of({c.vocab_size, c.dim}, "token_embedding")},
       {"rms_att", floats_of({layers, c.dim}, "rms_att")},
       {"wq", floats_of({layers, c.dim, c.q_dim()}, "wq")},
       {"wk", floats_of({layers, c.dim, kv}, "wk")},
       {"wv", floats_of({layers, c.dim, kv}, "wv")},
       {"wo", floats_of({layers, c.q_dim(), c.dim}, "wo")},
       {"rms_ffn", floats_of({layers, c.dim}, "rms_ffn")},
       {"w1", floats_of({layers, c.hidden_dim, c.dim}, "w1")},
       {"w2", floats_of({layers, c.dim, c.hidden_dim}, "w2")},
       {"w3", floats_of({layers, c.hidden_dim, c.dim}, "w3")},
       {"rms_final", floats_of({c.dim}, "rms_final")},
       {"freq_cis", floats_of({c.seq_len, c.head_dim}, "freq_cis")},
       {"wcls", c.tied_classifier ? 0 : floats_of({c.vocab_size, c.dim}, "wcls")}}};
  std::uint64_t expected_floats = 0;
  for (const Block& b : blocks)
    expected_floats =
        checked_add<ModelError>(expected_floats, b.floats, cat(file, ": ", header, ": sum of blocks"));
  const std::uint64_t expected = checked_add<ModelError>(
      std::uint64_t{header_bytes},
      checked_mul<ModelError>(std::uint64_t{4}, expected_floats, cat(file, ": ", header)),
      cat(file, ": ", header));
  if (bytes.size() != expected) {
    throw ModelError(
        cat(file, ": ",
            bytes.size() < expected ? "truncated llama2.c checkpoint" : "file size does not match the header",
            ": expected ", expected, " bytes for ", header, ", found ", bytes.size(),
            bytes.size() < expected ? "" : " (trailing bytes: wrong header or not a version-0 export?)"));
  }

  m.network.source = file;
  m.network.storage.push_back(map);
  const auto* base = reinterpret_cast<const float*>(bytes.data() + header_bytes);  // NOLINT
  std::int64_t offset = 0;                                                         // floats
  auto view = [&](const std::string& name, std::vector<std::int64_t> shape) {
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.dtype = DType::f32;
    const std::int64_t n = t.numel();
    t.bytes = std::as_bytes(std::span<const float>(base + offset, static_cast<std::size_t>(n)));
    offset += n;
    m.network.tensors.insert_or_assign(name, std::move(t));
  };
  auto per_layer = [&](const std::string& role, const std::vector<std::int64_t>& shape) {
    for (std::int64_t l = 0; l < layers; ++l)
      view(layer_tensor_name(l, role), shape);
  };
  view(embed_tensor_name, {c.vocab_size, c.dim});
  per_layer("input_layernorm", {c.dim});
  per_layer("q_proj", {c.q_dim(), c.dim});
  per_layer("k_proj", {kv, c.dim});
  per_layer("v_proj", {kv, c.dim});
  per_layer("o_proj", {c.dim, c.q_dim()});
  per_layer("post_attention_layernorm", {c.dim});
  per_layer("gate_proj", {c.hidden_dim, c.dim});  // w1
  per_layer("down_proj", {c.dim, c.hidden_dim});  // w2
  per_layer("up_proj", {c.hidden_dim, c.dim});    // w3
  view(final_norm_tensor_name, {c.dim});
  offset += c.seq_len * c.head_dim;  // freq_cis_real, freq_cis_imag: recomputed in double
  if (!c.tied_classifier) view(lm_head_tensor_name, {c.vocab_size, c.dim});
  build_llm_graph(m);
  return m;
}

}  // namespace spikesim::models
