#include "sim/site.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "coding/event_stream.hpp"
#include "sim/text.hpp"

namespace spikesim::sim {

namespace {

// Tensors of at least this many elements are split over threads (results never depend on it).
constexpr std::size_t threaded_elements = 65536;

// Per-row sums of count_coded; integer, so adding them in any order gives the same totals.
struct RowTally {
  std::array<std::uint64_t, 4> histogram{};
  std::uint64_t abs_count_sum = 0;
  std::uint64_t active_steps = 0;  // steps in which the row fires at least once
};

// What one coded value sends, per scheme family: `pattern` is what decides its spikes (magnitude, or the
// two's complement bits), spikes = popcount(pattern) for bitwise, |value| for binary/ternary.
enum class Family { unary, bitwise, twos };

template <Family family>
RowTally tally_row(const std::int32_t* v, std::size_t cols, std::int32_t zp, std::uint32_t twos_mask,
                   std::uint64_t* events_of, std::uint64_t* graded_of) {
  RowTally t;
  std::uint32_t h0 = 0;
  std::uint32_t h1 = 0;
  std::uint32_t h2 = 0;
  std::uint64_t abs_sum = 0;
  std::uint32_t fired_bits = 0;  // bitwise: OR of the patterns = steps in which the row fires
  std::uint32_t max_magnitude = 0;
  for (std::size_t j = 0; j < cols; ++j) {  // vectorises: no branches, popcount is an instruction
    const std::int32_t value = v[j];
    const auto s = static_cast<std::uint32_t>(std::abs(value - zp));  // the neuron's count |s|
    h0 += s == 0 ? 1U : 0U;
    h1 += s == 1 ? 1U : 0U;
    h2 += s == 2 ? 1U : 0U;
    abs_sum += s;
    const auto magnitude = static_cast<std::uint32_t>(std::abs(value));
    if constexpr (family == Family::unary) {
      events_of[j] += magnitude;
      max_magnitude = std::max(max_magnitude, magnitude);
    } else {
      const std::uint32_t pattern =
          family == Family::twos ? (static_cast<std::uint32_t>(value) & twos_mask) : magnitude;
      const auto spikes = static_cast<std::uint32_t>(std::popcount(pattern));
      events_of[j] += spikes;
      graded_of[j] += spikes - (pattern & 1U);
      fired_bits |= pattern;
    }
  }
  t.histogram = {h0, h1, h2, cols - h0 - h1 - h2};
  t.abs_count_sum = abs_sum;
  t.active_steps =
      family == Family::unary ? max_magnitude : static_cast<std::uint64_t>(std::popcount(fired_bits));
  return t;
}

template <Family family>
void tally_rows(const coding::CodedTensor& coded, std::uint32_t twos_mask, std::vector<RowTally>& rows_out,
                std::vector<std::uint64_t>& events_of, std::vector<std::uint64_t>& graded_of) {
  const auto cols = static_cast<std::size_t>(coded.cols);
  const auto rows = static_cast<std::int64_t>(coded.rows);
  const bool threaded = coded.value.size() >= threaded_elements;
#pragma omp parallel if (threaded)
  {
    // Per-thread column sums, added into the totals at the end (integers: order does not matter).
    std::vector<std::uint64_t> events(cols, 0);
    std::vector<std::uint64_t> graded(cols, 0);
#pragma omp for schedule(static) nowait
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto ru = static_cast<std::size_t>(r);
      rows_out[ru] = tally_row<family>(coded.value.data() + ru * cols, cols, coded.zero_point[ru], twos_mask,
                                       events.data(), graded.data());
    }
#pragma omp critical(spikesim_count_coded)
    {
      for (std::size_t j = 0; j < cols; ++j) {
        events_of[j] += events[j];
        graded_of[j] += graded[j];
      }
    }
  }
}

}  // namespace

