#pragma once
// The spikesim command line (CLI11): a thin edge that fills plain config structs and calls the library.
// Each subcommand lives in its own cmd_*.cpp and registers itself through add_*_command().

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "energy/profile.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// Options every spike-coding command shares.
struct CodingArgs {
  std::string coding = "ternary";
  double k = 3.0;
  std::string neuron = "adaptive";
  std::string granularity = "row";
  std::int32_t steps = 0;  // 0: from the tensor's largest count
  bool saturate = false;
  double v_th = 0.0;  // 0: adaptive threshold
  double lif_beta = 1.0;
  int lif_steps = 16;
  int ilif_max_count = 4;
  std::string engine = "fast";
};

void add_coding_options(CLI::App& cmd, CodingArgs& args);
// UsageError "<option>: nan is not a finite number" unless `value` is finite.
void check_finite_option(double value, const char* option);
SiteConfig site_config(const CodingArgs& args);

// --hardware NAME|FILE (repeatable); the default profile set when none is given.
void add_hardware_option(CLI::App& cmd, std::vector<std::string>& names);
std::vector<energy::HardwareProfile> load_profiles(const std::vector<std::string>& names);

// Options of LLM checkpoints run on a text: --tokenizer, --prompt, --text-file, --tokens, --max-tokens,
// --no-bos, --sites. Shared by `run` and `compare`.
struct LlmTextArgs {
  std::string tokenizer;
  std::string prompt;
  std::string text_file;
  std::string tokens_file;
  std::int64_t max_tokens = 0;
  bool no_bos = false;
  std::string sites = "default";
};
void add_llm_text_options(CLI::App& cmd, LlmTextArgs& args);
// Options of general networks (ONNX, Keras) run on a dataset: shared by `run` and `eval`.
struct DatasetArgs {
  std::string images;
  std::string labels;
  std::string scale = "1";
  std::vector<double> mean;
  std::vector<double> std;
  std::string layout;  // empty: the model's own (ONNX nchw, Keras nhwc)
  std::int64_t limit = 0;
  std::int64_t batch = 1;
  bool code_input_layer = false;
  std::vector<std::string> dense_sites;
};
void add_dataset_options(CLI::App& cmd, DatasetArgs& args, bool required);
inline constexpr std::int64_t max_batch = 65536;  // --batch: samples per run of the plan
// Fills the dataset, preprocessing and lowering fields of a run request.
struct RunRequest;
void apply_dataset_args(const DatasetArgs& args, RunRequest& request);
// Fills the LLM text fields of a run request.
void apply_llm_text_args(const LlmTextArgs& args, RunRequest& request);

// What a command runs once parsing succeeded. Returns the exit status.
using Action = std::function<int()>;

void add_run_command(CLI::App& app, Action& action);
void add_encode_command(CLI::App& app, Action& action);
void add_generate_command(CLI::App& app, Action& action);
void add_tokenize_command(CLI::App& app, Action& action);
void add_convert_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_account_command(CLI::App& app, Action& action);
void add_compare_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);

int cli_main(int argc, char** argv);

// Progress of a command that may run on several MPI ranks (compare, account): drawn by rank 0 only, on a
// terminal or, with several ranks, on the stderr the launcher forwards (a pipe: one redraw per cell or
// chunk); never with --quiet.
Progress distributed_progress(std::string label, bool quiet);
// The same command line run in-process with errors thrown, not printed (the Python package's run() and
// account()): args without the program name, e.g. {"run", "--model", "m.bin", "--out", "dir", "-q"}. A bad
// option throws UsageError carrying CLI11's message; library errors propagate as their own types.
void cli_call(const std::vector<std::string>& args);

}  // namespace spikesim::sim
