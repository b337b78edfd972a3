#include "sim/run_model.hpp"

#include <filesystem>

#include "models/error.hpp"
#include "models/hdf5_file.hpp"
#include "models/trace.hpp"
#include "sim/llm_run.hpp"
#include "sim/text.hpp"
#include "sim/trace_run.hpp"

namespace spikesim::sim {

std::string_view name(ModelKind kind) {
  switch (kind) {
    case ModelKind::trace:
      return "trace";
    case ModelKind::llama2c:
      return "llama2c";
    case ModelKind::safetensors:
      return "safetensors";
  }
  return "?";
}

ModelKind detect_model_kind(const std::string& file) {
  if (!std::filesystem::exists(file)) throw models::ModelError(cat(file, ": file not found"));
  const std::string ext = std::filesystem::path(file).extension().string();
  if (ext == ".h5" || ext == ".hdf5") {
    const models::H5Reader h5(file);
    if (h5.has("/layers")) return ModelKind::trace;
  }
  if (is_hf_checkpoint(file)) return ModelKind::safetensors;
  if (is_llama2c_checkpoint(file)) return ModelKind::llama2c;
  throw models::ModelError(
      cat(file,
          ": not a model spikesim can run (expected an HDF5 activation trace with /layers, a llama2.c .bin "
          "checkpoint, or a directory / .safetensors file with config.json)"));
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
  const ModelKind kind = detect_model_kind(request.model);
  switch (kind) {
    case ModelKind::trace: {
      const models::Network network = models::load_trace(request.model);
      report.layers = run_trace(lower_trace(network), request.site);
      report.run = base_run_json(request, "trace");
      break;
    }
    case ModelKind::llama2c:
    case ModelKind::safetensors: {
      const LlmRunRequest llm{.model = request.model,
                              .tokenizer = request.tokenizer,
                              .text = {.prompt = request.prompt,
                                       .text_file = request.text_file,
                                       .tokens_file = request.tokens_file,
                                       .max_tokens = request.max_tokens},
                              .sites = request.sites,
                              .site = request.site};
      report = run_llm(llm);
      Json run = base_run_json(request, name(kind));
      run.update(report.run);
      report.run = run;
      break;
    }
  }
  return report;
}

}  // namespace spikesim::sim
