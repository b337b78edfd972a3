#include "sim/run_model.hpp"

#include <filesystem>

#include "models/error.hpp"
#include "models/hdf5_file.hpp"
#include "models/trace.hpp"
#include "sim/text.hpp"
#include "sim/trace_run.hpp"

namespace spikesim::sim {

ModelKind detect_model_kind(const std::string& file) {
  if (!std::filesystem::exists(file)) throw models::ModelError(cat(file, ": file not found"));
  const std::string ext = std::filesystem::path(file).extension().string();
  if (ext == ".h5" || ext == ".hdf5") {
    const models::H5Reader h5(file);
    if (h5.has("/layers")) return ModelKind::trace;
  }
  throw models::ModelError(
      cat(file, ": not a model spikesim can run (expected an HDF5 activation trace with /layers)"));
}

namespace {

Json base_run_json(const RunRequest& r, std::string_view kind) {
  const SiteConfig& c = r.site;
  return Json{{"command", "run"},
              {"model_kind", kind},
              {"source", r.model},
              {"coding", coding::name(c.coding.scheme)},
              {"neuron", neurons::name(c.neuron.kind)},
              {"k", c.neuron.k},
              {"granularity", neurons::name(c.neuron.granularity)},
              {"fixed_T", c.coding.steps ? Json(*c.coding.steps) : Json(nullptr)},
              {"saturate", c.coding.saturate},
              {"engine", c.engine == Engine::reference ? "reference" : "fast"}};
}

}  // namespace

ReportInput run_model(const RunRequest& request) {
  ReportInput report;
  switch (detect_model_kind(request.model)) {
    case ModelKind::trace: {
      const models::Network network = models::load_trace(request.model);
      report.layers = run_trace(lower_trace(network), request.site, request.progress);
      report.run = base_run_json(request, "trace");
      break;
    }
  }
  if (request.site.raster) report.raster = request.site.raster->raster();
  return report;
}

}  // namespace spikesim::sim
