#pragma once
// One entry point for every model path: `spikesim run` and sweeps call run_model(), which recognises the
// file and runs the matching path (HDF5 trace, LLM checkpoint, ...). Each path fills the same ReportInput.

#include <string>

#include "models/idx.hpp"
#include "sim/net_plan.hpp"
#include "sim/report.hpp"
#include "sim/site.hpp"

namespace spikesim::sim {

struct RunRequest {
  std::string model;  // file to run: an HDF5 activation trace, an ONNX model, a Keras HDF5 model, ...
  SiteConfig site;    // neuron, coding and engine of every coded site
  // General networks (ONNX, Keras): the dataset the model runs on (IDX images, optional labels).
  std::string images;
  std::string labels;
  models::Preprocess preprocess;  // scale, mean/std; layout is the model's own unless layout_given
  bool layout_given = false;
  std::int64_t limit = 0;       // first N samples; 0: all
  LowerOptions lower;           // batch, code_input_layer, dense_sites
  std::string command = "run";  // recorded in the report
};

enum class ModelKind { trace, onnx, keras };
std::string_view name(ModelKind kind);

// What kind of input `file` is (by content where possible, else by extension); ModelError if unknown.
ModelKind detect_model_kind(const std::string& file);

// Runs the request and returns the report without profiles (the caller adds hardware and writes it).
ReportInput run_model(const RunRequest& request);

}  // namespace spikesim::sim
