#include "sim/run/run_model.hpp"

#include <filesystem>

#include "base/text.hpp"
#include "energy/estimate.hpp"
#include "models/error.hpp"
#include "models/hdf5_file.hpp"
#include "models/keras.hpp"
#include "models/onnx.hpp"
#include "models/trace.hpp"
#include "sim/run/eval.hpp"
#include "sim/run/llm_run.hpp"
#include "sim/run/trace_run.hpp"

namespace spikesim::sim {

std::string_view name(ModelKind kind) {
  switch (kind) {
    case ModelKind::trace:
      return "trace";
    case ModelKind::llama2c:
      return "llama2c";
    case ModelKind::safetensors:
      return "safetensors";
    case ModelKind::onnx:
      return "onnx";
    case ModelKind::keras:
      return "keras";
  }
  return "?";
}

ModelKind detect_model_kind(const std::string& file) {
  if (!std::filesystem::exists(file)) throw models::ModelError(cat(file, ": file not found"));
  const std::string ext = std::filesystem::path(file).extension().string();
  if (ext == ".onnx") return ModelKind::onnx;
  if (ext == ".keras") {
    throw models::ModelError(cat(file,
                                 ": Keras 3 .keras archives are not supported; save the model as HDF5 "
                                 "(model.save(\"model.h5\")) or export it to ONNX"));
  }
  if (ext == ".h5" || ext == ".hdf5") {
    const models::H5Reader h5(file);
    if (h5.has("/layers")) return ModelKind::trace;
    if (h5.has_attribute("/", "model_config")) return ModelKind::keras;
    throw models::ModelError(cat(file,
                                 ": HDF5 file is neither a spikesim trace (/layers) nor a Keras model "
                                 "(root attribute model_config; a weights-only file has no architecture)"));
  }
  if (is_hf_checkpoint(file)) return ModelKind::safetensors;
  if (is_llama2c_checkpoint(file)) return ModelKind::llama2c;
  throw models::ModelError(cat(
      file,
      ": not a model spikesim can run (expected an HDF5 activation trace with /layers, a Keras .h5 model, "
      "an .onnx model, a llama2.c .bin checkpoint, or a directory / .safetensors file with config.json)"));
}

namespace {

Json base_run_json(const RunRequest& r, std::string_view kind) {
  Json run{{"command", r.command}, {"model_kind", kind}, {"source", r.model}};
  add_coding_json(run, r.site);
  run["engine"] = r.site.engine == Engine::reference ? "reference" : "fast";
  return run;
}

Json list_json(const std::vector<std::string>& names) {
  Json j = Json::array();
  for (const auto& n : names)
    j.push_back(n);
  return j;
}

ReportInput run_network(const RunRequest& request, ModelKind kind) {
  if (request.images.empty()) {
    throw models::ModelError(cat(request.model, ": a ", name(kind),
                                 " model runs on a dataset: give --images (IDX, "
                                 "e.g. t10k-images-idx3-ubyte.gz)"));
  }
  const models::Network network =
      kind == ModelKind::onnx ? models::load_onnx(request.model) : models::load_keras(request.model);
  const Plan plan = lower_network(network, request.lower);
  const models::Dataset data = models::load_idx_dataset(request.images, request.labels, request.limit);
  const std::int64_t classes = plan.sample_output_size();
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] >= classes) {
      throw models::ModelError(cat(data.labels_file, ": label ", data.labels[i], " of sample ", i,
                                   " is beyond the ", classes, " outputs of ", request.model));
    }
  }
  models::Preprocess pre = request.preprocess;
  if (!request.layout_given)
    pre.layout = kind == ModelKind::keras ? models::Layout::nhwc : models::Layout::nchw;
  const EvalResult result = evaluate(plan, data, pre, request.site, request.observer);

  ReportInput report;
  report.layers = result.records;
  report.run = base_run_json(request, name(kind));
  report.run["images"] = data.images_file;
  report.run["labels"] = data.labels_file.empty() ? Json(nullptr) : Json(data.labels_file);
  report.run["samples"] = data.samples;
  report.run["input"] = {{"name", plan.input_name}, {"shape", plan.input_shape}};
  report.run["batch"] = plan.batch;
  report.run["tokens_per_call"] =
      energy::tokens_per_call(energy::RunKind::eval, 0, 0, static_cast<std::uint64_t>(plan.batch));
  report.run["preprocess"] = {
      {"scale", pre.scale}, {"mean", pre.mean}, {"std", pre.std}, {"layout", models::name(pre.layout)}};
  report.run["code_input_layer"] = request.lower.sites.code_input_layer;
  report.run["coded_sites"] = list_json(plan.sites(true));
  report.run["dense_sites"] = list_json(plan.sites(false));
  report.run["granularity_note"] =
      "thresholds per sample: a conv site's row is one sample's whole input map, a linear site's rows are "
      "the "
      "sample's tokens (one row after a flatten)";
  report.extra["accuracy"] = accuracy_json(result, data);
  return report;
}

}  // namespace

ReportInput run_model(const RunRequest& request) {
  ReportInput report;
  const ModelKind kind = detect_model_kind(request.model);
  switch (kind) {
    case ModelKind::trace: {
      if (!request.images.empty() || !request.labels.empty())
        throw models::ModelError(
            cat(request.model, ": --images / --labels apply to ONNX and Keras models, not traces"));
      const models::Network network = models::load_trace(request.model);
      report.layers =
          run_trace(lower_network(network, request.lower), request.site, request.progress, request.observer);
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
                                       .max_tokens = request.max_tokens,
                                       .no_bos = request.no_bos},
                              .sites = request.lower.sites.spec,
                              .site = request.site,
                              .observer = request.observer};
      report = run_llm(llm);
      Json run = base_run_json(request, name(kind));
      run.update(report.run);
      report.run = run;
      break;
    }
    case ModelKind::onnx:
    case ModelKind::keras:
      report = run_network(request, kind);
      break;
  }
  if (request.site.raster) report.raster = request.site.raster->raster();
  return report;
}

}  // namespace spikesim::sim
