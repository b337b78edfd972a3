#pragma once
// SpikingBrain-7B checkpoints: GLAswaForCausalLM (model_type gla_swa) of BICLab/SpikingBrain-7B @ ef99987,
// hf_7B_model/. The spec, with file:line citations of the release and of fla v0.1.0, is
// data/configs/SPIKINGBRAIN.md; this reader follows it:
//   - config.json fields the release reads (configuration_gla_swa.py:29-83): vocab_size, hidden_size,
//     num_hidden_layers, num_attention_heads, num_key_value_heads (null: heads), intermediate_size,
//     hidden_act (swish | silu), attn_layers (a stored list wins over the default odd layers, :75-83),
//     sliding_window, norm_eps, rope_theta, max_position_embeddings, use_short_conv (true refused: the
//     release's decode never stores conv states, gla_attention.py:125-127), attn_mode (kernel choice only),
//     tie_word_embeddings, bos/eos_token_id; spikesim extensions: layer_types ("gla" | "swa", must agree
//     with attn_layers), gate_logit_normalizer (16, gla_attention.py:48), gate_low_rank_dim (16, :49; must
//     equal the tensor's rows).
//   - head_dim = hidden / heads (gla_attention.py:66); q/k/v carry biases, o_proj and the MLP none;
//     RMSNorm everywhere with norm_eps.
//   - SWA layers: RoPE (rotate_half, θ = rope_theta) and flash-attn's window_size=(W, 0): a token sees
//     itself and the W previous tokens (W + 1 keys: spikesim's window W + 1), in prefill and decode.
//   - GLA layers: q, k through ReLU, gk = gk_proj.1(gk_proj.0(x)) (or one merged gk_proj, W8ASpike layout),
//     gated linear attention (sim/kernels/llm_ops.hpp), per-head g_norm, o_proj.

#include <map>
#include <string>

#include "base/json.hpp"
#include "models/error.hpp"
#include "models/llm.hpp"

namespace spikesim::models {

inline constexpr const char* gla_swa_architecture = "GLAswaForCausalLM";
inline constexpr const char* spikingbrain_moe_architecture =
    "SpikingBrain76B";  // model_type spikingbrain_hybrid_moe

// The config of a gla_swa config.json (already parsed); ModelError names the file and key. The GLA gate
// layout (low-rank 16, the release's hf_7B_model) is fixed later from the tensors (set_gla_gate_layout).
LlmConfig read_gla_swa_config(const JsonAt<ModelError>& j, std::int64_t default_context);

// SpikingBrain-76B-A12B as reconstructed from the technical report (data/configs/spikingbrain-76b.json and
// the README beside it: every value the report does not state is marked there). Per layer GLA (sigmoid q / k,
// decay 1 - k) in parallel with sliding-window or full softmax attention over 128 sink tokens, each branch
// RMS-normalised, summed; dense SwiGLU or MoE (routed top-k + an ungated shared expert) per mlp_layer_types.
// No code or weights are released: the config is for `spikesim account` only (config_only). Every key is
// checked against the values spikesim implements; other values are refused naming the key.
LlmConfig read_spikingbrain_moe_config(const JsonAt<ModelError>& j, std::int64_t default_context);

// Sets config.gla_low_rank from the checkpoint's tensors: gk_proj.0.weight's rows, or 0 for a merged
// gk_proj.weight (W8ASpike). A config's gate_low_rank_dim must agree; W8ASpike's weight_quantizer scales
// (INT8 weights) are refused by name.
void set_gla_gate_layout(LlmConfig& config, const std::map<std::string, Tensor>& tensors,
                         const std::string& file);

}  // namespace spikesim::models
