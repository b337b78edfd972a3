// An LLM end to end: tokens per second of the spiking run vs the dense (GPU-equivalent) run of the same
// plan over the same tokens, in the same process, timed interleaved. Two modes:
//   prefill  the whole text as one [n, dim] batch with causal attention (teacher forcing, `spikesim run`)
//   decode   one token at a time through the KV cache (generation, `spikesim generate`)
// and the process's peak RSS at the end.
//
//   spikesim_bench_llm --model M [--tokenizer T] [--text FILE] [--tokens 256] [--codings ternary,bitwise]
//                      [--k 3] [--rounds 5] [--random-tokens N] [--modes prefill,decode] [--gemm 1]
//
// --random-tokens N: N pseudo-random token ids (fixed seed) instead of a text (checkpoints without a
// tokenizer, e.g. bench/make_hf_checkpoint.py's). --gemm 1: also the dense run's MAC rate (the plan's dense
// MACs / its time) next to Eigen's F32 GEMM rate on one [tokens x hidden] x [hidden x intermediate] product
// in the same process, and the peak RSS over the checkpoint's weight bytes (bench/hf_checkpoint.sh).
//
// Default model: ../shared/data/llama2c/stories260K.bin (a test input, never copied into the project); the
// text is the project's own data/text/story.txt.

#include <sys/resource.h>

#include <Eigen/Core>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>

#include "bench/bench_util.hpp"
#include "coding/scheme.hpp"
#include "sim/run/llm_run.hpp"

using namespace spikesim;  // NOLINT(google-build-using-namespace): benchmark program

