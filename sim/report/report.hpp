#pragma once
// report.json and layers.csv: per-layer metrics (DESIGN §3), energy per profile, run and term with
// low/nominal/high ranges (DESIGN §4), the mapping onto chip cores, and the break-even spike rate of every
// spiking profile against every dense one. Shared by every run path: they only fill ReportInput.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "energy/profile.hpp"
#include "sim/run/result.hpp"

namespace spikesim::sim {

// The metrics of DESIGN §3 from counters (shares, rates, errors), without identity fields.
Json metrics_json(const SiteCounters& c);
// {profile: {"spiking": {term: {low, nominal, high}, ..., "total": ..., "uncharged": [...]}, "dense": {...}}}
// for counters on their own: no layer shape (SRAM model) and no core mapping. report_json() uses the full
// network estimate instead (energy/network_estimate.hpp).
Json energy_json(const SiteCounters& c, const std::vector<energy::HardwareProfile>& profiles);
// A profile's constants with sources, chip layout and word sizes (the "hardware" section of report.json).
Json profile_json(const energy::HardwareProfile& profile);
// The (spiking profile, dense profile) pairs the break-even analysis compares: a profile with both sides
// against its own dense side (same silicon and process node, e.g. 45 nm), a spiking-only profile (a
// neuromorphic chip) against every dense-only profile (GPUs). A 45 nm model is not paired with a GPU: mixing
// process nodes without scaling biases the comparison (energy-constants.md, caveat 1).
std::vector<std::pair<std::string, std::string>> break_even_pairs(
    const std::vector<energy::HardwareProfile>& profiles);
Json raster_json(const Raster& raster);

SiteCounters total_counters(const std::vector<LayerRecord>& layers);
Json report_json(const ReportInput& input);
std::string layers_csv(const ReportInput& input);

// report_json() and layers_csv() of one input, mapping the network onto cores once.
struct RenderedReport {
  Json json;
  std::string csv;
};
RenderedReport render_report(const ReportInput& input);

// Writes DIR/report.json and DIR/layers.csv (and raster.json when the input has a raster, and the
// `extra_files` (name, contents) of the command, e.g. generate's generation.json), all or none.
void write_report(const std::filesystem::path& dir, const ReportInput& input,
                  const std::vector<std::pair<std::string, std::string>>& extra_files = {});

}  // namespace spikesim::sim
