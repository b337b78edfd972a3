#pragma once
// 7B-scale accounting: spikes, SOPs, MACs and energy counters of a whole decoder from its config alone (e.g.
// SpikingBrain-7B / Qwen2.5-7B: 28 layers, hidden 3584, intermediate 18944, GQA 28/4 heads, vocab 152064).
//
// It is the same plan as `spikesim run` on a checkpoint (sim/plan/lower.hpp: the same sites, fused the same
// way, the same cost table for the ops left dense), lowered with shape-only weights and counted instead of
// run: every coded site's input comes from an activation source (the synthetic generator, sim/run/synthetic,
// or an HDF5 trace such as `spikesim run --save-activations` writes), streamed in chunks of tokens, so memory
// does not grow with tokens. Without weights every synapse is taken as non-zero (effective SOPs = SOPs).
// On the activations a run recorded, the per-site records equal the run's (tested).
//
// On several MPI ranks (base/dist.hpp; `mpirun -np N spikesim account ...`) every rank calls account() with
// the same request and the chunks are spread over the ranks (round by round: chunk first + rank); rank 0 adds
// every chunk's counters in chunk order, so its result is bit-identical to one process (integers exactly,
// floating sums in the same order). The other ranks' results hold no counters. A failure on one rank makes
// every rank throw (it: its error prefixed "chunk C (tokens a..b): "; the others dist::PeerFailed).

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/progress.hpp"
#include "models/llm.hpp"
#include "sim/run/result.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// The architecture of a decoder: a Hugging Face config.json (or a checkpoint directory holding one) or a
// llama2.c .bin (header only). A missing max_position_embeddings is taken as `default_context`.
models::LlmConfig load_llm_config(const std::filesystem::path& model, std::int64_t default_context);

struct AccountRequest {
  std::string config;                     // config.json, a checkpoint directory, or a llama2.c .bin
  std::int64_t tokens = 4096;             // tokens to account; 0: every token the trace holds
  std::int64_t chunk_tokens = 256;        // tokens coded at once (T is set per chunk; the dense run reads its
                                          // weights once per chunk)
  std::int64_t sequence_tokens = 0;       // causal context per sequence; 0: the tokens form one sequence
  std::string activations = "synthetic";  // "synthetic" or an HDF5 trace (/layers/<site>/input)
  std::uint64_t seed = 1;                 // synthetic: generator seed
  double sigma = outlier_sigma_default;   // synthetic: log-std of the channel scales (outlier generator)
  std::string generator = "auto";         // synthetic: auto (the fitted mixture for SpikingBrain configs,
                                          // else outlier), outlier, or a generator JSON file
  std::string sites = "default";          // coded sites (sim/plan/select.hpp)
  SiteConfig site;
  Progress* progress = nullptr;  // advanced once per chunk (of any rank)
};

struct AccountResult {
  ReportInput report;            // run, layers (no profiles: the caller adds them)
  models::LlmConfig config;      // the decoder accounted
  std::int64_t tokens = 0;       // tokens accounted
  std::size_t buffer_bytes = 0;  // bytes of every buffer the stream held (bounded by the chunk, not tokens)
};

AccountResult account(const AccountRequest& request);

// Stream id of the k-th synaptic site of a plan (execution order) in the synthetic generator (seed, stream):
// for a Llama layer l its sites attn_in, attn_out, mlp_in, mlp_out are streams 4l .. 4l + 3.
inline std::uint64_t synthetic_stream(std::size_t site_ordinal) {
  return static_cast<std::uint64_t>(site_ordinal);
}

}  // namespace spikesim::sim
