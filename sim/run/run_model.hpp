#pragma once
// One entry point for every model path: `spikesim run` and sweeps call run_model(), which recognises the
// file and runs the matching path (HDF5 trace, LLM checkpoint, ...). Each path fills the same ReportInput.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/progress.hpp"
#include "models/idx.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/execute.hpp"
#include "sim/run/result.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

struct RunRequest {
  std::string model;  // file to run: HDF5 trace, LLM checkpoint, ONNX model, Keras HDF5 model
  SiteConfig site;    // neuron, coding and engine of every coded site (site.raster: capture one token)
  // --- LLM checkpoints (llama2.c .bin, or config.json + model.safetensors)
  std::string tokenizer;        // llama2.c .bin or tokenizer.json; default: the one beside the model
  std::string prompt;           // text to run teacher-forced, or
  std::string text_file;        // a file holding it, or
  std::string tokens_file;      // token ids
  std::int64_t max_tokens = 0;  // > 0: keep the first max_tokens tokens
  bool no_bos = false;          // --no-bos: no BOS / post-processor special tokens around the text
  // --- General networks (ONNX, Keras): the dataset the model runs on (IDX images, optional labels).
  std::string images;
  std::string labels;
  models::Preprocess preprocess;  // scale, mean/std; layout is the model's own unless layout_given
  bool layout_given = false;
  std::int64_t limit = 0;        // first N samples; 0: all
  LowerOptions lower;            // batch, and the coded sites (sim/plan/select.hpp) of every model kind
  std::string command = "run";   // recorded in the report
  Progress* progress = nullptr;  // optional: advanced per layer / token / sample by the path that runs
  SiteObserver observer;         // optional: sees the input of every coded site (run --save-activations)
};

enum class ModelKind { trace, llama2c, safetensors, onnx, keras };
std::string_view name(ModelKind kind);

// What kind of input `file` is (by content where possible, else by extension); ModelError if unknown.
ModelKind detect_model_kind(const std::string& file);

// Runs the request and returns the report without profiles (the caller adds hardware and writes it).
// When request.site.raster is set, report.raster holds what it captured.
ReportInput run_model(const RunRequest& request);

}  // namespace spikesim::sim