SiteCounters count_coded(const coding::CodedTensor& coded, std::span<const std::int64_t> fanout,
                         std::span<const std::int64_t> fanout_nonzero, std::int64_t post_neurons) {
  SiteCounters c;
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto cols = static_cast<std::size_t>(coded.cols);
  const auto steps = static_cast<std::uint64_t>(coded.steps);
  if (fanout.size() != cols || fanout_nonzero.size() != cols) {
    throw std::invalid_argument(cat("count_coded: ", cols, " presynaptic neurons but fan-outs for ",
                                    fanout.size(), " and ", fanout_nonzero.size()));
  }
  const std::uint32_t twos_mask = coded.steps >= 32 ? ~0U : ((1U << static_cast<unsigned>(coded.steps)) - 1U);
  std::vector<std::uint64_t> events_of(cols, 0);  // [cols] events sent by presynaptic neuron j
  std::vector<std::uint64_t> graded_of(cols, 0);  // [cols] of those, graded events
  std::vector<RowTally> row_tally(rows);          // [rows]
  if (coded.scheme == coding::Scheme::bitwise_twos) {
    tally_rows<Family::twos>(coded, twos_mask, row_tally, events_of, graded_of);
  } else if (coding::is_bitwise(coded.scheme)) {
    tally_rows<Family::bitwise>(coded, twos_mask, row_tally, events_of, graded_of);
  } else {
    tally_rows<Family::unary>(coded, twos_mask, row_tally, events_of, graded_of);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const RowTally& t = row_tally[r];
    for (std::size_t i = 0; i < c.count_histogram.size(); ++i)
      c.count_histogram[i] += t.histogram[i];
    c.abs_count_sum += t.abs_count_sum;
    c.post_neuron_updates_active += t.active_steps * static_cast<std::uint64_t>(post_neurons);
    c.zero_point_macs += coded.zero_point[r] != 0 ? static_cast<std::uint64_t>(post_neurons) : 0;
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
  const auto rows = static_cast<std::int64_t>(coded.rows);
  // Per-row sums over 8 fixed interleaved partials (vectorises), rows added in order: thread-independent.
  constexpr std::size_t ways = 8;
  std::vector<double> row_norm(static_cast<std::size_t>(rows), 0.0);  // [rows] sum x^2
  std::vector<double> row_err(static_cast<std::size_t>(rows), 0.0);   // [rows] sum (x - x̂)^2
#pragma omp parallel for schedule(static) if (x.size() >= threaded_elements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    const float* xr = x.data() + ru * cols;
    const std::int32_t* vr = coded.value.data() + ru * cols;
    const auto zp = static_cast<double>(coded.zero_point[ru]);
    const auto scale = static_cast<double>(coded.scale[ru]);
    std::array<double, ways> norm{};
    std::array<double, ways> err{};
    std::size_t j = 0;
    for (; j + ways <= cols; j += ways) {
      for (std::size_t w = 0; w < ways; ++w) {
        const double xv = xr[j + w];
        const double d = xv - (static_cast<double>(vr[j + w]) - zp) * scale;
        norm[w] += xv * xv;
        err[w] += d * d;
      }
    }
    for (; j < cols; ++j) {
      const double xv = xr[j];
      const double d = xv - (static_cast<double>(vr[j]) - zp) * scale;
      norm[0] += xv * xv;
      err[0] += d * d;
    }
    for (std::size_t w = 0; w < ways; ++w) {
      row_norm[ru] += norm[w];
      row_err[ru] += err[w];
    }
  }
  for (std::size_t r = 0; r < row_norm.size(); ++r) {
    counters.input_sq_norm += row_norm[r];
    counters.reconstruction_sq_err += row_err[r];
  }
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
                      std::string_view what) {
  const coding::CodedTensor coded =
      coding::prepare(neurons::fire(config.neuron, x, tokens, layer.in, what), config.coding, what);

  if (config.engine == Engine::reference) {
    event_forward_reference(layer, coding::encode(coded), y);
  } else {
    event_forward(layer, coded, y);
  }

  const std::vector<std::int64_t> fanout(static_cast<std::size_t>(layer.in), layer.out);
  SiteCounters c = count_coded(coded, fanout, layer.fanout_nonzero, layer.out);
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
