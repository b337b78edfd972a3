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

struct LlmConfig {
  std::string architecture;     // "llama2.c", "LlamaForCausalLM" or "Qwen2ForCausalLM"
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
  std::int32_t bos_id = 1;
  std::int32_t eos_id = 2;

  [[nodiscard]] std::int64_t q_dim() const { return n_heads * head_dim; }
  [[nodiscard]] std::int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Weights of the whole model (embedding counted once when tied).
  [[nodiscard]] std::int64_t parameter_count() const;
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
inline constexpr const char* embed_tensor_name = "model.embed_tokens.weight";
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
