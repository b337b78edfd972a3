// An LLM end to end: tokens per second of the spiking run vs the dense (GPU-equivalent) run of the same
// plan over the same tokens, in the same process, timed interleaved. Two modes:
//   prefill  the whole text as one [n, dim] batch with causal attention (teacher forcing, `spikesim run`)
//   decode   one token at a time through the KV cache (generation, `spikesim generate`)
// and the process's peak RSS at the end.
//
//   spikesim_bench_llm --model M [--tokenizer T] [--text FILE] [--tokens 256] [--codings ternary,bitwise]
//                      [--k 3] [--rounds 5]
//
// Default model: ../shared/data/llama2c/stories260K.bin (a test input, never copied into the project); the
// text is the project's own data/text/story.txt.

#include <sys/resource.h>

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

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args(argc, argv,
                         {{"model", SPIKESIM_SOURCE_DIR "/../shared/data/llama2c/stories260K.bin"},
                          {"tokenizer", SPIKESIM_SOURCE_DIR "/../shared/data/llama2c/tok512.bin"},
                          {"text", SPIKESIM_SOURCE_DIR "/data/text/story.txt"},
                          {"tokens", "256"},
                          {"codings", "ternary,bitwise"},
                          {"k", "3"},
                          {"rounds", "5"}});
  try {
    const models::LlmModel model = sim::load_llm(args.str("model"));
    const sim::Plan plan = sim::lower_llm(model);  // SpikingBrain's sites: qkv, o, gateup
    const models::LlmConfig& config = model.config;
    const auto tokenizer =
        sim::load_llm_tokenizer(args.str("model"), args.str("tokenizer"), config.vocab_size);
    const sim::LlmTokens text = sim::llm_tokens({.prompt = "",
                                                 .text_file = args.str("text"),
                                                 .tokens_file = "",
                                                 .max_tokens = args.integer("tokens")},
                                                tokenizer.get(), config);
    const std::vector<std::int32_t>& ids = text.ids;
    const auto n = static_cast<std::int64_t>(ids.size());
    const int rounds = static_cast<int>(args.integer("rounds"));

    bench::print_machine(std::cout);
    std::cout << "model " << args.str("model") << " (" << config.n_layers << " layers, dim " << config.dim
              << "), " << n << " tokens of " << args.str("text") << ", k " << args.real("k")
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
    for (const std::string& coding : args.list("codings")) {
      sim::SiteConfig site;
      site.coding.scheme = coding::parse_scheme(coding);
      site.neuron.k = args.real("k");
      site.measure_output_error = false;  // the spiking model alone, as deployed
      sim::ExecOptions spiking;
      spiking.site = &site;
      for (const bool batch : {true, false}) {
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
  } catch (const std::exception& e) {
    std::cerr << "spikesim_bench_llm: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
