// spikesim's side of the Brian2 comparison (bench/brian2_vs_spikesim.py): codes x, writes the coded values
// (the event raster Brian2 replays), delivers the events into W with both engines, writes the outputs.
//
//   spikesim_bench_events --x X.f32 --w W.f32 --tokens R --in N --out M --coding bitwise|ternary
//                         [--k 3] [--rounds 5] --dump DIR
//
// X.f32: float32 [R][N]; W.f32: float32 [M][N] (row-major, PyTorch layout). Writes DIR/values.i32 (coded
// values [R][N]), DIR/scale.f32 (V_th [R]), DIR/y_fast.f32 and DIR/y_reference.f32 ([R][M], no bias) and
// prints one JSON line: T, events, synaptic events (= SOPs: events x M), non-zero values, and the median
// delivery times of the fast engine (events batched per presynaptic neuron, one accumulate per non-zero
// value) and of the reference engine (one update per spike and synapse, in step order, single-threaded).

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/bench_util.hpp"
#include "coding/event_stream.hpp"
#include "coding/scheme.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/site/site.hpp"

using namespace spikesim;  // NOLINT(google-build-using-namespace): benchmark program

namespace {

template <class T>
std::vector<T> read_raw(const std::string& file, std::size_t n) {
  std::ifstream in(file, std::ios::binary);
  std::vector<T> v(n);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
  if (!in || static_cast<std::size_t>(in.gcount()) != n * sizeof(T)) {
    throw std::runtime_error(file + ": expected " + std::to_string(n * sizeof(T)) + " bytes");
  }
  return v;
}

template <class T>
void write_raw(const std::string& file, const std::vector<T>& v) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  if (!out) throw std::runtime_error(file + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args(argc, argv,
                         {{"x", ""},
                          {"w", ""},
                          {"tokens", "8"},
                          {"in", "3584"},
                          {"out", "512"},
                          {"coding", "bitwise"},
                          {"k", "3"},
                          {"rounds", "5"},
                          {"dump", ""}});
  const std::int64_t tokens = args.integer("tokens");
  const std::int64_t in = args.integer("in");
  const std::int64_t out = args.integer("out");
  const auto x = read_raw<float>(args.str("x"), static_cast<std::size_t>(tokens * in));
  const auto w = read_raw<float>(args.str("w"), static_cast<std::size_t>(out * in));
  const sim::LinearWeights layer = sim::LinearWeights::from_row_major("fc", w, out, in);

  sim::SiteConfig config;
  config.neuron.k = args.real("k");
  config.coding.scheme = coding::parse_scheme(args.str("coding"));
  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), out);
  const sim::CodedSite site = sim::code_site(config, x, tokens, in, fanout, layer.fanout_nonzero, out, "x");
  const coding::EventStream events = coding::encode(site.coded);
  std::uint64_t nonzero = 0;
  for (const std::int32_t v : site.coded.value)
    nonzero += v != 0 ? 1 : 0;

  std::vector<float> y_fast(static_cast<std::size_t>(tokens * out));
  std::vector<float> y_ref(y_fast.size());
  const int threads = omp_get_max_threads();
  const auto times = bench::time_interleaved(
      {[&] { sim::event_forward(layer, site.coded, y_fast); },
       [&] {
         omp_set_num_threads(1);  // the reference engine is serial; keep the runtime from spinning
         sim::event_forward_reference(layer, events, y_ref);
         omp_set_num_threads(threads);
       }},
      static_cast<int>(args.integer("rounds")));

  const std::string dir = args.str("dump");
  if (!dir.empty()) {
    write_raw(dir + "/values.i32", site.coded.value);
    write_raw(dir + "/scale.f32", site.coded.scale);
    write_raw(dir + "/y_fast.f32", y_fast);
    write_raw(dir + "/y_reference.f32", y_ref);
  }
  const nlohmann::json j = {{"coding", args.str("coding")},
                            {"T", site.coded.steps},
                            {"threads", threads},
                            {"events", site.counters.spikes},
                            {"synaptic_events", site.counters.sops},
                            {"nonzero_values", nonzero},
                            {"zero_fraction", static_cast<double>(site.counters.count_histogram[0]) /
                                                  static_cast<double>(site.counters.elements)},
                            {"fast_s", bench::median(times[0])},
                            {"reference_s", bench::median(times[1])},
                            {"cpu", bench::cpu_model()},
                            {"load", bench::load_average()}};
  std::cout << j.dump() << "\n";
  return 0;
}
