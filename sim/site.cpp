#include "sim/site.hpp"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "coding/event_stream.hpp"
#include "sim/raster.hpp"

namespace spikesim::sim {

SiteCounters count_coded(const coding::CodedTensor& coded, std::span<const std::int64_t> fanout,
                         std::span<const std::int64_t> fanout_nonzero, std::int64_t post_neurons,
                         std::span<std::uint64_t> spikes_per_input) {
  SiteCounters c;
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto cols = static_cast<std::size_t>(coded.cols);
  const auto steps = static_cast<std::uint64_t>(coded.steps);
  const std::uint32_t twos_mask = coded.steps >= 32 ? ~0U : ((1U << static_cast<unsigned>(coded.steps)) - 1U);
  std::vector<std::uint64_t> events_of(cols, 0);  // [cols] events sent by presynaptic neuron j
  std::vector<std::uint64_t> graded_of(cols, 0);  // [cols] of those, graded events
  for (std::size_t r = 0; r < rows; ++r) {
    std::uint32_t fired_bits = 0;  // bitwise: OR of bit patterns = steps in which the row fires
    std::uint32_t max_magnitude = 0;
    const std::int32_t zp = coded.zero_point[r];
    for (std::size_t j = 0; j < cols; ++j) {
      const std::int32_t v = coded.value[r * cols + j];
      const auto s = static_cast<std::uint32_t>(std::abs(v - zp));
      ++c.count_histogram[std::min<std::size_t>(s, 3)];
      c.abs_count_sum += s;
      const coding::SpikeTally t = coding::tally(coded.scheme, coded.steps, v);
      events_of[j] += static_cast<std::uint64_t>(t.spikes);
      graded_of[j] += static_cast<std::uint64_t>(t.graded);
      const auto magnitude = static_cast<std::uint32_t>(std::abs(v));
      max_magnitude = std::max(max_magnitude, magnitude);
      fired_bits |= coded.scheme == coding::Scheme::bitwise_twos ? (static_cast<std::uint32_t>(v) & twos_mask)
                                                                 : magnitude;
    }
    const std::uint64_t active_steps = coding::is_bitwise(coded.scheme)
                                           ? static_cast<std::uint64_t>(std::popcount(fired_bits))
                                           : max_magnitude;
    c.post_neuron_updates_active += active_steps * static_cast<std::uint64_t>(post_neurons);
    c.zero_point_macs += zp != 0 ? static_cast<std::uint64_t>(post_neurons) : 0;
  }
  if (!spikes_per_input.empty()) {
    if (spikes_per_input.size() != cols)
      throw std::invalid_argument("count_coded: spikes_per_input must have one entry per presynaptic neuron");
    for (std::size_t j = 0; j < cols; ++j)
      spikes_per_input[j] += events_of[j];
  }
  for (std::size_t j = 0; j < cols; ++j) {
    c.spikes += events_of[j];
    c.spikes_graded += graded_of[j];
    c.sops += events_of[j] * static_cast<std::uint64_t>(fanout[j]);
    c.graded_sops += graded_of[j] * static_cast<std::uint64_t>(fanout[j]);
    c.effective_sops += events_of[j] * static_cast<std::uint64_t>(fanout_nonzero[j]);
    c.graded_effective_sops += graded_of[j] * static_cast<std::uint64_t>(fanout_nonzero[j]);
  }
  c.weight_words_read = c.effective_sops;
  c.calls = 1;
  c.tokens = rows;
  c.elements = rows * cols;
  c.element_steps = c.elements * steps;
  c.steps_sum = steps;
  c.token_steps = rows * steps;
  c.steps_max = coded.steps;
  c.saturated = static_cast<std::uint64_t>(coded.saturated);
  c.neuron_updates = c.element_steps;
  c.post_neuron_updates = rows * static_cast<std::uint64_t>(post_neurons) * steps;
  c.rescale_muls = rows * static_cast<std::uint64_t>(post_neurons);
  return c;
}

void add_reconstruction_error(const coding::CodedTensor& coded, std::span<const float> x,
                              SiteCounters& counters) {
  const auto cols = static_cast<std::size_t>(coded.cols);
  double norm = 0.0;
  double err = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t r = i / cols;
    const double xv = x[i];
    const double xhat =
        static_cast<double>(coded.value[i] - coded.zero_point[r]) * static_cast<double>(coded.scale[r]);
    norm += xv * xv;
    err += (xv - xhat) * (xv - xhat);
  }
  counters.input_sq_norm += norm;
  counters.reconstruction_sq_err += err;
}

void add_output_error(std::span<const float> y_spiking, std::span<const float> y_dense,
                      SiteCounters& counters) {
  double norm = 0.0;
  double err = 0.0;
  for (std::size_t i = 0; i < y_dense.size(); ++i) {
    const double d = y_dense[i];
    const double e = static_cast<double>(y_spiking[i]) - d;
    norm += d * d;
    err += e * e;
  }
  counters.output_sq_norm += norm;
  counters.output_sq_err += err;
}

void run_coded_linear(const LinearWeights& layer, std::span<const float> x, std::int64_t tokens,
                      const SiteConfig& config, std::span<float> y, SiteCounters& counters,
                      std::string_view what, std::span<std::uint64_t> spikes_per_input) {
  const neurons::SpikeCounts counts = neurons::fire(config.neuron, x, tokens, layer.in, what);
  const coding::CodedTensor coded = coding::prepare(counts, config.coding, what);
  if (config.raster) config.raster->offer(layer.name, coded);

  if (config.engine == Engine::reference) {
    event_forward_reference(layer, coding::encode(coded), y);
  } else {
    event_forward(layer, coded, y);
  }

  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(layer.in), layer.out);
  SiteCounters c = count_coded(coded, fanout, layer.fanout_nonzero, layer.out, spikes_per_input);
  c.bias_adds = layer.bias.empty() ? 0 : c.tokens * static_cast<std::uint64_t>(layer.out);
  c.dense_macs = static_cast<std::uint64_t>(tokens * layer.in * layer.out);
  c.dense_weight_words = static_cast<std::uint64_t>(layer.in * layer.out);
  add_reconstruction_error(coded, x, c);
  if (config.measure_output_error) {
    std::vector<float> y_dense(y.size());
    dense_forward(layer, x, tokens, y_dense);
    add_output_error(y, y_dense, c);
  }
  counters += c;
}

}  // namespace spikesim::sim
