#pragma once
// Llama-family decoder-only LLMs (llama2.c, LlamaForCausalLM, Qwen2ForCausalLM) as one network description.
//
// Every loader maps its checkpoint onto the Hugging Face tensor names below (views into the mapped file,
// never copies) and calls build_llm_graph(), which checks every shape against the config and adds the ops:
//
//   tokens -> embed -> per layer l:
//     layers.l.attn_norm (rmsnorm) -> layers.l.{q,k,v}_proj (linear, site "layers.l.attn_in": one input)
//     -> layers.l.rope (rope of q and k) -> layers.l.attention (causal GQA, KV cache) -> layers.l.o_proj
//     (site attn_out) -> layers.l.attn_residual (add) -> layers.l.mlp_norm (rmsnorm) ->
//     layers.l.{gate,up}_proj (site mlp_in) -> layers.l.swiglu (silu_mul) -> layers.l.down_proj (site
//     mlp_out) -> layers.l.mlp_residual
//   -> final_norm (rmsnorm) -> lm_head (linear; the embedding table when the classifier is tied) -> logits
//
// Every attribute the ops need (eps, RoPE theta and pairing, heads, context) is on the ops, so the one
// lowering of sim/plan/ turns this graph into a plan like any other network.

#include <cstdint>
#include <string>
#include <vector>

#include "models/network.hpp"

