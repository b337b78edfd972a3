#pragma once
// The one site driver: a spike-coded synaptic site, linear or convolution, run event-driven.
//
//   x -> code_site (neurons -> coding -> counters, fused per row) -> event delivery into the layer's synapses
//     -> y, plus the dense-side counters (bias adds, dense MACs and weights of the same layer run densely)
//     and, optionally, the output error against the dense run of the same x, the events per presynaptic
//     neuron and a raster of one row.
//
// A linear site's rows are tokens (or samples x positions), its presynaptic neurons the `in` features; a
// convolution's rows are samples, its presynaptic neurons the C x H x W input map, each with its own fan-out
// (sim/kernels/conv.hpp).

#include <cstdint>
#include <span>
#include <string_view>

#include "base/counters.hpp"
#include "sim/kernels/conv.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

// The synapses of a site: exactly one of the two.
struct Synapses {
  const LinearWeights* linear = nullptr;
  const ConvWeights* conv = nullptr;
  [[nodiscard]] std::int64_t in() const;   // presynaptic neurons per row
  [[nodiscard]] std::int64_t out() const;  // postsynaptic neurons per row
  [[nodiscard]] const std::string& name() const;
};

struct SiteRun {
  std::string_view site;       // report name (raster capture)
  std::string_view what;       // names x in errors ("model.onnx: site 'fc' input of sample 3")
  std::int64_t first_row = 0;  // index of x's first row among every row the site codes in the run
  std::span<std::uint64_t> spikes_per_input;  // [in], accumulated when not empty
};

// Codes x [rows][in], delivers its events, writes y [rows][out] and adds what happened to `counters`.
void run_site(const Synapses& synapses, std::span<const float> x, std::int64_t rows, const SiteConfig& config,
              std::span<float> y, SiteCounters& counters, const SiteRun& run);

}  // namespace spikesim::sim
