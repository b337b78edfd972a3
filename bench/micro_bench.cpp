// Google Benchmark micro-benchmarks of the engine's kernels, for tuning (the whole-run comparisons with
// their targets are the other programs in bench/, see bench/README.md).
//
//   build/release/bench/spikesim_bench_micro [--benchmark_filter=EventForward]
//
// Activations are the outlier-channel generator's (sim/synthetic.hpp) at k = 3; EventForwardDensity thins
// the non-zero coded values further, to show the event engine's time following the number of events while
// the dense GEMM's does not.

#include <benchmark/benchmark.h>

#include <cmath>

#include "coding/coded_tensor.hpp"
#include "neurons/neuron.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/run/synthetic.hpp"
#include "sim/site/site.hpp"

namespace spikesim {
namespace {

constexpr std::int64_t tokens = 256;
constexpr std::int64_t width = 3584;

const sim::LinearWeights& layer() {
  static const sim::LinearWeights l = [] {
    std::vector<float> w = sim::OutlierChannels(1, 1000, width, 0.0).tokens(0, width);
    for (float& v : w)
      v /= std::sqrt(static_cast<float>(width));
    return sim::LinearWeights::from_row_major("fc", w, width, width);
  }();
  return l;
}

const std::vector<float>& activations() {
  static const std::vector<float> x = sim::OutlierChannels(4, 1, width).tokens(0, tokens);
  return x;
}

coding::CodedTensor coded(coding::Scheme scheme) {
  return coding::prepare(neurons::fire({}, activations(), tokens, width),
                         {.scheme = scheme, .steps = std::nullopt, .saturate = false}, "x");
}

void BM_DenseForward(benchmark::State& state) {
  std::vector<float> y(static_cast<std::size_t>(tokens * width));
  for (auto _ : state)
    sim::dense_forward(layer(), activations(), tokens, y);
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(tokens * width * width),
                                               benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DenseForward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Arg: percent of the non-zero coded values kept (the rest zeroed deterministically); "density" reports the
// resulting share of non-zero values.
void BM_EventForwardDensity(benchmark::State& state) {
  coding::CodedTensor c = coded(coding::Scheme::bitwise);
  const auto keep = static_cast<std::uint64_t>(state.range(0));
  for (std::size_t i = 0; i < c.value.size(); ++i) {
    if ((i * 2654435761U) % 100 >= keep) c.value[i] = 0;
  }
  std::uint64_t nonzero = 0;
  for (const std::int32_t v : c.value)
    nonzero += v != 0 ? 1 : 0;
  std::vector<float> y(static_cast<std::size_t>(tokens * width));
  for (auto _ : state)
    sim::event_forward(layer(), c, y);
  state.counters["accumulates/s"] =
      benchmark::Counter(static_cast<double>(nonzero * width), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["density"] = static_cast<double>(nonzero) / static_cast<double>(c.value.size());
}
BENCHMARK(BM_EventForwardDensity)
    ->Arg(5)
    ->Arg(15)
    ->Arg(31)
    ->Arg(50)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_EventForwardBlock(benchmark::State& state) {
  const coding::CodedTensor c = coded(coding::Scheme::bitwise);
  std::vector<float> y(static_cast<std::size_t>(tokens * width));
  for (auto _ : state)
    sim::event_forward(layer(), c, y, {.block_inputs = state.range(0), .prefetch = state.range(1) != 0});
}
BENCHMARK(BM_EventForwardBlock)
    ->ArgsProduct({{32, 64, 128, 256, 512}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_CodeSite(benchmark::State& state) {
  sim::SiteConfig config;
  config.coding.scheme = static_cast<coding::Scheme>(state.range(0));
  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(width), width);
  sim::CodedSite site;
  for (auto _ : state)
    sim::code_site(config, activations(), tokens, width, fanout, fanout, width, "x", site);
  state.SetItemsProcessed(state.iterations() * tokens * width);
}
BENCHMARK(BM_CodeSite)
    ->Arg(static_cast<int>(coding::Scheme::bitwise))
    ->Arg(static_cast<int>(coding::Scheme::ternary))
    ->Arg(static_cast<int>(coding::Scheme::binary))
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_SyntheticFill(benchmark::State& state) {
  const sim::OutlierChannels gen(1, 1, width);
  std::vector<float> x(static_cast<std::size_t>(tokens * width));
  for (auto _ : state)
    gen.fill(0, tokens, x);
  state.SetItemsProcessed(state.iterations() * tokens * width);
}
BENCHMARK(BM_SyntheticFill)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace spikesim

BENCHMARK_MAIN();