namespace spikesim::models {

// How RoPE pairs the features of a head: llama2.c / Meta rotate adjacent pairs (2i, 2i+1); Hugging Face
// Llama/Qwen2 rotate (i, i + head_dim/2) ("rotate_half"). `spikesim convert` permutes wq/wk rows from the
// first to the second, as transformers' convert_llama_weights_to_hf does.
enum class RopeStyle { interleaved, half };
std::string_view name(RopeStyle style);

// RoPE frequency scaling as transformers' modeling_rope_utils defines it (rope_scaling / rope_parameters).
enum class RopeType { plain, linear, dynamic, llama3, yarn };
std::string_view name(RopeType type);
struct RopeScaling {
  RopeType type = RopeType::plain;
  double factor = 1.0;                // linear, dynamic, llama3, yarn
  std::int64_t original_context = 0;  // llama3 / yarn original_max_position_embeddings (0: absent);
                                      // dynamic: max_position_embeddings (seq_len is that x factor)
  double low_freq_factor = 1.0;       // llama3
  double high_freq_factor = 4.0;      // llama3
  double beta_fast = 32.0;            // yarn
  double beta_slow = 1.0;             // yarn
  double attention_factor = 0.0;      // yarn: multiplies cos and sin (0: 0.1 ln(factor) + 1)
  bool truncate = true;               // yarn: round the correction range to whole dimensions
};

// Inverse frequencies inv_freq[i], i < head_dim / 2, of a static RoPE (every type but dynamic, which gets
// plain θ here and its own per-call θ' from ops::dynamic_ntk_theta), and the factor multiplying cos and sin.
// `context` is max_position_embeddings (yarn's factor is context / original_context when the latter is set,
// as in transformers).
struct RopeFrequencies {
  std::vector<double> inv_freq;
  double attention_scaling = 1.0;
};
RopeFrequencies rope_frequencies(const RopeScaling& scaling, double theta, std::int64_t head_dim,
                                 std::int64_t context);

// Mixture-of-experts MLPs (Mixtral, Qwen2-MoE, Qwen3-MoE): a router (linear, no bias) picks top_k of
// `experts` SwiGLU experts per token; Qwen2-MoE adds a shared expert scaled by sigmoid(x . shared_gate).
enum class MoeNames {
  mixtral,
  qwen
};  // block_sparse_moe.experts.E.w1/w3/w2 | mlp.experts.E.gate/up/down_proj
struct MoeConfig {
  std::int64_t experts = 0;  // 0: every MLP is dense
  std::int64_t top_k = 0;
  std::int64_t expert_hidden = 0;  // intermediate size of each routed expert
  std::int64_t shared_hidden = 0;  // shared expert's intermediate size (0: none)
  bool shared_gated = true;    // the shared expert is scaled by sigmoid(x . shared_expert_gate) (Qwen2-MoE)
  bool norm_topk_prob = true;  // renormalise the top-k probabilities to sum 1
  MoeNames names = MoeNames::qwen;
  std::vector<bool> sparse;  // [n_layers] the layer's MLP is the MoE block (else a dense MLP of hidden_dim)
  [[nodiscard]] bool sparse_layer(std::int64_t l) const {
    return experts > 0 && sparse[static_cast<std::size_t>(l)];
  }
};

// What a decoder layer mixes tokens with: softmax attention (with its window, if any) or SpikingBrain's
// gated linear attention (GLA: models/gla_swa.hpp; ReLU q/k, gate logsigmoid(gk) / normaliser, one D x D
// state per key/value head, per-head g_norm).
// hybrid: SpikingBrain-76B's intra-layer parallel GLA and softmax attention (sliding window or full), each
// branch's output RMS-normalised, then summed (data/configs/README.md, spikingbrain-76b.json).
enum class LayerKind { attention, gla, hybrid };
std::string_view name(LayerKind kind);

// Tensor naming of the checkpoint: Hugging Face Llama-style (model.embed_tokens, self_attn.*,
// input_layernorm, ...) or SpikingBrain's GLAswaForCausalLM (model.embeddings, attn.*, attn_norm, mlp_norm).
enum class TensorNames { hf, gla_swa };

struct LlmConfig {
  std::string architecture;     // "llama2.c", "LlamaForCausalLM", "Qwen2ForCausalLM", ... (hf_llm.hpp)
  std::int64_t dim = 0;         // hidden size (residual stream width)
  std::int64_t hidden_dim = 0;  // MLP intermediate size
  std::int64_t n_layers = 0;
  std::int64_t n_heads = 0;     // query heads
  std::int64_t n_kv_heads = 0;  // key/value heads (grouped-query attention when < n_heads)
  std::int64_t head_dim = 0;    // features per head (dim / n_heads unless the config says otherwise)
  std::int64_t vocab_size = 0;
  std::int64_t seq_len = 0;  // longest context (max_position_embeddings)
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tied_classifier = true;  // lm_head shares the embedding table
  bool qkv_bias = false;        // q/k/v projections carry a bias (Qwen2; Llama with attention_bias)
  bool o_bias = false;          // o projection carries a bias (Llama with attention_bias)
  bool mlp_bias = false;        // gate/up/down carry biases (Llama with mlp_bias)
  RopeStyle rope = RopeStyle::half;
  RopeScaling rope_scaling;
  bool qk_norm = false;  // Qwen3: per-head RMSNorm of q and k (one weight of head_dim each) before RoPE
  // Sliding-window attention per layer: query i attends keys j with i - w < j <= i (w keys, itself
  // included), as transformers masks them; 0: full causal. Empty: every layer full.
  std::vector<std::int64_t> window;
  MoeConfig moe;
  // GLAswa (SpikingBrain-7B): per-layer kinds (empty: every layer attention), the GLA gate's low-rank width
  // (gk_proj.0 [r][dim], gk_proj.1 [kv][r]; 0: one merged gk_proj [kv][dim] as in W8ASpike; -1: not stated,
  // the release's 16 unless the tensors say otherwise) and logit
  // normaliser; the SWA layers' query after RoPE is its own coded site (layers.L.attn_query) and their K / V
  // are INT8 fake-quantised per token and head in the spiking run, as the release's W8ASpike does.
  std::vector<LayerKind> layer_kinds;
  std::int64_t gla_low_rank = 0;
  double gla_normaliser = 16.0;
  bool attention_query_site = false;
  bool kv_int8 = false;
  bool gla_key_gate = false;  // SpikingBrain-76B's linear attention: sigmoid q / k, decay 1 - k (no gk_proj)
  std::int64_t sink_tokens = 0;  // learnable tokens every softmax attention also attends (76B: 128)
  bool config_only = false;      // an architecture without released code or weights: accounting only
  TensorNames names = TensorNames::hf;
  std::int32_t bos_id = 1;
  std::int32_t eos_id = 2;

