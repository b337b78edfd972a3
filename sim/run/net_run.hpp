#pragma once
// Runs a lowered network plan (sim/net_plan.hpp): densely (the GPU-equivalent run) or spiking (coded sites
// spike-coded per sample through run_coded_conv / run_coded_linear, everything else dense and counted).

#include <cstdint>
#include <span>
#include <vector>

#include "base/counters.hpp"
#include "sim/plan/net_plan.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// Buffers of one plan run; one per thread.
struct PlanState {
  std::vector<std::vector<float>> slots;  // [slot][plan.slot_size[slot]]
  explicit PlanState(const NetPlan& plan);
};

// input [batch][sample_input_size] -> the model output [batch][sample_output_size] (a view into `state`).
std::span<const float> run_dense(const NetPlan& plan, PlanState& state, std::span<const float> input);

// The spiking run of the same input. Only the first `samples` samples count (the rest pads a static batch);
// `counters` [plan.steps.size()] receives each step's counters. `first_sample` numbers samples in messages.
std::span<const float> run_spiking(const NetPlan& plan, PlanState& state, std::span<const float> input,
                                   std::int64_t samples, const SiteConfig& config,
                                   std::vector<SiteCounters>& counters, std::int64_t first_sample = 0);

// One report row per step (execution order), with the accumulated counters.
std::vector<LayerRecord> plan_records(const NetPlan& plan, const std::vector<SiteCounters>& counters);

}  // namespace spikesim::sim
