// spikesim eval: dense and spiking accuracy of an ONNX / Keras classifier on an IDX dataset, with the
// per-layer statistics and energy of `spikesim run` and an `accuracy` object in report.json.

#include <iostream>

#include "base/files.hpp"
#include "base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/report.hpp"
#include "sim/run/run_model.hpp"

namespace spikesim::sim {

namespace {

struct EvalArgs {
  std::string model;
  std::string out;
  CodingArgs coding;
  std::vector<std::string> hardware;
  DatasetArgs dataset;
  bool quiet = false;
};

int eval(const EvalArgs& a) {
  const OutputLock lock(a.out);  // a second run into the same --out fails here, before any work
  RunRequest request;
  request.model = a.model;
  request.command = "eval";
  request.site = site_config(a.coding);
  apply_dataset_args(a.dataset, request);
  if (detect_model_kind(a.model) == ModelKind::trace) {
    throw models::ModelError(
        cat(a.model, ": eval needs a classifier (ONNX or Keras .h5), not an activation trace"));
  }
  const auto profiles = load_profiles(a.hardware);  // fail on a bad profile before any work
  ReportInput report = run_model(request);
  report.profiles = profiles;
  write_report(a.out, report);
  if (!a.quiet) {
    const Json& acc = report.extra["accuracy"];
    const Json totals = metrics_json(total_counters(report.layers));
    std::cout << "spikesim eval: " << acc["samples"] << " samples, dense top-1 "
              << 100.0 * acc["dense"]["top1"].get<double>() << " %, spiking top-1 "
              << 100.0 * acc["spiking"]["top1"].get<double>() << " % ("
              << report.run["coding"].get<std::string>() << ", k = " << report.run["k"] << "), agreement "
              << 100.0 * acc["agreement"].get<double>() << " %, " << totals["sops"] << " SOPs -> " << a.out
              << "/report.json\n";
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Dense and spiking accuracy of an ONNX / Keras classifier on an IDX dataset, with counters and energy");
  cmd->add_option("--model", args->model, "ONNX model (.onnx) or Keras model (.h5)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output directory for report.json and layers.csv")->required();
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success");
  add_dataset_options(*cmd, args->dataset, true);
  add_coding_options(*cmd, args->coding);
  add_hardware_option(*cmd, args->hardware);
  cmd->callback([args, &action] { action = [args] { return eval(*args); }; });
}

}  // namespace spikesim::sim
