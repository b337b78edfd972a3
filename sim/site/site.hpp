#pragma once
// Spike coding of one synaptic site's input: activations -> neurons -> coding -> counters (code_site), and
// the site's configuration. The driver that also delivers the events (linear or conv) is
// sim/site/synapse.hpp.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "base/counters.hpp"
#include "coding/coded_tensor.hpp"
#include "neurons/neuron.hpp"

namespace spikesim::sim {

enum class Engine { fast, reference };

class RasterCapture;  // sim/raster.hpp

struct SiteConfig {
  neurons::NeuronConfig neuron;
  coding::CodingOptions coding;
  Engine engine = Engine::fast;
  bool measure_output_error = true;  // also run the site densely on the same x to report output error
  std::shared_ptr<RasterCapture>
      raster;  // optional: keeps the spikes of one token at one site (a small raster)
};

// Counters of one coded tensor delivered into a layer whose presynaptic neuron j reaches fanout[j] synapses
// (fanout_nonzero[j] of them non-zero) and `post_neurons` postsynaptic neurons per token. Closed form over
// the coded values; equal to counting the encoded event stream (tested). spikes_per_input, when not empty
// ([cols]), accumulates the events each presynaptic neuron sent.
SiteCounters count_coded(const coding::CodedTensor& coded, std::span<const std::int64_t> fanout,
                         std::span<const std::int64_t> fanout_nonzero, std::int64_t post_neurons,
                         std::span<std::uint64_t> spikes_per_input = {});

// neurons -> coding -> counters in one pass: each token row is thresholded, counted, shifted, tallied and
// compared with its reconstruction while it is in cache (the adaptive neuron with a per-row or fixed
// threshold; other neurons fire on the whole tensor first). Equal to prepare(fire(x)) with count_coded and
// add_reconstruction_error (tested), without their extra passes over memory.
struct CodedSite {
  coding::CodedTensor coded;
  SiteCounters counters;  // count_coded + reconstruction error; the caller adds dense-side fields
};
CodedSite code_site(const SiteConfig& config, std::span<const float> x, std::int64_t tokens, std::int64_t in,
                    std::span<const std::int64_t> fanout, std::span<const std::int64_t> fanout_nonzero,
                    std::int64_t post_neurons, std::string_view what);
// The same into `out`, reusing its buffers (no allocation or page faults when called again with the same
// shape: the streaming accountant's steady state).
void code_site(const SiteConfig& config, std::span<const float> x, std::int64_t tokens, std::int64_t in,
               std::span<const std::int64_t> fanout, std::span<const std::int64_t> fanout_nonzero,
               std::int64_t post_neurons, std::string_view what, CodedSite& out);

// Adds the synapse-side fields of `d` (SOPs, graded and effective SOPs, weight reads, postsynaptic updates,
// zero-point MACs, rescales: what count_coded adds for one delivery) to `into`.
void add_synapse_side(SiteCounters& into, const SiteCounters& d);

// The synapse side of an attention query coded per token and head (SpikingBrain's SWA query site): coded
// holds tokens x `heads` rows of head_dim values, token t's events reach the same feature of each of its
// keys_per_token[t] attended keys (SOPs, weight reads) and update one score neuron per key and head.
SiteCounters count_query_events(const coding::CodedTensor& coded, std::int64_t heads,
                                std::span<const std::int64_t> keys_per_token);

// Adds the events each presynaptic neuron sent (summed over rows) to spikes_per_input [cols]; nothing when
// it is empty.
void add_spikes_per_input(const coding::CodedTensor& coded, std::span<std::uint64_t> spikes_per_input);

// Adds the fidelity sums of x vs x̂ = count · V_th.
void add_reconstruction_error(const coding::CodedTensor& coded, std::span<const float> x,
                              SiteCounters& counters);

// Adds the output error sums of y_spiking vs y_dense.
void add_output_error(std::span<const float> y_spiking, std::span<const float> y_dense,
                      SiteCounters& counters);

}  // namespace spikesim::sim
