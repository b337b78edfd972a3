// One linear layer at SpikingBrain statistics: event-driven delivery vs the Eigen dense GEMM of the same
// layer, in the same process, timed interleaved. Prints times, ratios, SOPs per second and the activation
// statistics (zero fraction at k) it ran on.
//
//   spikesim_bench_linear [--tokens 256] [--shapes 3584x3584,3584x18944] [--codings bitwise,ternary]
//                         [--k 3] [--sigma 2.25] [--rounds 7] [--seed 1]
//
// Shapes are in x out (Qwen2.5-7B: q/o_proj 3584x3584, gate/up_proj 3584x18944). Activations: the
// outlier-channel generator of scripts/make_trace.py (sim/synthetic.hpp): x = z * exp(sigma * u_c).
// Weights: N(0, 1/in). Threads: OMP_NUM_THREADS (default all cores), the same for both sides (Eigen's GEMM
// runs on OpenMP too).

#include <Eigen/Core>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "bench/bench_util.hpp"
#include "coding/coded_tensor.hpp"
#include "coding/scheme.hpp"
#include "neurons/neuron.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/synapse.hpp"

using namespace spikesim;  // NOLINT(google-build-using-namespace): benchmark program

namespace {

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0.0;
  double den = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    num += d * d;
    den += static_cast<double>(b[i]) * static_cast<double>(b[i]);
  }
  return std::sqrt(num / den);
}

sim::LinearWeights random_layer(std::int64_t in, std::int64_t out, std::uint64_t seed) {
  // N(0, 1/in): the counter-based generator with unit channel scales.
  const sim::OutlierChannels gen(seed, 1000, in, 0.0);
  std::vector<float> w = gen.tokens(0, out);  // [out][in]
  const auto s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in)));
  for (float& v : w)
    v *= s;
  return sim::LinearWeights::from_row_major("fc", w, out, in);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args(argc, argv,
                         {{"tokens", "256"},
                          {"shapes", "3584x3584,3584x18944"},
                          {"codings", "bitwise,ternary"},
                          {"k", "3"},
                          {"sigma", "2.25"},
                          {"rounds", "7"},
                          {"seed", "4"},
                          {"block-inputs", "128"},
                          {"prefetch", "1"}});
  const std::int64_t tokens = args.integer("tokens");
  const int rounds = static_cast<int>(args.integer("rounds"));
  const auto seed = static_cast<std::uint64_t>(args.integer("seed"));
  std::cout << std::setprecision(4);
  std::cout << "== linear layer: event-driven vs Eigen dense GEMM (same process, interleaved, median of "
            << rounds << ")\n";
  bench::print_machine(std::cout);
  std::cout << "Eigen " << EIGEN_WORLD_VERSION << "." << EIGEN_MAJOR_VERSION << "." << EIGEN_MINOR_VERSION
            << " with " << Eigen::nbThreads() << " threads; activations x = z * exp(" << args.real("sigma")
            << " * u_c) (per-channel log-normal scales), k = " << args.real("k") << ", " << tokens
            << " tokens\n";

  bool all_met = true;
  for (const std::string& shape : args.list("shapes")) {
    const auto xpos = shape.find('x');
    const std::int64_t in = std::stoll(shape.substr(0, xpos));
    const std::int64_t out = std::stoll(shape.substr(xpos + 1));
    const sim::LinearWeights layer = random_layer(in, out, seed);
    const sim::OutlierChannels source(seed, 1, in, args.real("sigma"));
    const std::vector<float> x = source.tokens(0, tokens);  // [tokens][in]
    std::vector<float> y_dense(static_cast<std::size_t>(tokens * out));
    std::vector<float> y_event(y_dense.size());
    std::vector<float> y_site(y_dense.size());
    const double dense_macs =
        static_cast<double>(tokens) * static_cast<double>(in) * static_cast<double>(out);

    for (const std::string& coding_name : args.list("codings")) {
      sim::SiteConfig config;
      config.neuron.k = args.real("k");
      config.coding.scheme = coding::parse_scheme(coding_name);
      config.measure_output_error = false;
      const coding::CodedTensor coded =
          coding::prepare(neurons::fire(config.neuron, x, tokens, in), config.coding, "bench x");
      const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), out);
      const SiteCounters c = sim::count_coded(coded, fanout, layer.fanout_nonzero, out);
      std::uint64_t nonzero = 0;
      for (const std::int32_t v : coded.value)
        nonzero += v != 0 ? 1 : 0;
      const sim::EventForwardOptions options{.block_inputs = args.integer("block-inputs"),
                                             .prefetch = args.integer("prefetch") != 0};

      SiteCounters sink;
      const auto times =
          bench::time_interleaved({[&] { sim::dense_forward(layer, x, tokens, y_dense); },
                                   [&] { sim::event_forward(layer, coded, y_event, options); },
                                   [&] {
                                     sim::run_site({&layer, nullptr}, x, tokens, config, y_site, sink,
                                                   {layer.name, "bench x", 0, {}});
                                   }},
                                  rounds);
      const double t_dense = bench::median(times[0]);
      const double t_event = bench::median(times[1]);
      const double t_site = bench::median(times[2]);
      const double error = rel_diff(y_event, y_dense);  // coding error only (x vs x_hat) + float order

      const auto elements = static_cast<double>(c.elements);
      std::cout << "\n-- " << in << " x " << out << ", " << coding_name << ": T = " << coded.steps
                << ", zero fraction " << static_cast<double>(c.count_histogram[0]) / elements
                << " (|s| = 0/1/2/>=3: " << static_cast<double>(c.count_histogram[0]) / elements << " / "
                << static_cast<double>(c.count_histogram[1]) / elements << " / "
                << static_cast<double>(c.count_histogram[2]) / elements << " / "
                << static_cast<double>(c.count_histogram[3]) / elements << "), spikes per element "
                << static_cast<double>(c.spikes) / elements << ", output rel. error vs dense " << error
                << "\n";
      std::cout << "   dense GEMM (Eigen)              " << std::setw(9) << t_dense * 1e3 << " ms  "
                << dense_macs / t_dense / 1e9 << " GMAC/s\n";
      std::cout << "   event delivery (event_forward)  " << std::setw(9) << t_event * 1e3 << " ms  "
                << static_cast<double>(c.sops) / t_event / 1e9 << " GSOP/s, "
                << static_cast<double>(nonzero) * static_cast<double>(out) / t_event / 1e9
                << " G accumulates/s (one per non-zero value and output)\n";
      std::cout << "   whole site (neurons + coding + delivery + counters, run_site) " << t_site * 1e3
                << " ms  " << static_cast<double>(c.sops) / t_site / 1e9 << " GSOP/s\n";
      std::cout << "   ratio event/dense: delivery " << t_event / t_dense << ", whole site "
                << t_site / t_dense;
      const double ratio = t_site / t_dense;
      if (ratio <= 0.5) {
        std::cout << "  [target <= 1.0 met, aim 0.5 met]\n";
      } else if (ratio <= 1.0) {
        std::cout << "  [target <= 1.0 met; aim 0.5 missed by " << ratio / 0.5 << "x]\n";
      } else {
        std::cout << "  [target <= 1.0 MISSED by " << ratio << "x]\n";
        all_met = false;
      }
    }
  }
  return all_met ? 0 : 1;
}