namespace {

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Resident set now (kB, /proc/self/status VmRSS), and the peak so far: where the memory goes.
void print_rss(const char* stage) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      std::cout << "RSS " << stage << ": " << line.substr(6) << " (peak " << peak_rss_kib() << " kB)\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args(argc, argv,
                         {{"model", SPIKESIM_SOURCE_DIR "/../shared/data/llama2c/stories260K.bin"},
                          {"tokenizer", SPIKESIM_SOURCE_DIR "/../shared/data/llama2c/tok512.bin"},
                          {"text", SPIKESIM_SOURCE_DIR "/data/text/story.txt"},
                          {"tokens", "256"},
                          {"codings", "ternary,bitwise"},
                          {"k", "3"},
                          {"rounds", "5"},
                          {"random-tokens", "0"},
                          {"modes", "prefill,decode"},
                          {"gemm", "0"}});
  try {
    const models::LlmModel model = sim::load_llm(args.str("model"));
    print_rss("after loading");
    const sim::Plan plan = sim::lower_llm(model);  // SpikingBrain's sites: qkv, o, gateup
    print_rss("after lowering");
    const models::LlmConfig& config = model.config;
    std::vector<std::int32_t> ids;
    std::string text_name = args.str("text");
    if (args.integer("random-tokens") > 0) {
      std::uint64_t x = 88172645463325252ULL;  // xorshift64, fixed seed
      for (std::int64_t i = 0; i < args.integer("random-tokens"); ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids.push_back(static_cast<std::int32_t>(3 + x % static_cast<std::uint64_t>(config.vocab_size - 3)));
      }
      text_name = "random ids";
    } else {
      const auto tokenizer =
          sim::load_llm_tokenizer(args.str("model"), args.str("tokenizer"), config.vocab_size);
      ids = sim::llm_tokens({.prompt = "",
                             .text_file = args.str("text"),
                             .tokens_file = "",
                             .max_tokens = args.integer("tokens")},
                            tokenizer.get(), config)
                .ids;
    }
    const auto n = static_cast<std::int64_t>(ids.size());
    const int rounds = static_cast<int>(args.integer("rounds"));

    bench::print_machine(std::cout);
    std::cout << "model " << args.str("model") << " (" << config.n_layers << " layers, dim " << config.dim
              << "), " << n << " tokens of " << text_name << ", k " << args.real("k")
              << ", sites qkv,o,gateup; median of " << rounds << " interleaved rounds\n";

    const sim::ExecOptions dense{};
    auto prefill = [&](const sim::ExecOptions& cfg) {
      sim::RunState state(plan);
      (void)sim::execute(plan, state, sim::PlanInput::of_tokens(ids), cfg);
    };
    auto decode = [&](const sim::ExecOptions& cfg) {
      sim::RunState state(plan);
      for (std::int64_t t = 0; t < n; ++t) {
        (void)sim::execute(plan, state,
                           sim::PlanInput::of_tokens(
                               std::span<const std::int32_t>(ids).subspan(static_cast<std::size_t>(t), 1)),
                           cfg);
      }
    };

    std::cout << std::fixed << std::setprecision(1);
    const auto modes = args.list("modes");
    const auto wanted = [&](const std::string& m) {
      return std::find(modes.begin(), modes.end(), m) != modes.end();
    };
    if (args.integer("gemm") != 0) {
      // The dense run's MACs (the cost table's count for this plan) over its time, against Eigen's F32 GEMM
      // on one MLP-shaped product, both in this process.
      std::vector<sim::LayerRecord> records = sim::plan_records(plan);
      {
        sim::RunState state(plan);
        (void)sim::execute(plan, state, sim::PlanInput::of_tokens(ids), dense, &records);
      }
      double macs = 0.0;
      for (const auto& r : records)
        macs += static_cast<double>(r.counters.dense_macs);
      print_rss("after one dense run");
      const auto t = bench::time_interleaved({[&] { prefill(dense); }}, rounds);
      const double plan_gmacs = macs / bench::median(t[0]) * 1e-9;
      const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, config.dim);
      const Eigen::MatrixXf b = Eigen::MatrixXf::Random(config.dim, config.hidden_dim);
      Eigen::MatrixXf c(n, config.hidden_dim);
      const auto tg = bench::time_interleaved({[&] { c.noalias() = a * b; }}, rounds);
      const double gemm_gmacs =
          static_cast<double>(n * config.dim * config.hidden_dim) / bench::median(tg[0]) * 1e-9;
      std::cout << "dense run: " << macs * 1e-9 << " GMAC in " << std::setprecision(3) << bench::median(t[0])
                << " s = " << plan_gmacs << " GMAC/s; Eigen F32 GEMM [" << n << " x " << config.dim << "] x ["
                << config.dim << " x " << config.hidden_dim << "]: " << gemm_gmacs
                << " GMAC/s; dense / Eigen " << plan_gmacs / gemm_gmacs << std::setprecision(1) << "\n";
    }
    for (const std::string& coding : args.list("codings")) {
      sim::SiteConfig site;
      site.coding.scheme = coding::parse_scheme(coding);
      site.neuron.k = args.real("k");
      site.measure_output_error = false;  // the spiking model alone, as deployed
      sim::ExecOptions spiking;
      spiking.site = &site;
      for (const bool batch : {true, false}) {
        if (!wanted(batch ? "prefill" : "decode")) continue;
        const auto run = batch ? std::function<void(const sim::ExecOptions&)>(prefill)
                               : std::function<void(const sim::ExecOptions&)>(decode);
        const auto t = bench::time_interleaved({[&] { run(dense); }, [&] { run(spiking); }}, rounds);
        const double td = bench::median(t[0]);
        const double ts = bench::median(t[1]);
        std::cout << coding << " " << (batch ? "prefill" : "decode ") << ": dense "
                  << static_cast<double>(n) / td << " tokens/s, spiking " << static_cast<double>(n) / ts
                  << " tokens/s, spiking/dense time " << std::setprecision(2) << ts / td
                  << std::setprecision(1) << "\n";
      }
    }
    std::cout << "peak RSS of this process (both runs): " << peak_rss_kib() << " KiB\n";
    if (args.integer("gemm") != 0) {  // the weights' bytes on disk: every .safetensors beside config.json
      std::uintmax_t bytes = 0;
      const std::filesystem::path dir = std::filesystem::is_directory(args.str("model"))
                                            ? std::filesystem::path(args.str("model"))
                                            : std::filesystem::path(args.str("model")).parent_path();
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".safetensors") bytes += e.file_size();
      }
      std::cout << "weight files " << static_cast<double>(bytes) / 1024.0 << " KiB; peak RSS / weight files "
                << std::setprecision(3)
                << static_cast<double>(peak_rss_kib()) * 1024.0 / static_cast<double>(bytes) << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "spikesim_bench_llm: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
