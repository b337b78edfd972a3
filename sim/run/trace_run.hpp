#pragma once
// The HDF5-trace path: every recorded layer is a coded site of one trace plan (sim/plan/lower.hpp), run
// spike-coded on its recorded input by the executor; or encoded into event streams (`spikesim encode`).

#include <vector>

#include "base/progress.hpp"
#include "models/events_file.hpp"
#include "sim/plan/plan.hpp"
#include "sim/run/execute.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// Records of every layer (with the events each presynaptic neuron sent); progress advances once per layer.
std::vector<LayerRecord> run_trace(const Plan& plan, const SiteConfig& config, Progress* progress = nullptr,
                                   const SiteObserver& observer = {});
// The event stream of every coded layer.
std::vector<models::NamedEvents> encode_trace(const Plan& plan, const SiteConfig& config);

}  // namespace spikesim::sim
