// spikesim account: stream tokens through a 7B-shaped decoder described by its config.json alone and count
// spikes, SOPs, MACs and energy per layer (sim/account.hpp), writing report.json + layers.csv.

#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>

#include "base/dist.hpp"
#include "base/files.hpp"
#include "base/text.hpp"
#include "models/error.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/report.hpp"
#include "sim/run/account.hpp"

namespace spikesim::sim {

namespace {

struct AccountArgs {
  std::string config;
  std::int64_t tokens = 4096;
  std::int64_t chunk = 256;
  std::int64_t sequence = 0;
  std::string activations = "synthetic";
  std::uint64_t seed = 1;
  double sigma = outlier_sigma_default;
  std::string generator = "auto";
  std::string coded;  // legacy --coded list of projections
  std::string sites = "default";
  std::string out;
  CodingArgs coding;
  std::vector<std::string> hardware;
  bool quiet = false;
};

// The legacy --coded list of projections (q, k, v, o, gate, up, down) as a site selection: a site is coded
// when one of its projections is listed (q alone codes the q|k|v input site).
std::string sites_of_projections(const std::string& list) {
  std::string out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    static const std::vector<std::string> known{"q", "k", "v", "o", "gate", "up", "down"};
    std::string role = item.size() > 5 && item.ends_with("_proj") ? item.substr(0, item.size() - 5) : item;
    if (std::find(known.begin(), known.end(), role) == known.end()) {
      throw UsageError(
          cat("--coded: unknown projection '", item, "' (expected q, k, v, o, gate, up or down)"));
    }
    out += (out.empty() ? "" : ",") + std::string("*.") + role + "_proj";
  }
  return out.empty() ? "none" : out;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

int run_account(const AccountArgs& a) {
  // Every rank checks the options; a failure on any rank stops them all. Rank 0 alone holds the lock on
  // --out and writes the report.
  std::optional<OutputLock> lock;  // a second run into the same --out fails here, before any work
  AccountRequest request;
  std::vector<energy::HardwareProfile> profiles;
  dist::all_or_none([&] {
    if (dist::rank() == 0) lock.emplace(a.out);
    check_finite_option(a.sigma, "--sigma");
    request.config = a.config;
    request.tokens = a.tokens;
    request.chunk_tokens = a.chunk;
    request.sequence_tokens = a.sequence;
    request.activations = a.activations;
    request.seed = a.seed;
    request.sigma = a.sigma;
    request.generator = a.generator;
    request.sites = a.coded.empty() ? a.sites : sites_of_projections(a.coded);
    request.site = site_config(a.coding);
    request.site.measure_output_error = false;
    profiles = load_profiles(a.hardware);  // fail on a bad profile before any work
  });
  Progress progress = distributed_progress("spikesim account", a.quiet);
  request.progress = &progress;

  const auto t0 = std::chrono::steady_clock::now();
  AccountResult result = account(request);
  progress.finish();
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (dist::rank() != 0) return 0;  // rank 0 holds the counters of every rank
  result.report.profiles = profiles;
  write_report(a.out, result.report);
  if (!a.quiet) {
    const SiteCounters total = total_counters(result.report.layers);
    const Json m = metrics_json(total);
    std::cout << "spikesim account: " << result.config.architecture << " (" << result.config.n_layers
              << " layers, hidden " << result.config.dim << "), " << result.tokens << " tokens in " << wall_s
              << " s = " << static_cast<double>(result.tokens) / wall_s << " tokens/s"
              << (dist::size() > 1 ? cat(" on ", dist::size(), " ranks") : std::string()) << ", peak RSS "
              << peak_rss_mib() << " MiB (stream buffers "
              << static_cast<double>(result.buffer_bytes) / (1024.0 * 1024.0) << " MiB)\n"
              << "  zero fraction " << m["zero_fraction"].get<double>() << ", " << m["spikes"] << " spikes, "
              << m["sops"] << " SOPs, " << m["uncoded_macs"] << " MACs left dense vs " << m["dense_macs"]
              << " dense MACs -> " << a.out << "/report.json\n";
  }
  return 0;
}

}  // namespace

void add_account_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<AccountArgs>();
  CLI::App* cmd = app.add_subcommand(
      "account",
      "Count spikes, SOPs, MACs and energy of a whole decoder from its config.json, streaming tokens");
  cmd->add_option(
         "--config", args->config,
         "Hugging Face config.json of a Llama/Qwen2-style decoder, a checkpoint directory, or a llama2.c "
         ".bin (only its shapes are read)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--tokens", args->tokens, "Tokens to account (0 with a trace: all it holds)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--chunk", args->chunk, "Tokens coded at once (bounds memory; T is set per chunk)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seq-len", args->sequence,
                  "Causal context per sequence (0: the tokens form one sequence)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--activations", args->activations,
                  "'synthetic' (outlier-channel generator) or an HDF5 trace with /layers/<name>/input")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Synthetic activations: seed")->capture_default_str();
  cmd->add_option("--sigma", args->sigma,
                  "Synthetic activations (outlier generator): log-std of the channel scales")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option(
         "--generator", args->generator,
         "Synthetic activations: auto (the mixture fitted to SpikingBrain's statistics for SpikingBrain "
         "configs, data/configs/spikingbrain_activation_generator.json; else outlier), outlier, or a "
         "generator JSON file")
      ->capture_default_str();
  cmd->add_option(
         "--sites", args->sites,
         "Spike-coded sites, as for run: glob patterns over site or projection names, !PATTERN, default, "
         "all, none, qkv, o, gateup, down, spikingbrain")
      ->capture_default_str();
  cmd->add_option(
         "--coded", args->coded,
         "Older form of --sites: comma list of projections q,k,v,o,gate,up,down (a site is coded when one "
         "of its projections is listed)")
      ->excludes(cmd->get_option("--sites"));
  cmd->add_option("--out", args->out, "Output directory for report.json and layers.csv")->required();
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success");
  add_coding_options(*cmd, args->coding);
  add_hardware_option(*cmd, args->hardware);
  cmd->callback([args, &action] { action = [args] { return run_account(*args); }; });
}

}  // namespace spikesim::sim
