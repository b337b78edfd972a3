#pragma once
// Hugging Face style LLM checkpoints: config.json + model.safetensors (or sharded
// model.safetensors.index.json), for LlamaForCausalLM and Qwen2ForCausalLM, dtypes F32/F16/BF16.
//
// config.json keys read: architectures (or model_type), hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, head_dim, vocab_size, max_position_embeddings, rms_norm_eps,
// rope_theta, tie_word_embeddings, attention_bias, mlp_bias, hidden_act (must be silu), rope_scaling (must
// be absent/null), use_sliding_window (must be false), bos_token_id, eos_token_id.
// Qwen2ForCausalLM always has q/k/v biases.

#include <filesystem>
#include <string>
#include <vector>

#include "models/llm.hpp"
#include "models/safetensors.hpp"

namespace spikesim::models {

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
