#pragma once
// report.json and layers.csv: per-layer metrics (DESIGN §3) and energy per profile and term (DESIGN §4).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "energy/profile.hpp"
#include "sim/layer_record.hpp"

namespace spikesim::sim {

using Json = nlohmann::ordered_json;

struct ReportInput {
  Json run = Json::object();  // what was run: command, source, coding, k, ...
  std::vector<LayerRecord> layers;
  std::vector<energy::HardwareProfile> profiles;
  Json extra = Json::object();  // path-specific top-level objects (fidelity, accuracy, ...)
};

// The metrics of DESIGN §3 from counters (shares, rates, errors), without identity fields.
Json metrics_json(const SiteCounters& c);
// {profile: {"spiking": {term: {low, nominal, high}, ..., "total": ..., "uncharged": [...]}, "dense": {...}}}
Json energy_json(const SiteCounters& c, const std::vector<energy::HardwareProfile>& profiles);

SiteCounters total_counters(const std::vector<LayerRecord>& layers);
Json report_json(const ReportInput& input);
std::string layers_csv(const ReportInput& input);

// Writes DIR/report.json and DIR/layers.csv, both or neither.
void write_report(const std::filesystem::path& dir, const ReportInput& input);

}  // namespace spikesim::sim
