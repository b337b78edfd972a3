#pragma once
// The HDF5-trace path: lower a trace network into per-layer plans, run every layer spike-coded.

#include <span>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "models/events_file.hpp"
#include "models/network.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

struct TracePlan {
  struct Layer {
    std::string name;
    std::int64_t index = 0;
    LinearWeights weights;
    std::span<const float> input;  // [tokens][in], points into the network's storage
    std::int64_t tokens = 0;
  };
  std::string source;
  std::vector<Layer> layers;  // in execution order
};

TracePlan lower_trace(const models::Network& network);
// progress (optional) advances once per layer.
std::vector<LayerRecord> run_trace(const TracePlan& plan, const SiteConfig& config,
                                   Progress* progress = nullptr);
std::vector<models::NamedEvents> encode_trace(const TracePlan& plan, const SiteConfig& config);

}  // namespace spikesim::sim
