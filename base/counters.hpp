#pragma once
// What the simulator counts at one synaptic site (a linear or convolution layer). Additive over calls, so a
// site that runs once per token or once per batch accumulates into one record. energy/ turns these into
// joules; report code turns them into the metrics of DESIGN §3.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

namespace spikesim {

struct SiteCounters {
  // --- spike coding of the site's input (the presynaptic neurons) ---
  std::uint64_t calls = 0;          // times the site ran (tensors coded)
  std::uint64_t tokens = 0;         // rows coded (tokens, or samples x positions)
  std::uint64_t elements = 0;       // integer counts produced = presynaptic neuron activations
  std::uint64_t element_steps = 0;  // sum over calls of elements x T
  std::uint64_t steps_sum = 0;      // sum over calls of T (virtual-time latency in steps)
  std::uint64_t token_steps =
      0;                       // sum over calls of rows x T: virtual steps when rows (tokens) run one after
                               // another through the hardware, as in decode (latency of the static term)
  std::int32_t steps_max = 0;  // largest T of any call
  std::array<std::uint64_t, 4> count_histogram{};  // counts with |s| = 0, 1, 2, >= 3
  std::uint64_t abs_count_sum = 0;                 // sum of |s| over elements
  std::uint64_t saturated = 0;                     // counts clipped to fit a fixed T
  // --- events and synaptic operations ---
  std::uint64_t spikes = 0;          // events emitted (sum of |spike| over all steps)
  std::uint64_t spikes_graded = 0;   // events at steps whose weight is 2^b, b >= 1 (bitwise)
  std::uint64_t sops = 0;            // sum over events of fan-out (dense synapses reached)
  std::uint64_t effective_sops = 0;  // sum over events of non-zero synapses reached (NeuroBench "effective")
  std::uint64_t graded_sops = 0;     // part of sops from graded events: an accumulate plus a shift
  std::uint64_t graded_effective_sops = 0;       // part of effective_sops from graded events
  std::uint64_t weight_words_read = 0;           // one weight word fetched per effective synaptic op
  std::uint64_t neuron_updates = 0;              // presynaptic (coding) neuron updates: elements x T
  std::uint64_t post_neuron_updates = 0;         // postsynaptic neuron updates: tokens x fan-out neurons x T
  std::uint64_t post_neuron_updates_active = 0;  // of those, steps in which the token received an event
  std::uint64_t rescale_muls = 0;     // output x V_th per token and output neuron (dense side cost)
  std::uint64_t zero_point_macs = 0;  // zero-point correction, per token with a shift and output neuron
  std::uint64_t bias_adds = 0;        // bias added per token and output neuron
  std::uint64_t uncoded_macs = 0;     // MACs the spiking model still runs densely (ops not spike-coded:
                                      // attention scores, lm_head, uncoded projections, ...)
  std::uint64_t elementwise_ops = 0;  // element-wise work of ops that are not synaptic (activations, pooling
                                      // comparisons, element-wise add/mul, softmax): the same in both runs
  // --- the same site run densely (GPU-equivalent) ---
  std::uint64_t dense_macs = 0;          // tokens x in x out (x kernel size for convolutions)
  std::uint64_t dense_weight_words = 0;  // weights the dense run reads once per call
  // --- fidelity (sums, so ratios are exact after accumulation) ---
  double input_sq_norm = 0.0;          // sum x^2
  double reconstruction_sq_err = 0.0;  // sum (x - x̂)^2
  double output_sq_norm = 0.0;         // sum y_dense^2
  double output_sq_err = 0.0;          // sum (y_spiking - y_dense)^2

  // One call of an op that stays dense in both runs: its MACs count as dense and as uncoded.
  void add_dense_op(std::uint64_t op_tokens, std::uint64_t macs, std::uint64_t weight_words = 0) {
    calls += 1;
    tokens += op_tokens;
    dense_macs += macs;
    uncoded_macs += macs;
    dense_weight_words += weight_words;
  }

  SiteCounters& operator+=(const SiteCounters& o);
};

}  // namespace spikesim

namespace spikesim {

// How a field merges when records add up: sums, except the largest T of any call.
enum class Merge { sum, max };

// Every field of SiteCounters, once: name, member, merge rule. +=, the JSON of stored records, and the
// round-trip test walk this list, so no consumer can drift from the struct. f(name, member pointer, merge).
template <class F>
constexpr void for_each_counter_field(F&& f) {
  f("calls", &SiteCounters::calls, Merge::sum);
  f("tokens", &SiteCounters::tokens, Merge::sum);
  f("elements", &SiteCounters::elements, Merge::sum);
  f("element_steps", &SiteCounters::element_steps, Merge::sum);
  f("steps_sum", &SiteCounters::steps_sum, Merge::sum);
  f("token_steps", &SiteCounters::token_steps, Merge::sum);
  f("steps_max", &SiteCounters::steps_max, Merge::max);
  f("count_histogram", &SiteCounters::count_histogram, Merge::sum);
  f("abs_count_sum", &SiteCounters::abs_count_sum, Merge::sum);
  f("saturated", &SiteCounters::saturated, Merge::sum);
  f("spikes", &SiteCounters::spikes, Merge::sum);
  f("spikes_graded", &SiteCounters::spikes_graded, Merge::sum);
  f("sops", &SiteCounters::sops, Merge::sum);
  f("effective_sops", &SiteCounters::effective_sops, Merge::sum);
  f("graded_sops", &SiteCounters::graded_sops, Merge::sum);
  f("graded_effective_sops", &SiteCounters::graded_effective_sops, Merge::sum);
  f("weight_words_read", &SiteCounters::weight_words_read, Merge::sum);
  f("neuron_updates", &SiteCounters::neuron_updates, Merge::sum);
  f("post_neuron_updates", &SiteCounters::post_neuron_updates, Merge::sum);
  f("post_neuron_updates_active", &SiteCounters::post_neuron_updates_active, Merge::sum);
  f("rescale_muls", &SiteCounters::rescale_muls, Merge::sum);
  f("zero_point_macs", &SiteCounters::zero_point_macs, Merge::sum);
  f("bias_adds", &SiteCounters::bias_adds, Merge::sum);
  f("uncoded_macs", &SiteCounters::uncoded_macs, Merge::sum);
  f("elementwise_ops", &SiteCounters::elementwise_ops, Merge::sum);
  f("dense_macs", &SiteCounters::dense_macs, Merge::sum);
  f("dense_weight_words", &SiteCounters::dense_weight_words, Merge::sum);
  f("input_sq_norm", &SiteCounters::input_sq_norm, Merge::sum);
  f("reconstruction_sq_err", &SiteCounters::reconstruction_sq_err, Merge::sum);
  f("output_sq_norm", &SiteCounters::output_sq_norm, Merge::sum);
  f("output_sq_err", &SiteCounters::output_sq_err, Merge::sum);
}

inline SiteCounters& SiteCounters::operator+=(const SiteCounters& o) {
  for_each_counter_field([&](const char*, auto member, Merge merge) {
    auto& a = this->*member;
    const auto& b = o.*member;
    using T = std::remove_cvref_t<decltype(a)>;
    if constexpr (std::is_arithmetic_v<T>) {
      a = merge == Merge::max ? std::max(a, b) : a + b;
    } else {
      for (std::size_t i = 0; i < a.size(); ++i)
        a[i] += b[i];
    }
  });
  return *this;
}

}  // namespace spikesim
