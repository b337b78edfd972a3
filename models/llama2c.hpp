#pragma once
// llama2.c checkpoints (Karpathy's run.c "version 0" / legacy export), memory-mapped:
//
//   int32 header[7]: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//                    (vocab_size < 0: the classifier is a separate matrix, else tied to the embedding)
//   float32, row-major [out][in]: token_embedding [vocab][dim], rms_att [layers][dim], wq [layers][dim][dim],
//     wk [layers][kv_dim][dim], wv [layers][kv_dim][dim], wo [layers][dim][dim], rms_ffn [layers][dim],
//     w1 [layers][hidden][dim], w2 [layers][dim][hidden], w3 [layers][hidden][dim], rms_final [dim],
//     freq_cis_real [seq_len][head_dim/2], freq_cis_imag [seq_len][head_dim/2] (ignored: recomputed),
//     wcls [vocab][dim] (only when untied)
//
// The file size must match the header exactly. Tensors are views into the map under Hugging Face names
// (w1 = gate_proj, w3 = up_proj, w2 = down_proj); RoPE pairs adjacent features (RopeStyle::interleaved),
// norm eps 1e-5, rope theta 10000.

#include <filesystem>

#include "models/llm.hpp"

namespace spikesim::models {

// True when `file` starts like a llama2.c checkpoint (any version); used to recognise .bin files.
bool looks_like_llama2c(const std::filesystem::path& file);

LlmModel load_llama2c(const std::filesystem::path& file);

}  // namespace spikesim::models
