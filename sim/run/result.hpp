#pragma once
// The typed result of every run path (a checkpoint, a trace, a dataset, a generation, the accounting): what
// was run, one record per plan step, and the optional raster. sim/report/ renders it (report.json,
// layers.csv) with the hardware profiles the caller adds.

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "energy/profile.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/raster.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

using Json = nlohmann::ordered_json;

struct ReportInput {
  Json run = Json::object();  // what was run: command, source, coding, k, tokens_per_call, ...
  std::vector<LayerRecord> layers;
  std::vector<energy::HardwareProfile> profiles;
  Json extra = Json::object();   // path-specific top-level objects (fidelity, accuracy, ...)
  std::optional<Raster> raster;  // spikes of one token at one site, written to raster.json
  // LLM runs: the teacher-forced logits [tokens][vocab] of the dense and the spiking run (run --dump-logits).
  struct Logits {
    std::vector<float> dense, spiking;
    std::int64_t vocab = 0;
  };
  std::optional<Logits> logits;
};

// Appends the coding settings of a run to its `run` object, in this order: coding, neuron, k, granularity,
// fixed_T, saturate.
void add_coding_json(Json& run, const SiteConfig& config);

}  // namespace spikesim::sim
