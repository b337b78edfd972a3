// Encoding throughput: activations -> adaptive-threshold neurons -> coded values -> counters (the per-site
// cost before event delivery), against a STREAM-like copy of the same array measured in the same run.
//
//   spikesim_bench_encode [--input FILE.f32 --rows R --cols C] [--codings bitwise,ternary] [--k 3]
//                         [--rounds 7] [--json 0|1]
//
// --input: raw little-endian float32 [rows][cols] (bench/encode_vs_numpy.py writes it and times numpy on
// the same array); without it, rows x cols synthetic outlier-channel activations (sim/synthetic.hpp).
// Sides, interleaved, median of --rounds:
//   copy        y[i] = x[i] over the array (reads 4 B, writes 4 B per element: the least any encoder that
//               reads x and writes one int32 count per element must move) -> the bandwidth bound
//   encode      sim::code_site: V_th per row, counts, T, zero points, every counter and the reconstruction
//               error, row by row while the row is in cache
//   unfused     neurons::fire + coding::prepare + sim::count_coded + add_reconstruction_error (the same
//               results through the separate API calls, one pass each)
// With --json 1 it prints one JSON object per coding (times, elements/s, the counters) for the script.

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/bench_util.hpp"
#include "coding/coded_tensor.hpp"
#include "coding/scheme.hpp"
#include "neurons/neuron.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/site.hpp"

using namespace spikesim;  // NOLINT(google-build-using-namespace): benchmark program

namespace {

std::vector<float> read_raw(const std::string& file, std::size_t n) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file + ": cannot open");
  std::vector<float> x(n);
  in.read(reinterpret_cast<char*>(x.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (static_cast<std::size_t>(in.gcount()) != n * sizeof(float)) {
    throw std::runtime_error(file + ": expected " + std::to_string(n * sizeof(float)) + " bytes of float32");
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args(argc, argv,
                         {{"input", ""},
                          {"rows", "4096"},
                          {"cols", "3584"},
                          {"codings", "bitwise,ternary"},
                          {"k", "3"},
                          {"sigma", "2.25"},
                          {"seed", "4"},
                          {"rounds", "7"},
                          {"json", "0"}});
  const std::int64_t rows = args.integer("rows");
  const std::int64_t cols = args.integer("cols");
  const auto n = static_cast<std::size_t>(rows * cols);
  const int rounds = static_cast<int>(args.integer("rounds"));
  const bool json = args.integer("json") != 0;
  const std::vector<float> x = args.str("input").empty()
                                   ? sim::OutlierChannels(static_cast<std::uint64_t>(args.integer("seed")), 1,
                                                          cols, args.real("sigma"))
                                         .tokens(0, rows)
                                   : read_raw(args.str("input"), n);
  std::vector<float> copy_out(n);
  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(cols), 1);  // counters per unit fan-out

  if (!json) {
    std::cout << std::setprecision(4) << "== encoding throughput vs a copy of the same array (median of "
              << rounds << ", interleaved)\n";
    bench::print_machine(std::cout);
    std::cout << rows << " x " << cols << " float32 (" << static_cast<double>(n) * 4e-6 << " MB)\n";
  }
  for (const std::string& coding_name : args.list("codings")) {
    sim::SiteConfig config;
    config.neuron.k = args.real("k");
    config.coding.scheme = coding::parse_scheme(coding_name);
    sim::CodedSite fused;
    SiteCounters unfused;
    std::vector<std::vector<double>> cpu;
    const auto times = bench::time_interleaved(
        {[&] {
           const float* src = x.data();
           float* dst = copy_out.data();
           const auto count = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static)
           for (std::int64_t i = 0; i < count; ++i)
             dst[i] = src[i];
         },
         [&] { sim::code_site(config, x, rows, cols, fanout, fanout, 1, "bench x", fused); },
         [&] {
           const coding::CodedTensor coded =
               coding::prepare(neurons::fire(config.neuron, x, rows, cols), config.coding, "bench x");
           unfused = sim::count_coded(coded, fanout, fanout, 1);
           sim::add_reconstruction_error(coded, x, unfused);
         }},
        rounds, &cpu);
    const double t_copy = bench::median(times[0]);
    const double t_encode = bench::median(times[1]);
    const double t_unfused = bench::median(times[2]);
    const SiteCounters& c = fused.counters;
    if (c.spikes != unfused.spikes || c.count_histogram != unfused.count_histogram) {
      std::cerr << "fused and unfused encodings disagree\n";
      return 1;
    }
    const auto elements = static_cast<double>(n);
    if (json) {
      nlohmann::json j = {{"coding", coding_name},
                          {"rows", rows},
                          {"cols", cols},
                          {"threads", omp_get_max_threads()},
                          {"copy_s", t_copy},
                          {"encode_s", t_encode},
                          {"unfused_s", t_unfused},
                          {"copy_cpu_s", bench::median(cpu[0])},
                          {"encode_cpu_s", bench::median(cpu[1])},
                          {"copy_gb_per_s", 8.0 * elements / t_copy / 1e9},
                          {"encode_elements_per_s", elements / t_encode},
                          {"T", fused.coded.steps},
                          {"count_histogram", c.count_histogram},
                          {"abs_count_sum", c.abs_count_sum},
                          {"spikes", c.spikes},
                          {"spikes_graded", c.spikes_graded},
                          {"reconstruction_sq_err", c.reconstruction_sq_err},
                          {"input_sq_norm", c.input_sq_norm}};
      std::cout << j.dump() << "\n";
      continue;
    }
    std::cout << "\n-- " << coding_name << ": T = " << fused.coded.steps << ", zero fraction "
              << static_cast<double>(c.count_histogram[0]) / elements << ", spikes per element "
              << static_cast<double>(c.spikes) / elements << "\n";
    std::cout << "   copy (bandwidth bound)  " << std::setw(8) << t_copy * 1e3 << " ms  "
              << 8.0 * elements / t_copy / 1e9 << " GB/s, " << elements / t_copy / 1e9 << " G elements/s\n";
    std::cout << "   encode (code_site)      " << std::setw(8) << t_encode * 1e3 << " ms  "
              << elements / t_encode / 1e9 << " G elements/s\n";
    std::cout << "   unfused API calls       " << std::setw(8) << t_unfused * 1e3 << " ms  "
              << elements / t_unfused / 1e9 << " G elements/s\n";
    if (omp_get_max_threads() == 1) {
      std::cout << "   thread CPU time (1 thread, not inflated by preemption): encode "
                << bench::median(cpu[1]) * 1e3 << " ms, copy " << bench::median(cpu[0]) * 1e3 << " ms, ratio "
                << bench::median(cpu[1]) / bench::median(cpu[0]) << "\n";
    }
    const double ratio = t_encode / t_copy;
    std::cout << "   encode / copy time " << ratio
              << (ratio <= 2.0 ? "  [target <= 2x of bandwidth met]\n"
                               : "  [target <= 2x of bandwidth MISSED by ")
              << (ratio <= 2.0 ? "" : std::to_string(ratio / 2.0) + "x]\n");
  }
  return 0;
}
