#include "sim/cli/cli.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "base/dist.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "coding/scheme.hpp"
#include "sim/run/run_model.hpp"

namespace spikesim::sim {

void add_coding_options(CLI::App& cmd, CodingArgs& args) {
  cmd.add_option("--coding", args.coding, "Spike coding scheme")
      ->check(CLI::IsMember({"binary", "ternary", "bitwise", "bitwise-unsigned", "bitwise-twos"}))
      ->capture_default_str();
  cmd.add_option("--k", args.k, "Adaptive threshold divisor: V_th = mean|x| / k")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--neuron", args.neuron, "Neuron model that turns activations into spike counts")
      ->check(CLI::IsMember({"adaptive", "lif", "ilif"}))
      ->capture_default_str();
  cmd.add_option("--granularity", args.granularity, "Threshold per token row or per whole tensor")
      ->check(CLI::IsMember({"row", "tensor"}))
      ->capture_default_str();
  cmd.add_option("--T", args.steps,
                 "Fixed number of virtual time steps (default: fewest that fit the tensor)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("--saturate", args.saturate,
               "Clip counts a fixed --T cannot carry (counted) instead of failing");
  cmd.add_option("--v-th", args.v_th, "Fixed threshold instead of the adaptive one")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--lif-beta", args.lif_beta, "LIF: membrane kept per step (1 = no leak)")
      ->capture_default_str();
  cmd.add_option("--lif-steps", args.lif_steps, "LIF: virtual steps")->capture_default_str();
  cmd.add_option("--ilif-d", args.ilif_max_count, "I-LIF: largest integer count D")->capture_default_str();
  cmd.add_option("--engine", args.engine, "Event delivery: fast (batched by presynaptic neuron) or reference")
      ->check(CLI::IsMember({"fast", "reference"}))
      ->capture_default_str();
}

void check_finite_option(double value, const char* option) {
  if (!std::isfinite(value)) throw UsageError(cat(option, ": ", value, " is not a finite number"));
}

SiteConfig site_config(const CodingArgs& args) {
  // CLI11's number checks let nan and inf through (nan < 0 is false): every value is checked here, naming the
  // option, before it can silently mean "adaptive" or poison the counts.
  check_finite_option(args.k, "--k");
  check_finite_option(args.v_th, "--v-th");
  check_finite_option(args.lif_beta, "--lif-beta");
  SiteConfig c;
  c.neuron.kind = neurons::parse_neuron_kind(args.neuron);
  c.neuron.k = args.k;
  c.neuron.granularity = neurons::parse_granularity(args.granularity);
  if (args.v_th > 0.0) c.neuron.v_th = args.v_th;
  c.neuron.lif_beta = args.lif_beta;
  c.neuron.lif_steps = args.lif_steps;
  c.neuron.ilif_max_count = args.ilif_max_count;
  neurons::validate(c.neuron);
  c.coding.scheme = coding::parse_scheme(args.coding);
  if (args.steps > 0) c.coding.steps = args.steps;
  c.coding.saturate = args.saturate;
  c.engine = args.engine == "reference" ? Engine::reference : Engine::fast;
  return c;
}

void add_llm_text_options(CLI::App& cmd, LlmTextArgs& args) {
  cmd.add_option(
         "--tokenizer", args.tokenizer,
         "LLM: llama2.c tokenizer .bin or Hugging Face tokenizer.json (default: the one beside the model)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--prompt", args.prompt, "LLM: text to run (tokenized with BOS / the tokenizer's template)");
  cmd.add_option("--text-file", args.text_file, "LLM: file with the text to run (its final newline dropped)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--tokens", args.tokens_file,
                 "LLM: file of token ids (whitespace or comma separated) instead of text")
      ->check(CLI::ExistingFile);
  cmd.add_option("--max-tokens", args.max_tokens, "LLM: keep only the first N tokens")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("--no-bos", args.no_bos,
               "LLM: tokenize without BOS (llama2.c) / the post-processor's special tokens (tokenizer.json)");
  cmd.add_option(
         "--sites", args.sites,
         "Spike-coded sites, comma-separated, applied in order: glob patterns over site or projection "
         "names (e.g. '*.attn_in', '*.q_proj'), '!PATTERN' to leave dense, default, all, none; LLM "
         "shorthands qkv (q|k|v input), o, gateup (gate|up input), down, spikingbrain")
      ->capture_default_str();
}

void apply_llm_text_args(const LlmTextArgs& args, RunRequest& request) {
  request.tokenizer = args.tokenizer;
  request.prompt = args.prompt;
  request.text_file = args.text_file;
  request.tokens_file = args.tokens_file;
  request.max_tokens = args.max_tokens;
  request.no_bos = args.no_bos;
  request.lower.sites.spec = args.sites;
}

void add_dataset_options(CLI::App& cmd, DatasetArgs& args, bool required) {
  auto* images =
      cmd.add_option("--images", args.images, "IDX images (gzip or plain), e.g. t10k-images-idx3-ubyte.gz")
          ->check(CLI::ExistingFile);
  auto* labels = cmd.add_option("--labels", args.labels, "IDX labels matching --images (for accuracy)")
                     ->check(CLI::ExistingFile);
  if (required) {
    images->required();
    labels->required();
  }
  cmd.add_option("--scale", args.scale, "Multiply raw pixels by this: a number or a ratio like 1/255")
      ->capture_default_str();
  cmd.add_option("--mean", args.mean, "Subtract after scaling: one value, or one per channel")
      ->delimiter(',');
  cmd.add_option("--std", args.std, "Divide by after subtracting the mean: one value, or one per channel")
      ->delimiter(',');
  cmd.add_option("--layout", args.layout,
                 "Layout of the model input (default: nchw for ONNX, nhwc for Keras)")
      ->check(CLI::IsMember({"nchw", "nhwc"}));
  cmd.add_option("--limit", args.limit, "Use the first N samples (default: all)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--batch", args.batch,
                 "Samples per run of the plan when the model's batch is dynamic (results are per sample)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_flag("--code-input-layer", args.code_input_layer,
               "Also spike-code the input layer (the sites fed by the raw input; dense by default)");
  cmd.add_option("--dense-site", args.dense_sites, "Leave this synaptic site (op name) dense; repeatable");
}

void apply_dataset_args(const DatasetArgs& args, RunRequest& request) {
  request.images = args.images;
  request.labels = args.labels;
  request.preprocess.scale = models::parse_scale(args.scale);
  request.preprocess.mean = args.mean;
  request.preprocess.std = args.std;
  request.layout_given = !args.layout.empty();
  if (request.layout_given) request.preprocess.layout = models::parse_layout(args.layout);
  request.limit = args.limit;
  if (args.batch > max_batch)
    throw UsageError(
        cat("--batch ", args.batch, " is more than the limit of ", max_batch, " samples per run"));
  for (const double v : args.mean)
    check_finite_option(v, "--mean");
  for (const double v : args.std)
    check_finite_option(v, "--std");
  request.lower.batch = args.batch;
  request.lower.sites.code_input_layer = args.code_input_layer;
  request.lower.sites.dense_sites = args.dense_sites;
}

void add_hardware_option(CLI::App& cmd, std::vector<std::string>& names) {
  std::string defaults;
  for (const auto& n : energy::default_profile_names())
    defaults += (defaults.empty() ? "" : ", ") + n;
  cmd.add_option("--hardware", names,
                 "Hardware profile name (data/hardware/NAME.json) or file; repeatable. Default: " + defaults);
}

std::vector<energy::HardwareProfile> load_profiles(const std::vector<std::string>& names) {
  const std::vector<std::string> chosen = names.empty() ? energy::default_profile_names() : names;
  std::vector<energy::HardwareProfile> out;
  out.reserve(chosen.size());
  for (const auto& n : chosen)
    out.push_back(energy::find_profile(n, energy::data_dir()));
  return out;
}

Progress distributed_progress(std::string label, bool quiet) {
  const bool shown = !quiet && dist::rank() == 0 && (dist::size() > 1 || ::isatty(STDERR_FILENO) == 1);
  return {std::move(label), std::cerr, shown};
}

namespace {

// The command line of every entry point: the subcommands, --threads, and the action parsing chose.
struct CommandLine {
  CLI::App app{"spikesim: spike-coding simulator and neuromorphic energy estimator"};
  int threads = 0;
  Action action;
  CommandLine(const CommandLine&) = delete;  // the commands' callbacks hold references to `action`
  CommandLine& operator=(const CommandLine&) = delete;
  CommandLine() {
    app.require_subcommand(1);
    app.add_option("--threads", threads, "Worker threads (default: all cores); results do not depend on it")
        ->check(CLI::NonNegativeNumber);
    add_run_command(app, action);
    add_encode_command(app, action);
    add_generate_command(app, action);
    add_tokenize_command(app, action);
    add_convert_command(app, action);
    add_eval_command(app, action);
    add_account_command(app, action);
    add_compare_command(app, action);
    add_report_command(app, action);
  }
};

// The subcommand of an argument list (for messages): its first argument that is not an option or the value
// of --threads.
std::string command_of(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--threads") {
      ++i;
    } else if (args[i].rfind('-', 0) != 0) {
      return args[i];
    }
  }
  return "(no command)";
}

}  // namespace