  [[nodiscard]] std::int64_t q_dim() const { return n_heads * head_dim; }
  [[nodiscard]] std::int64_t kv_dim() const { return n_kv_heads * head_dim; }
  [[nodiscard]] std::int64_t gla_rank() const { return gla_low_rank < 0 ? 16 : gla_low_rank; }
  [[nodiscard]] LayerKind kind_of(std::int64_t layer) const {
    return layer_kinds.empty() ? LayerKind::attention : layer_kinds[static_cast<std::size_t>(layer)];
  }
  [[nodiscard]] std::int64_t window_of(std::int64_t layer) const {
    return window.empty() ? 0 : window[static_cast<std::size_t>(layer)];
  }
  // Weights of the whole model (embedding counted once when tied; every expert counted).
  [[nodiscard]] std::int64_t parameter_count() const;
  // Weights one token uses: routed experts counted top_k of `experts` (= parameter_count() without MoE).
  [[nodiscard]] std::int64_t active_parameter_count() const;
};

// Limits on config sizes (no data backs them, and the plan sizes buffers from them): far above any released
// model (Llama 3.1 405B: 126 layers, hidden 16384, intermediate 53248, 128 heads; contexts up to ~1M).
inline constexpr std::int64_t max_llm_layers = 4096;
inline constexpr std::int64_t max_llm_width = std::int64_t{1} << 20;  // hidden, intermediate, head_dim
inline constexpr std::int64_t max_llm_heads = std::int64_t{1} << 16;
inline constexpr std::int64_t max_llm_vocab = (std::int64_t{1} << 31) - 1;
inline constexpr std::int64_t max_llm_context = std::int64_t{1} << 24;

// The limit above for a Hugging Face config key (num_hidden_layers, hidden_size, max_position_embeddings,
// ...); max_llm_width for any other size key.
std::int64_t llm_size_limit(std::string_view hf_key);

// Throws ModelError "<file>: <field> ..." for sizes that cannot describe a Llama model or exceed the limits.
void validate(const LlmConfig& config, const std::string& file);

// Checks num_hidden_layers against the tensor names of a checkpoint before anything is listed or sized from
// it: a config naming more layers than the checkpoint holds tensors, or a checkpoint holding layers
// ("model.layers.<N>.") the config leaves out, is a ModelError naming the file.
void check_layer_count(const LlmConfig& config, const std::vector<std::string>& tensor_names,
                       const std::string& file);

struct LlmModel {
  LlmConfig config;
  Network network;
};

// Hugging Face tensor names for layer `layer` (role: "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
// "up_proj", "down_proj" with kind "weight" / "bias"; "input_layernorm", "post_attention_layernorm").
std::string layer_tensor_name(std::int64_t layer, const std::string& role,
                              const std::string& kind = "weight");
// Mixture-of-experts tensors of layer `layer` (expert: ignored for the router and the shared expert):
// Mixtral block_sparse_moe.{gate, experts.E.w1 / w3 / w2}; Qwen-MoE mlp.{gate, experts.E.gate_proj / up_proj
// / down_proj, shared_expert.*, shared_expert_gate}.
enum class MoeRole { router, gate, up, down, shared_gate, shared_up, shared_down, shared_router };
std::string moe_tensor_name(const LlmConfig& config, std::int64_t layer, std::int64_t expert, MoeRole role);
// The same in the checkpoint's naming (config.names): GLAswa maps input_layernorm / post_attention_layernorm
// to attn_norm / mlp_norm and self_attn.* to attn.*, and has the GLA roles "gk_proj.0", "gk_proj.1",
// "gk_proj" (merged) and "g_norm".
std::string layer_tensor_name(const LlmConfig& config, std::int64_t layer, const std::string& role,
                              const std::string& kind = "weight");
std::string embed_tensor_name_of(const LlmConfig& config);
inline constexpr const char* embed_tensor_name = "model.embed_tokens.weight";
inline constexpr const char* gla_swa_embed_tensor_name = "model.embeddings.weight";
inline constexpr const char* final_norm_tensor_name = "model.norm.weight";
inline constexpr const char* lm_head_tensor_name = "lm_head.weight";

// Names of every tensor the config needs, in checkpoint order, with their shapes.
struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
};
std::vector<TensorSpec> required_tensors(const LlmConfig& config);

// Checks every required tensor of model.network against the config (missing tensor, shape, dtype) and adds
// the op graph. ModelError names the file (model.network.source), the tensor, expected vs found.
void build_llm_graph(LlmModel& model);

// The network of `config` with shape-only tensors (no bytes): what the 7B-scale accounting lowers when no
// weights are at hand (lower it with LowerOptions::shape_only).
LlmModel shape_only_llm(const LlmConfig& config, const std::string& source);

}  // namespace spikesim::models
