#pragma once
// Llama-family LLMs lowered once from the network description (models/llm.hpp) into a flat plan that the
// dense run (GPU-equivalent) and the spiking run both execute. They differ only at the coded sites: a coded
// site goes through run_coded_linear (neurons -> coding -> event-driven delivery), an uncoded one through
// dense_forward. Everything else (embedding, RMSNorm, RoPE, attention scores / softmax / weighted sum,
// SwiGLU, residual adds, lm_head) stays dense and is counted as dense and uncoded MACs.
//
// Synaptic sites are fused by shared input: a spike of one presynaptic neuron reaches every synapse of
// every projection that reads it, so q|k|v form one site and gate|up one site (outputs concatenated,
// spikes counted once, SOPs over the whole fan-out):
//
//   layers.l.attn_in   x_norm [dim]       -> q|k|v  [q_dim + 2 kv_dim]   (--sites qkv)
//   layers.l.attn_out  attention [q_dim]  -> o      [dim]                (--sites o)
//   layers.l.mlp_in    x_norm [dim]       -> gate|up [2 hidden]          (--sites gateup)
//   layers.l.mlp_out   swiglu [hidden]    -> down   [dim]                (--sites down)
//
// A call processes n tokens at positions pos..pos+n-1 as one [n, dim] batch with causal attention over
// the KV cache: the whole sequence at once (prefill / teacher forcing), or one token at a time (decode).

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/llm.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

enum class LlmSite { attn_in, attn_out, mlp_in, mlp_out };
inline constexpr std::size_t llm_site_count = 4;
using LlmSites = std::array<bool, llm_site_count>;  // indexed by LlmSite: spike-coded or dense

std::string_view name(LlmSite site);         // "attn_in", ...
std::string_view option_name(LlmSite site);  // "qkv", "o", "gateup", "down"
// "qkv,o,gateup[,down]", "all" or "none"; throws std::invalid_argument naming the bad entry.
LlmSites parse_llm_sites(std::string_view list);
std::string llm_sites_string(const LlmSites& sites);  // "qkv,o,gateup" ("none" when empty)
// SpikingBrain's set: inputs of q, k, v, o, gate, up (down_proj stays dense).
inline constexpr LlmSites spikingbrain_sites{true, true, true, false};

struct LlmPlan {
  struct Layer {
    std::vector<float> attn_norm;                    // [dim]
    std::vector<float> mlp_norm;                     // [dim]
    std::array<LinearWeights, llm_site_count> site;  // by LlmSite
  };
  models::LlmConfig config;
  std::string source;
  std::vector<std::shared_ptr<const void>> storage;  // keeps a memory-mapped embedding alive
  std::span<const float> embedding;                  // [vocab][dim]
  std::vector<float> embedding_widened;              // [vocab][dim] when stored as f16 / bf16
  std::vector<Layer> layers;
  std::vector<float> final_norm;  // [dim]
  LinearWeights lm_head;          // dim -> vocab
  std::vector<double> rope_cos;   // [seq_len][head_dim / 2]
  std::vector<double> rope_sin;   // [seq_len][head_dim / 2]
};

// Walks the graph once (checking its Llama structure), widens f16/bf16 weights, checks every weight is
// finite (ModelError naming file, tensor and position) and builds the flat plan.
LlmPlan lower_llm(const models::LlmModel& model);

struct LlmRunConfig {
  LlmSites coded{};  // all false: the dense (GPU-equivalent) run
  SiteConfig site;   // neuron and coding of the coded sites
};

// The KV cache and position of one sequence.
struct LlmState {
  explicit LlmState(const LlmPlan& plan);
  std::int64_t pos = 0;                   // tokens already in the cache
  std::vector<std::vector<float>> key;    // [layers] -> [seq_len][kv_dim] (after RoPE)
  std::vector<std::vector<float>> value;  // [layers] -> [seq_len][kv_dim]
};

// One record per op that does work, in execution order: embed, per layer (attn_norm, attn_in, rope,
// attention, attn_out, mlp_norm, mlp_in, swiglu, mlp_out), final_norm, lm_head. Coded sites as marked.
std::vector<LayerRecord> llm_records(const LlmPlan& plan, const LlmSites& coded);

// Runs `tokens` at positions state.pos.., appends their keys/values to the cache and writes
// logits [n][vocab]. Adds what happened to `records` (from llm_records, same coded set) when given.
void llm_forward(const LlmPlan& plan, const LlmRunConfig& config, LlmState& state,
                 std::span<const std::int32_t> tokens, std::span<float> logits,
                 std::vector<LayerRecord>* records = nullptr);

// Greedy decoding: prefill `prompt`, then append the argmax token (lowest id on ties) `steps` times, or until
// the context is full, or (stop_at_eos) BOS/EOS is produced. Returns prompt + generated tokens.
std::vector<std::int32_t> llm_generate(const LlmPlan& plan, const LlmRunConfig& config,
                                       std::span<const std::int32_t> prompt, std::int64_t steps,
                                       bool stop_at_eos, std::vector<LayerRecord>* records = nullptr);

}  // namespace spikesim::sim
