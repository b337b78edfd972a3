#pragma once
// The one executor: runs a plan (sim/plan/plan.hpp) densely (the GPU-equivalent run) or spiking (coded sites
// through the site driver sim/site/synapse.hpp, everything else dense), for every model kind. Dense work is
// counted by the cost table (sim/plan/cost.hpp) the same way on every path.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "sim/plan/plan.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// Buffers and caches of one sequence (token plans) or one batch (network plans); one per thread.
struct RunState {
  explicit RunState(const Plan& plan);
  std::int64_t pos = 0;                         // token plans: tokens already in the KV caches
  std::vector<std::vector<float>> slots;        // [slot][rows][plan.slot_size[slot]]
  std::vector<std::vector<float>> cache_key;    // [step] attention: [positions][kv_heads * head_dim]
  std::vector<std::vector<float>> cache_value;  // [step] the same for values
  std::vector<std::int64_t> cache_first;        // [step] first position a (sliding-window) cache holds
                                                // (cache_key of a gla step: its recurrent state)
};

struct PlanInput {
  std::span<const std::int32_t> tokens;  // token plans: the call's token ids (positions state.pos ..)
  std::span<const float> values;         // network plans: [batch][sample input]
  static PlanInput of_tokens(std::span<const std::int32_t> ids) { return {ids, {}}; }
  static PlanInput of_values(std::span<const float> x) { return {{}, x}; }
};

// Sees the input of every coded site as it is coded (`spikesim run --save-activations`): x [rows][in], whose
// first row is row `first_row` of everything the site codes in the run (samples may arrive in any order).
using SiteObserver = std::function<void(const Step& site, std::span<const float> x, std::int64_t rows,
                                        std::int64_t first_row)>;

struct ExecOptions {
  const SiteConfig* site = nullptr;  // the spiking run when set; nullptr: the dense run
  std::int64_t samples = -1;         // network plans: samples that count (the rest pads a static batch)
  std::int64_t first_sample = 0;     // network plans: number of the batch's first sample (messages, rasters)
  SiteObserver observer;             // optional
  Progress* progress = nullptr;      // optional: advanced once per coded site run
};

// One report row per step (execution order), empty counters.
std::vector<LayerRecord> plan_records(const Plan& plan);

// Runs one call: network plans one batch, token plans input.tokens.size() tokens (appended to the caches).
// Adds what happened to `records` (from plan_records) when given. Returns the output [rows][output per row],
// a view into `state`.
std::span<const float> execute(const Plan& plan, RunState& state, const PlanInput& input,
                               const ExecOptions& options = {}, std::vector<LayerRecord>* records = nullptr);

// Adds the counters and events per input of `from` to `into` (records of the same plan).
void merge_records(std::vector<LayerRecord>& into, const std::vector<LayerRecord>& from);

}  // namespace spikesim::sim
