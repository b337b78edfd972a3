#pragma once
// Hugging Face style LLM checkpoints: config.json + model.safetensors (or sharded
// model.safetensors.index.json), dtypes F32/F16/BF16, for LlamaForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM (per-head q/k RMSNorm), MistralForCausalLM (sliding window), MixtralForCausalLM,
// Qwen2MoeForCausalLM and Qwen3MoeForCausalLM (mixtures of experts), as transformers 5.17 defines them.
//
// config.json keys read: architectures (or model_type), hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, head_dim (absent / null: hidden / heads), vocab_size,
// max_position_embeddings, rms_norm_eps, tie_word_embeddings, attention_bias, mlp_bias (Llama only),
// qkv_bias (Qwen2-MoE), hidden_act (must be silu), bos_token_id, eos_token_id;
// RoPE in either style: rope_parameters {rope_type, rope_theta, factor, ...} (transformers 5) or rope_theta
// + rope_scaling {rope_type | type, factor, ...} (older), types default, linear, dynamic, llama3
// (low_freq_factor, high_freq_factor, original_max_position_embeddings) and yarn (original_max_position_
// embeddings, beta_fast, beta_slow, attention_factor, truncate); partial_rotary_factor must be 1;
// sliding windows: sliding_window (Mistral / Mixtral: every layer), use_sliding_window + layer_types or
// max_window_layers (Qwen families; the window is ignored when use_sliding_window is false);
// experts: num_local_experts (Mixtral) / num_experts, num_experts_per_tok, moe_intermediate_size,
// norm_topk_prob, shared_expert_intermediate_size, decoder_sparse_step, mlp_only_layers.
// Any other value of a key read here is refused naming the file and key. dtype / torch_dtype are not read:
// each tensor's stored dtype is (weights stay in it). Qwen2 / Qwen2-MoE always have q/k/v biases.

#include <filesystem>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "models/error.hpp"
#include "models/llm.hpp"
#include "models/safetensors.hpp"

namespace spikesim::models {

// bos_token_id / eos_token_id of a config.json: an id, a list of ids (the first counts), or absent
// (fallback).
std::int32_t config_token_id(const JsonAt<ModelError>& j, const std::string& key, std::int32_t fallback);

// The checkpoint's config.json for a directory, a .safetensors file or a config.json; empty when none.
std::filesystem::path hf_config_path(const std::filesystem::path& model);

// Parses config.json; ModelError names the file and the key. default_context > 0 stands in for a missing
// max_position_embeddings (the accounting of a config alone needs no context limit).
LlmConfig read_hf_config(const std::filesystem::path& config_json, std::int64_t default_context = 0);

// Loads `model` (directory, model.safetensors, or config.json), memory-mapped.
LlmModel load_hf_llm(const std::filesystem::path& model);

// For `spikesim convert`: config.json text and the tensors (HF names, rotate_half RoPE layout) of `model`
// in `dtype` ("F32", "F16" or "BF16"). Interleaved-RoPE checkpoints (llama2.c) get their q/k rows permuted
// like transformers' convert_llama_weights_to_hf.py, so the result computes the same logits.
std::string hf_config_json(const LlmConfig& config, const std::string& dtype);
std::vector<TensorBytes> hf_tensors(const LlmModel& model, const std::string& dtype);

// Row permutation from interleaved (2i, 2i+1) to rotate_half (i, i + d/2) order, per head:
// new row h*d + t*(d/2) + i takes old row h*d + 2i + t. Returns old row index for every new row.
std::vector<std::int64_t> rope_half_permutation(std::int64_t heads, std::int64_t head_dim);

}  // namespace spikesim::models
