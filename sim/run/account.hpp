#pragma once
// 7B-scale accounting: spikes, SOPs, MACs and energy counters of a whole Llama/Qwen2-shaped decoder from its
// config.json alone (e.g. SpikingBrain-7B / Qwen2.5-7B: 28 layers, hidden 3584, intermediate 18944, GQA
// 28/4 heads, vocab 152064). Weights are never materialised: fan-outs come from the shapes, and every
// synapse is taken as non-zero (effective SOPs = SOPs). Activations are synthetic (sim/synthetic.hpp,
// seeded) or read from an HDF5 trace, streamed in chunks of tokens, so memory does not grow with tokens.
//
// Per layer l (execution order), the records written through sim::write_report:
//   layers.l.q_proj, k_proj, v_proj   coded by default; one shared input (the attention input)
//   layers.l.attention                dense: scores Q K^T and the weighted sum of V over the causal context
//   layers.l.o_proj                   coded by default (input: the attention output)
//   layers.l.gate_proj, up_proj       coded by default; one shared input (the MLP input)
//   layers.l.down_proj                dense by default, as in SpikingBrain's released code (input: SwiGLU
//   out)
// then lm_head (dense). Embedding lookups, norms, RoPE, SiLU and softmax are element-wise (< 0.1 % of the
// MACs of a 7B layer) and not counted.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/report/report.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// The shape of a decoder-only LLM, from a Hugging Face config.json.
struct DecoderShape {
  std::string source;        // the config file
  std::string architecture;  // architectures[0], else model_type
  std::int64_t hidden = 0;   // hidden_size: residual stream width
  std::int64_t intermediate = 0;
  std::int64_t layers = 0;
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t vocab = 0;
  std::int64_t max_positions = 0;  // max_position_embeddings (0 when absent)
  bool qkv_bias = false;           // q/k/v carry a bias (Qwen2; Llama with attention_bias)
  bool o_bias = false;             // o_proj carries a bias (Llama with attention_bias)
  bool mlp_bias = false;           // gate/up/down carry biases (Llama with mlp_bias)

  [[nodiscard]] std::int64_t q_dim() const { return heads * head_dim; }
  [[nodiscard]] std::int64_t kv_dim() const { return kv_heads * head_dim; }
};

// Reads hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads
// (default: heads), head_dim (default: hidden / heads), vocab_size, attention_bias / mlp_bias (Qwen2:
// q/k/v bias). ModelError names the file and the missing or bad field.
DecoderShape load_decoder_shape(const std::filesystem::path& config_json);

enum class Projection { q, k, v, o, gate, up, down };
std::string_view name(Projection p);                       // "q_proj", ...
Projection parse_projection(std::string_view text);        // "q" or "q_proj"; ModelError listing valid names
std::vector<Projection> spikingbrain_coded_projections();  // q k v o gate up

// The four activation tensors of a layer that feed projections.
enum class LayerInput { attention, attention_output, mlp, mlp_hidden };  // -> q/k/v, o, gate/up, down
// Stream id of a layer input in the synthetic generator (seed, stream): layer * 4 + input.
std::uint64_t synthetic_stream(std::int64_t layer, LayerInput input);

struct AccountRequest {
  DecoderShape shape;
  std::int64_t tokens = 4096;             // tokens to account; 0: every token the trace holds
  std::int64_t chunk_tokens = 256;        // tokens coded at once (T is set per chunk; the dense run reads its
                                          // weights once per chunk)
  std::int64_t sequence_tokens = 0;       // causal context per sequence; 0: the tokens form one sequence
  std::string activations = "synthetic";  // "synthetic" or an HDF5 trace (models/trace.hpp layout)
  std::uint64_t seed = 1;                 // synthetic: generator seed
  double sigma = outlier_sigma_default;   // synthetic: log-std of the channel scales
  std::vector<Projection> coded = spikingbrain_coded_projections();
  SiteConfig site;
};

struct AccountResult {
  ReportInput report;            // run, layers (no profiles: the caller adds them)
  std::int64_t tokens = 0;       // tokens accounted
  std::size_t buffer_bytes = 0;  // bytes of every buffer the stream held (bounded by the chunk, not tokens)
};

AccountResult account(const AccountRequest& request);

}  // namespace spikesim::sim
