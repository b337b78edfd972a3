#include "sim/run/result.hpp"

#include "coding/scheme.hpp"
#include "neurons/neuron.hpp"

namespace spikesim::sim {

void add_coding_json(Json& run, const SiteConfig& config) {
  run["coding"] = coding::name(config.coding.scheme);
  run["neuron"] = neurons::name(config.neuron.kind);
  run["k"] = config.neuron.k;
  run["granularity"] = neurons::name(config.neuron.granularity);
  run["fixed_T"] = config.coding.steps ? Json(*config.coding.steps) : Json(nullptr);
  run["saturate"] = config.coding.saturate;
}

}  // namespace spikesim::sim
