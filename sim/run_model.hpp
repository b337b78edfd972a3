#pragma once
// One entry point for every model path: `spikesim run` and sweeps call run_model(), which recognises the
// file and runs the matching path (HDF5 trace, LLM checkpoint, ...). Each path fills the same ReportInput.

#include <string>

#include "sim/progress.hpp"
#include "sim/report.hpp"
#include "sim/site.hpp"

namespace spikesim::sim {

struct RunRequest {
  std::string model;  // file to run: an HDF5 activation trace, ...
  SiteConfig site;    // neuron, coding and engine of every coded site (site.raster: capture one token)
  Progress* progress = nullptr;  // optional: advanced per layer / token / sample by the path that runs
};

enum class ModelKind { trace };

// What kind of input `file` is (by content where possible, else by extension); ModelError if unknown.
ModelKind detect_model_kind(const std::string& file);

// Runs the request and returns the report without profiles (the caller adds hardware and writes it).
// When request.site.raster is set, report.raster holds what it captured.
ReportInput run_model(const RunRequest& request);

}  // namespace spikesim::sim
