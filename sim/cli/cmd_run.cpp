// spikesim run: spike-code a network, count every operation, estimate energy, write report.json + layers.csv.

#include <iostream>
#include <memory>
#include <stdexcept>

#include "base/files.hpp"
#include "base/progress.hpp"
#include "base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/report.hpp"
#include "sim/run/activations.hpp"
#include "sim/run/run_model.hpp"
#include "sim/site/raster.hpp"

namespace spikesim::sim {

namespace {

struct RunArgs {
  std::string model;
  std::string out;
  LlmTextArgs text;
  CodingArgs coding;
  std::vector<std::string> hardware;
  DatasetArgs dataset;
  bool quiet = false;
  std::string raster_site;  // empty: the first coded site
  std::int64_t raster_token = 0;
  bool no_raster = false;
  std::string save_activations;  // FILE.h5: the input of every coded site
  std::string dump_logits;       // FILE.json: LLM logits of the dense and the spiking run
};

// {"dense": [[...] per position], "spiking": [[...]]}, float32 values written exactly (shortest round trip).
std::string logits_json(const ReportInput::Logits& l) {
  const auto rows = [&](const std::vector<float>& v) {
    Json out = Json::array();
    const auto vocab = static_cast<std::size_t>(l.vocab);
    for (std::size_t r = 0; r * vocab < v.size(); ++r)
      out.push_back(std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(r * vocab),
                                       v.begin() + static_cast<std::ptrdiff_t>((r + 1) * vocab)));
    return out;
  };
  return Json{{"dense", rows(l.dense)}, {"spiking", rows(l.spiking)}}.dump() + "\n";
}

int run(const RunArgs& a) {
  const OutputLock lock(a.out);  // a second run into the same --out fails here, before any work
  RunRequest request;
  request.model = a.model;
  request.site = site_config(a.coding);
  apply_llm_text_args(a.text, request);
  apply_dataset_args(a.dataset, request);
  if (!a.no_raster) request.site.raster = std::make_shared<RasterCapture>(a.raster_site, a.raster_token);
  const auto profiles = load_profiles(a.hardware);  // fail on a bad profile before any work
  Progress progress = Progress::for_terminal("spikesim run", a.quiet);
  request.progress = &progress;
  ActivationRecorder recorder;
  if (!a.save_activations.empty()) request.observer = recorder.observer();
  ReportInput report = run_model(request);
  progress.finish();
  if (!a.dump_logits.empty() && !report.logits)
    throw std::invalid_argument(cat("--dump-logits: ", a.model, " is not an LLM (no logits to write)"));
  if (request.site.raster && !report.raster && (!a.raster_site.empty() || a.raster_token != 0)) {
    const auto& r = *request.site.raster;
    throw std::invalid_argument(
        r.rows_seen() == 0 ? cat("--raster-site '", a.raster_site, "': no coded site of that name ran")
                           : cat("--raster-token ", a.raster_token, ": site '",
                                 a.raster_site.empty() ? "(first)" : a.raster_site, "' coded only ",
                                 r.rows_seen(), " tokens (valid: 0..", r.rows_seen() - 1, ")"));
  }
  report.profiles = profiles;
  if (!a.save_activations.empty()) recorder.write(a.save_activations, a.model);
  if (!a.dump_logits.empty()) write_file_atomic(a.dump_logits, logits_json(*report.logits));
  write_report(a.out, report);
  if (!a.quiet) {
    const Json totals = metrics_json(total_counters(report.layers));
    std::cout << "spikesim run: " << report.layers.size() << " layers, zero fraction "
              << totals["zero_fraction"].get<double>() << ", " << totals["sops"] << " SOPs vs "
              << totals["dense_macs"] << " dense MACs -> " << a.out << "/report.json\n";
    if (report.extra.contains("fidelity")) {
      const Json& f = report.extra["fidelity"];
      std::cout << "fidelity over " << f["positions"] << " positions: top-1 agreement "
                << f["top1_agreement"].get<double>() << ", KL(dense||spiking) "
                << f["mean_kl_nats"].get<double>() << " nats, perplexity dense "
                << f["perplexity_dense"].get<double>() << " / spiking "
                << f["perplexity_spiking"].get<double>() << "\n";
    }
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Spike-code a network, count operations and estimate energy");
  cmd->add_option(
         "--model,--trace", args->model,
         "Model to run: HDF5 activation trace (README: trace format), llama2.c .bin checkpoint, a "
         "directory / .safetensors file with config.json (LlamaForCausalLM, Qwen2ForCausalLM), or an "
         "ONNX / Keras .h5 model (these need --images)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--out", args->out, "Output directory for report.json and layers.csv")->required();
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success (no progress either)");
  cmd->add_option("--raster-site", args->raster_site,
                  "Site whose spikes for one token go to raster.json (default: the first coded site)");
  cmd->add_option("--raster-token", args->raster_token, "Token (row) of the raster site to keep")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--no-raster", args->no_raster, "Do not write raster.json");
  cmd->add_option(
      "--dump-logits", args->dump_logits,
      "LLM: also write the teacher-forced logits of the dense and the spiking run to this JSON file "
      "({\"dense\": [[...] per position], \"spiking\": [[...]]})");
  cmd->add_option("--save-activations", args->save_activations,
                  "Also write the input of every coded site (as the spiking run coded it) to this HDF5 file, "
                  "in the trace layout `spikesim account --activations` reads");
  add_coding_options(*cmd, args->coding);
  add_hardware_option(*cmd, args->hardware);
  add_llm_text_options(*cmd, args->text);
  add_dataset_options(*cmd, args->dataset, false);
  cmd->callback([args, &action] { action = [args] { return run(*args); }; });
}

}  // namespace spikesim::sim