int cli_main(int argc, char** argv) {
  CommandLine cli;
  try {
    cli.app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.app.exit(e);
  }
  // Only compare (cells) and account (chunks of tokens) spread their work over MPI ranks; any other command
  // on several ranks would run N times into the same --out.
  if (dist::size() > 1) {
    const auto chosen = cli.app.get_subcommands();
    const std::string name = chosen.empty() ? std::string("?") : chosen.front()->get_name();
    if (name != "compare" && name != "account") {
      if (dist::rank() == 0) {
        std::cerr
            << "spikesim: error: `spikesim " << name << "` runs as one process, not on " << dist::size()
            << " MPI ranks (only compare and account are distributed); start it without mpirun / srun\n";
      }
      return 1;
    }
  }
  if (cli.threads > 0) {
    omp_set_num_threads(cli.threads);
  } else if (dist::local_size() > 1 &&
             std::getenv("OMP_NUM_THREADS") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
    // Ranks sharing a host share its cores: each takes its part instead of all of them.
    omp_set_num_threads(std::max(1, omp_get_num_procs() / dist::local_size()));
  }
  // With several ranks every message names the rank it comes from.
  const std::string who = dist::size() > 1 ? cat("rank ", dist::rank(), ": ") : std::string();
  try {
    return cli.action();
  } catch (const dist::PeerFailed& e) {
    // Another rank failed and prints its own error: give it time to do so before this exit makes the
    // launcher kill the job (mpirun stops every rank as soon as one exits with a failure status).
    std::cerr << "spikesim: error: " << who << e.what() << "\n";
    std::this_thread::sleep_for(std::chrono::seconds(3));
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "spikesim: error: " << who << "out of memory\n";
    return 1;
  } catch (const InternalError& e) {
    std::cerr << "spikesim: internal error (a bug: please report it with the command line): " << who
              << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "spikesim: error: " << who << e.what() << "\n";
    return 1;
  }
}

void cli_call(const std::vector<std::string>& args) {
  CommandLine cli;
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    cli.app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UsageError(cat("spikesim ", command_of(args), ": ", e.what()));
  }
  if (cli.threads > 0) omp_set_num_threads(cli.threads);
  const int status = cli.action();
  if (status != 0) {
    throw UsageError(cat("spikesim ", command_of(args), ": exited with status ", status));
  }
}

}  // namespace spikesim::sim
