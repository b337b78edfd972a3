// spikesim compare: sweep models x codings x k x hardware profiles in one command (sim/compare.hpp).

#include <iostream>
#include <optional>

#include "base/dist.hpp"
#include "base/files.hpp"
#include "coding/scheme.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/compare.hpp"

namespace spikesim::sim {

namespace {

struct CompareArgs {
  std::vector<std::string> models;
  std::vector<std::string> codings = {"ternary"};
  std::vector<double> ks = {3.0};
  std::string out;
  CodingArgs coding;
  std::vector<std::string> hardware;
  LlmTextArgs text;
  DatasetArgs dataset;
  bool force = false;
  bool quiet = false;
};

int compare(const CompareArgs& a) {
  // A second sweep into the same --out fails here, before any work. On several MPI ranks rank 0 holds the
  // lock for all of them (the others write only their own cells).
  // Every rank checks the options; a failure on any rank stops them all.
  std::optional<OutputLock> lock;
  CompareRequest r;
  dist::all_or_none([&] {
    if (dist::rank() == 0) lock.emplace(a.out);
    r.models = a.models;
    for (const auto& c : a.codings)
      r.codings.push_back(coding::parse_scheme(c));
    r.ks = a.ks;
    r.site = site_config(a.coding);
    apply_llm_text_args(a.text, r.base);
    apply_dataset_args(a.dataset, r.base);
    r.profiles = load_profiles(a.hardware);  // fail on a bad profile before any work
    r.out = a.out;
    r.force = a.force;
  });
  Progress progress = distributed_progress("spikesim compare", a.quiet);
  r.progress = &progress;
  const CompareSummary s = run_compare(r);
  progress.finish();
  if (!a.quiet && dist::rank() == 0) {
    std::cout << "spikesim compare: " << s.cells << " cells (" << s.ran << " run, " << s.reused
              << " already done) x " << r.profiles.size() << " profiles -> " << a.out
              << "/compare.{csv,json,md}";
    if (dist::size() > 1) {
      std::cout << " on " << dist::size() << " ranks (cells per rank:";
      for (const auto n : s.cells_per_rank)
        std::cout << " " << n;
      std::cout << "; merge " << s.merge_s << " s)";
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void add_compare_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Sweep models x codings x k x hardware profiles; resumable; writes compare.csv/json/md");
  cmd->add_option("--model,--trace", args->models, "Model to run (repeatable): anything `spikesim run` takes")
      ->required()
      ->check(CLI::ExistingPath);
  // The shared coding options, with --coding and --k turned into lists to sweep.
  add_coding_options(*cmd, args->coding);
  cmd->remove_option(cmd->get_option("--coding"));
  cmd->remove_option(cmd->get_option("--k"));
  cmd->add_option("--coding,--codings", args->codings,
                  "Coding schemes to sweep (comma-separated or repeated)")
      ->delimiter(',')
      ->check(CLI::IsMember({"binary", "ternary", "bitwise", "bitwise-unsigned", "bitwise-twos"}))
      ->capture_default_str();
  cmd->add_option("--k,--ks", args->ks, "Threshold divisors k to sweep (comma-separated or repeated)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output directory (cells/ and compare.csv, .json, .md)")->required();
  cmd->add_flag("--force", args->force, "Run every cell again, even those already done in --out");
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success (no progress either)");
  add_hardware_option(*cmd, args->hardware);
  add_llm_text_options(*cmd, args->text);
  add_dataset_options(*cmd, args->dataset, false);
  cmd->callback([args, &action] { action = [args] { return compare(*args); }; });
}

}  // namespace spikesim::sim
