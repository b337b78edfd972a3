#pragma once
// What the simulator counts at one synaptic site (a linear or convolution layer). Additive over calls, so a
// site that runs once per token or once per batch accumulates into one record. energy/ turns these into
// joules; report code turns them into the metrics of DESIGN §3.

#include <algorithm>
#include <array>
#include <cstdint>

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

  SiteCounters& operator+=(const SiteCounters& o) {
    calls += o.calls;
    tokens += o.tokens;
    elements += o.elements;
    element_steps += o.element_steps;
    steps_sum += o.steps_sum;
    token_steps += o.token_steps;
    steps_max = std::max(steps_max, o.steps_max);
    for (std::size_t i = 0; i < count_histogram.size(); ++i)
      count_histogram[i] += o.count_histogram[i];
    abs_count_sum += o.abs_count_sum;
    saturated += o.saturated;
    spikes += o.spikes;
    spikes_graded += o.spikes_graded;
    sops += o.sops;
    effective_sops += o.effective_sops;
    graded_sops += o.graded_sops;
    graded_effective_sops += o.graded_effective_sops;
    weight_words_read += o.weight_words_read;
    neuron_updates += o.neuron_updates;
    post_neuron_updates += o.post_neuron_updates;
    post_neuron_updates_active += o.post_neuron_updates_active;
    rescale_muls += o.rescale_muls;
    zero_point_macs += o.zero_point_macs;
    bias_adds += o.bias_adds;
    uncoded_macs += o.uncoded_macs;
    elementwise_ops += o.elementwise_ops;
    dense_macs += o.dense_macs;
    dense_weight_words += o.dense_weight_words;
    input_sq_norm += o.input_sq_norm;
    reconstruction_sq_err += o.reconstruction_sq_err;
    output_sq_norm += o.output_sq_norm;
    output_sq_err += o.output_sq_err;
    return *this;
  }
};

}  // namespace spikesim
