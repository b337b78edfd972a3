#pragma once
// Dense kernels of the decoder-LLM ops a plan runs besides its synaptic sites: plain loops over contiguous
// row-major buffers, accumulated in double where the reference does (norms, RoPE, attention). The same
// kernels run in the dense and in the spiking run (these ops are never spike-coded).

#include <cstdint>
#include <span>
#include <vector>

#include "sim/kernels/weights.hpp"

namespace spikesim::sim::ops {

// out [rows][dim] = table[ids[r]]: the embedding lookup. table [vocab][dim] in its stored dtype.
void embedding(const void* table, WeightType type, std::int64_t dim, std::span<const std::int32_t> ids,
               std::span<float> out);

// out [rows][dim] = x / sqrt(mean(x^2) + eps) * weight, accumulated in double.
void rmsnorm(std::span<const float> x, std::span<const float> weight, double eps, std::span<float> out);

// RoPE tables in double: angle(pos, i) = pos * theta^(-2i / head_dim), i < head_dim / 2.
struct RopeTables {
  std::int64_t half = 0;    // head_dim / 2
  std::vector<double> cos;  // [context][half]
  std::vector<double> sin;  // [context][half]
};
RopeTables rope_tables(std::int64_t context, std::int64_t head_dim, double theta);
// The same from given inverse frequencies (scaled RoPE, models/llm.hpp rope_frequencies): angle(pos, i) =
// pos * inv_freq[i]; cos and sin multiplied by `scaling` (YaRN's attention factor).
RopeTables rope_tables(std::int64_t context, std::span<const double> inv_freq, double scaling);
// Dynamic NTK θ' of a forward over `length` positions (transformers _compute_dynamic_ntk_parameters):
// θ · (factor · L / context − (factor − 1))^(d / (d − 2)) with L = max(length, context).
double dynamic_ntk_theta(double theta, double factor, std::int64_t length, std::int64_t context,
                         std::int64_t head_dim);

// Rotates `heads` heads of each row of x [rows][heads * head_dim] in place; row r sits at position pos0 + r.
// interleaved: pairs (2i, 2i+1) (llama2.c / Meta); else (i, i + head_dim/2) (Hugging Face rotate_half).
void rope(std::span<float> x, std::int64_t heads, std::int64_t head_dim, bool interleaved,
          const RopeTables& tables, std::int64_t pos0);

// Causal grouped-query attention in double for rows at positions pos0 .. pos0 + rows - 1 over a KV cache
// holding positions 0 .. pos0 + rows - 1: q [rows][heads * head_dim], key/value [context][kv_heads *
// head_dim], out [rows][heads * head_dim]. Query head h reads KV head h / (heads / kv_heads). window > 0:
// query i attends keys i - window < j <= i only (transformers' sliding window: `window` keys, itself
// included). key_base: the first position the cache holds (a sliding-window cache drops older keys).
void causal_attention(std::span<const float> q, std::span<const float> key, std::span<const float> value,
                      std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim, std::int64_t pos0,
                      std::span<float> out, std::int64_t window = 0, std::int64_t key_base = 0);

// SpikingBrain-7B's gated linear attention (GLA), token by token, for rows q [rows][heads * head_dim] (after
// the ReLU feature map), k, v, gk [rows][kv_heads * head_dim] (k after ReLU, gk the raw gate projection):
//   g = logsigmoid(gk) / normaliser,  S_t = diag(exp g_t) S_{t-1} + k_t^T v_t,  o_t = head_dim^-0.5 q_t S_t
// per key/value head (query head h reads KV head h / (heads / kv_heads), as repeat_kv), S [kv_heads]
// [head_dim (key)][head_dim (value)] carried in `state` (float, as fla keeps it) across calls.
// Sources: BICLab/SpikingBrain-7B hf_7B_model/gla_attention.py:130-171, fla v0.1.0 fla/ops/gla/naive.py:12-41
// (data/configs/SPIKINGBRAIN.md §4). An empty gk: the decay is 1 - k itself (SpikingBrain-76B's g_t = 1 -
// k_t, report §2.2).
void gated_linear_attention(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                            std::span<const float> gk, std::int64_t heads, std::int64_t kv_heads,
                            std::int64_t head_dim, double normaliser, std::span<float> state,
                            std::span<float> out);

// INT8 symmetric absmax fake quantisation of each `group` consecutive values of x in place (SpikingBrain's
// quantize_sym, W8ASpike/window_attention.py:227-237: per token and head): scale = clamp(max|x| / 127,
// 1e-5, 1e4), x = clamp(round(x / scale), -128, 127) * scale (round half to even, as torch.round).
void int8_fake_quant(std::span<float> x, std::int64_t group);

// Keys query position `pos` attends: pos + 1, or at most `window` (> 0).
inline std::int64_t attended_keys(std::int64_t pos, std::int64_t window) {
  return window > 0 && window < pos + 1 ? window : pos + 1;
}

// Mixture-of-experts routing of each row of logits [rows][experts]: softmax over all experts (in double),
// the top_k largest probabilities (largest first; the lower expert on ties), renormalised to sum 1 when
// `renormalise` (Mixtral, norm_topk_prob) else the raw probabilities (Qwen2-MoE's default).
struct Routing {
  std::int64_t top_k = 0;
  std::vector<std::int32_t> expert;  // [rows][top_k]
  std::vector<float> weight;         // [rows][top_k]
};
Routing moe_route(std::span<const float> logits, std::int64_t experts, std::int64_t top_k, bool renormalise);

// out [rows][hidden] = silu(gate) * up, gate and up [rows][hidden] (SwiGLU).
void silu_mul(std::span<const float> gate, std::span<const float> up, std::span<float> out);

}  // namespace spikesim::sim::ops
