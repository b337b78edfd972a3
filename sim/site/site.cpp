#include "sim/site/site.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "base/text.hpp"
#include "coding/event_stream.hpp"
#include "neurons/adaptive_threshold.hpp"
#include "sim/site/raster.hpp"

namespace spikesim::sim {

namespace {

// Tensors of at least this many elements are split over threads (results never depend on it).
constexpr std::size_t threaded_elements = 65536;
// code_site works through a row in chunks of this many elements (a multiple of 8), so x and the counts of a
// chunk stay in L1 while it is counted, measured and tallied.
constexpr std::size_t chunk_elements = 512;

// What one coded value sends, per scheme family: its spike pattern is |value| (bitwise), the value's
// two's-complement bits (twos), or |value| unit spikes (unary: binary, ternary).
enum class Family { unary, bitwise, twos };

Family family_of(coding::Scheme scheme) {
  if (scheme == coding::Scheme::bitwise_twos) return Family::twos;
  return coding::is_bitwise(scheme) ? Family::bitwise : Family::unary;
}

std::uint32_t twos_mask_of(std::int32_t steps) {
  return steps >= 32 ? ~0U : ((1U << static_cast<unsigned>(steps)) - 1U);
}

// Tally of a row, or of chunks of it merged with +=; integers, so the order of merging does not matter.
struct RowTally {
  std::array<std::uint64_t, 4> histogram{};  // counts with |s| = 0, 1, 2, >= 3
  std::uint64_t abs_count_sum = 0;
  std::uint32_t fired_bits = 0;     // bitwise: OR of the spike patterns (steps in which the row fires)
  std::uint32_t max_magnitude = 0;  // unary: largest |value| (the row fires at steps 0 .. max - 1)
  std::uint64_t events = 0;         // events sent (only when not summed per presynaptic neuron)
  std::uint64_t graded = 0;         // of those, graded events

  RowTally& operator+=(const RowTally& o) {
    for (std::size_t i = 0; i < histogram.size(); ++i)
      histogram[i] += o.histogram[i];
    abs_count_sum += o.abs_count_sum;
    fired_bits |= o.fired_bits;
    max_magnitude = std::max(max_magnitude, o.max_magnitude);
    events += o.events;
    graded += o.graded;
    return *this;
  }
  [[nodiscard]] std::uint64_t active_steps(Family family) const {
    return family == Family::unary ? max_magnitude : static_cast<std::uint64_t>(std::popcount(fired_bits));
  }
};

// Adds n values (shifted by zp) to `t`. Their events go to the per-presynaptic-neuron sums
// events_of[0 .. n) / graded_of[0 .. n) when those are given (fan-outs differ between neurons), else to
// t.events / t.graded (uniform fan-outs: totals are enough, and no memory traffic per column).
// Sum is the accumulator type of the per-chunk sums: uint32 when n * (largest |value| + |zp| + 1) < 2^32
// (no widening in the loop), else uint64.
template <Family family, bool per_column, class Sum>
void tally_values(const std::int32_t* v, std::size_t n, std::int32_t zp, std::uint32_t twos_mask,
                  std::uint64_t* events_of, std::uint64_t* graded_of, RowTally& t) {
  std::uint32_t h0 = 0;
  std::uint32_t h1 = 0;
  std::uint32_t h2 = 0;
  Sum abs_sum = 0;
  Sum events = 0;
  Sum graded = 0;
  std::uint32_t fired_bits = 0;
  std::uint32_t max_magnitude = 0;
  for (std::size_t j = 0; j < n; ++j) {  // vectorises: no branches, popcount is an instruction
    const std::int32_t value = v[j];
    const auto s = static_cast<std::uint32_t>(std::abs(value - zp));  // the neuron's count |s|
    h0 += s == 0 ? 1U : 0U;
    h1 += s == 1 ? 1U : 0U;
    h2 += s == 2 ? 1U : 0U;
    abs_sum += s;
    const auto magnitude = static_cast<std::uint32_t>(std::abs(value));
    std::uint32_t spikes = magnitude;
    std::uint32_t graded_spikes = 0;
    if constexpr (family == Family::unary) {
      max_magnitude = std::max(max_magnitude, magnitude);
    } else {
      const std::uint32_t pattern =
          family == Family::twos ? (static_cast<std::uint32_t>(value) & twos_mask) : magnitude;
      spikes = static_cast<std::uint32_t>(std::popcount(pattern));
      graded_spikes = spikes - (pattern & 1U);
      fired_bits |= pattern;
    }
    if constexpr (per_column) {
      events_of[j] += spikes;
      graded_of[j] += graded_spikes;
    } else {
      events += spikes;
      graded += graded_spikes;
    }
  }
  t.histogram[0] += h0;
  t.histogram[1] += h1;
  t.histogram[2] += h2;
  t.histogram[3] += n - h0 - h1 - h2;
  t.abs_count_sum += abs_sum;
  t.events += events;
  t.graded += graded;
  t.fired_bits |= fired_bits;
  t.max_magnitude = std::max(t.max_magnitude, max_magnitude);
}

template <bool per_column, class Sum>
void tally_values(Family family, const std::int32_t* v, std::size_t n, std::int32_t zp,
                  std::uint32_t twos_mask, std::uint64_t* events_of, std::uint64_t* graded_of, RowTally& t) {
  switch (family) {
    case Family::unary:
      tally_values<Family::unary, per_column, Sum>(v, n, zp, twos_mask, events_of, graded_of, t);
      return;
    case Family::bitwise:
      tally_values<Family::bitwise, per_column, Sum>(v, n, zp, twos_mask, events_of, graded_of, t);
      return;
    case Family::twos:
      tally_values<Family::twos, per_column, Sum>(v, n, zp, twos_mask, events_of, graded_of, t);
      return;
  }
}

// Tallies n values into `t`, into the per-column sums `sums` (offset by `col0`) when they are kept.
struct ColumnSums;
// `magnitude_bound`: no |value| and no |value - zp| exceeds it (picks 32-bit sums when they cannot overflow).
void tally_values(Family family, const std::int32_t* v, std::size_t n, std::int32_t zp,
                  std::uint32_t twos_mask, std::uint64_t magnitude_bound, ColumnSums& sums, std::size_t col0,
                  RowTally& t);

// Sums of x^2 and (x - x̂)^2, x̂ = (value - zp) * scale. Each add() (at most chunk_elements values) sums in
// 16 float lanes (x - x̂ with one rounding, by fused multiply-add) and then adds the lanes, in order, into
// double totals; every path feeds a row in the same chunks (add_row), so fused and separate calls agree to
// the last bit and the order never depends on threads.
struct ErrorSums {
  using Float16 = float __attribute__((vector_size(64)));
  using Int16 = std::int32_t __attribute__((vector_size(64)));
  static constexpr std::size_t lanes = 16;
  double norm = 0.0;
  double err = 0.0;

  void add(const float* x, const std::int32_t* v, std::size_t n, std::int32_t zero_point, float scale) {
    Float16 norm16{};
    Float16 err16{};
    const auto zp = static_cast<float>(zero_point);
    std::size_t j = 0;
    for (; j + lanes <= n; j += lanes) {
      Float16 xv;
      Int16 vi;
      std::memcpy(&xv, x + j, sizeof xv);
      std::memcpy(&vi, v + j, sizeof vi);
      // value - zp is exact in float: counts stay far below 2^24 in practice and exactly representable ones
      // below 2^24 are the ones that matter for an error sum.
      const Float16 d = xv - (__builtin_convertvector(vi, Float16) - zp) * scale;
      norm16 += xv * xv;
      err16 += d * d;
    }
    for (; j < n; ++j) {
      const float d = x[j] - (static_cast<float>(v[j]) - zp) * scale;
      norm16[0] += x[j] * x[j];
      err16[0] += d * d;
    }
    for (std::size_t w = 0; w < lanes; ++w) {
      norm += static_cast<double>(norm16[w]);
      err += static_cast<double>(err16[w]);
    }
  }
  // A whole row, in the chunks code_site uses.
  void add_row(const float* x, const std::int32_t* v, std::size_t cols, std::int32_t zero_point,
               float scale) {
    for (std::size_t c0 = 0; c0 < cols; c0 += chunk_elements)
      add(x + c0, v + c0, std::min(chunk_elements, cols - c0), zero_point, scale);
  }
};

struct RowError {
  double norm = 0.0;
  double err = 0.0;
};

RowError error_total(const ErrorSums& s) {
  return {s.norm, s.err};
}

// Per-thread sums of events and graded events per presynaptic neuron, merged into the totals at the end.
// Empty when fan-outs are uniform (then per-row totals are kept instead).
struct ColumnSums {
  std::vector<std::uint64_t> events;  // [cols] or empty
  std::vector<std::uint64_t> graded;  // [cols] or empty
  ColumnSums(std::size_t cols, bool per_column)
      : events(per_column ? cols : 0, 0), graded(events.size(), 0) {}
  void merge_into(ColumnSums& total) const {
    for (std::size_t j = 0; j < events.size(); ++j) {
      total.events[j] += events[j];
      total.graded[j] += graded[j];
    }
  }
};

void tally_values(Family family, const std::int32_t* v, std::size_t n, std::int32_t zp,
                  std::uint32_t twos_mask, std::uint64_t magnitude_bound, ColumnSums& sums, std::size_t col0,
                  RowTally& t) {
  const bool narrow =
      magnitude_bound < (std::uint64_t{1} << 31U) && (magnitude_bound + 1) * n < (std::uint64_t{1} << 32U);
  if (sums.events.empty()) {
    if (narrow) {
      tally_values<false, std::uint32_t>(family, v, n, zp, twos_mask, nullptr, nullptr, t);
    } else {
      tally_values<false, std::uint64_t>(family, v, n, zp, twos_mask, nullptr, nullptr, t);
    }
  } else {
    tally_values<true, std::uint64_t>(family, v, n, zp, twos_mask, sums.events.data() + col0,
                                      sums.graded.data() + col0, t);
  }
}

std::uint64_t magnitude_bound_of(std::int32_t lo, std::int32_t hi, std::int32_t zp) {
  const auto m = std::max(std::abs(std::int64_t{lo}), std::abs(std::int64_t{hi}));
  return static_cast<std::uint64_t>(m + std::abs(std::int64_t{zp}));
}

// Whether every presynaptic neuron has the same fan-out (and non-zero fan-out): then event totals suffice.
bool uniform_fanout(std::span<const std::int64_t> fanout, std::span<const std::int64_t> fanout_nonzero) {
  return std::adjacent_find(fanout.begin(), fanout.end(), std::not_equal_to<>()) == fanout.end() &&
         std::adjacent_find(fanout_nonzero.begin(), fanout_nonzero.end(), std::not_equal_to<>()) ==
             fanout_nonzero.end();
}

// Tallies every row of `coded` (and, when x is given, measures each row's reconstruction error).
void tally_rows(const coding::CodedTensor& coded, std::span<const float> x, std::vector<RowTally>& tally,
                std::vector<RowError>& error, ColumnSums& total) {
  const auto cols = static_cast<std::size_t>(coded.cols);
  const auto rows = static_cast<std::int64_t>(coded.rows);
  const Family family = family_of(coded.scheme);
  const std::uint32_t twos_mask = twos_mask_of(coded.steps);
#pragma omp parallel if (coded.value.size() >= threaded_elements)
  {
    ColumnSums sums(cols, !total.events.empty());
#pragma omp for schedule(static) nowait
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto ru = static_cast<std::size_t>(r);
      const std::int32_t* v = coded.value.data() + ru * cols;
      tally[ru] = RowTally{};
      tally_values(family, v, cols, coded.zero_point[ru], twos_mask,
                   std::numeric_limits<std::uint64_t>::max(), sums, 0, tally[ru]);
      if (!x.empty()) {
        ErrorSums e;
        e.add_row(x.data() + ru * cols, v, cols, coded.zero_point[ru], coded.scale[ru]);
        error[ru] = error_total(e);
      }
    }
#pragma omp critical(spikesim_tally_rows)
    sums.merge_into(total);
  }
}

// The counters of DESIGN §3 from per-row tallies and per-presynaptic-neuron event sums.
SiteCounters assemble(const coding::CodedTensor& coded, const std::vector<RowTally>& tally,
                      const ColumnSums& sums, std::span<const std::int64_t> fanout,
                      std::span<const std::int64_t> fanout_nonzero, std::int64_t post_neurons) {
  SiteCounters c;
  const Family family = family_of(coded.scheme);
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto cols = static_cast<std::size_t>(coded.cols);
  const auto steps = static_cast<std::uint64_t>(coded.steps);
  const auto post = static_cast<std::uint64_t>(post_neurons);
  for (std::size_t r = 0; r < rows; ++r) {
    const RowTally& t = tally[r];
    for (std::size_t i = 0; i < c.count_histogram.size(); ++i)
      c.count_histogram[i] += t.histogram[i];
    c.abs_count_sum += t.abs_count_sum;
    c.post_neuron_updates_active += t.active_steps(family) * post;
    c.zero_point_macs += coded.zero_point[r] != 0 ? post : 0;
  }
  if (sums.events.empty()) {  // uniform fan-outs: per-row totals
    const auto f = static_cast<std::uint64_t>(fanout.empty() ? 0 : fanout[0]);
    const auto f_nonzero = static_cast<std::uint64_t>(fanout_nonzero.empty() ? 0 : fanout_nonzero[0]);
    for (std::size_t r = 0; r < rows; ++r) {
      c.spikes += tally[r].events;
      c.spikes_graded += tally[r].graded;
    }
    c.sops = c.spikes * f;
    c.graded_sops = c.spikes_graded * f;
    c.effective_sops = c.spikes * f_nonzero;
    c.graded_effective_sops = c.spikes_graded * f_nonzero;
  }
  for (std::size_t j = 0; j < sums.events.size(); ++j) {
    const auto f = static_cast<std::uint64_t>(fanout[j]);
    const auto f_nonzero = static_cast<std::uint64_t>(fanout_nonzero[j]);
    c.spikes += sums.events[j];
    c.spikes_graded += sums.graded[j];
    c.sops += sums.events[j] * f;
    c.graded_sops += sums.graded[j] * f;
    c.effective_sops += sums.events[j] * f_nonzero;
    c.graded_effective_sops += sums.graded[j] * f_nonzero;
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
  c.post_neuron_updates = rows * post * steps;
  c.rescale_muls = rows * post;
  return c;
}

void check_fanouts(std::size_t cols, std::span<const std::int64_t> fanout,
                   std::span<const std::int64_t> fanout_nonzero) {
  if (fanout.size() != cols || fanout_nonzero.size() != cols) {
    throw std::invalid_argument(cat("count_coded: ", cols, " presynaptic neurons but fan-outs for ",
                                    fanout.size(), " and ", fanout_nonzero.size()));
  }
}

}  // namespace

// Adds the events each presynaptic neuron sent (summed over rows) to spikes_per_input [cols].
void add_spikes_per_input(const coding::CodedTensor& coded, std::span<std::uint64_t> spikes_per_input) {
  if (spikes_per_input.empty()) return;
  const auto cols = static_cast<std::size_t>(coded.cols);
  if (spikes_per_input.size() != cols) {
    throw std::invalid_argument(
        cat("spikes_per_input has ", spikes_per_input.size(), " entries for ", cols, " presynaptic neurons"));
  }
  for (std::size_t i = 0; i < coded.value.size(); ++i) {
    spikes_per_input[i % cols] +=
        static_cast<std::uint64_t>(coding::tally(coded.scheme, coded.steps, coded.value[i]).spikes);
  }
}

SiteCounters count_coded(const coding::CodedTensor& coded, std::span<const std::int64_t> fanout,
                         std::span<const std::int64_t> fanout_nonzero, std::int64_t post_neurons,
                         std::span<std::uint64_t> spikes_per_input) {
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto cols = static_cast<std::size_t>(coded.cols);
  check_fanouts(cols, fanout, fanout_nonzero);
  std::vector<RowTally> tally(rows);  // [rows]
  std::vector<RowError> no_error;
  ColumnSums sums(cols, !uniform_fanout(fanout, fanout_nonzero));
  tally_rows(coded, {}, tally, no_error, sums);
  add_spikes_per_input(coded, spikes_per_input);
  return assemble(coded, tally, sums, fanout, fanout_nonzero, post_neurons);
}

CodedSite code_site(const SiteConfig& config, std::span<const float> x, std::int64_t tokens, std::int64_t in,
                    std::span<const std::int64_t> fanout, std::span<const std::int64_t> fanout_nonzero,
                    std::int64_t post_neurons, std::string_view what) {
  CodedSite site;
  code_site(config, x, tokens, in, fanout, fanout_nonzero, post_neurons, what, site);
  return site;
}

void code_site(const SiteConfig& config, std::span<const float> x, std::int64_t tokens, std::int64_t in,
               std::span<const std::int64_t> fanout, std::span<const std::int64_t> fanout_nonzero,
               std::int64_t post_neurons, std::string_view what, CodedSite& site) {
  const neurons::NeuronConfig& neuron = config.neuron;
  neurons::validate(neuron);
  coding::validate_options(config.coding, what);
  if (tokens < 0 || in < 1 || x.size() != static_cast<std::size_t>(tokens * in)) {
    throw neurons::NeuronError(cat(what, ": expected ", tokens, " x ", in, " values, found ", x.size()));
  }
  const auto rows = static_cast<std::size_t>(tokens);
  const auto cols = static_cast<std::size_t>(in);
  check_fanouts(cols, fanout, fanout_nonzero);

  site.counters = SiteCounters{};
  coding::CodedTensor& coded = site.coded;
  coded.scheme = config.coding.scheme;
  coded.steps = 0;
  coded.rows = tokens;
  coded.cols = in;
  coded.saturated = 0;
  coded.zero_point.assign(rows, 0);
  // The adaptive neuron with a per-row (or fixed) threshold codes each row on its own: fused below. Other
  // neurons need the whole tensor first (a per-tensor mean, LIF dynamics): fire them, then fuse the rest.
  const bool fused_neuron = neuron.kind == neurons::NeuronKind::adaptive &&
                            (neuron.v_th || neuron.granularity == neurons::Granularity::per_row);
  if (fused_neuron) {
    coded.value.resize(x.size());
    coded.scale.resize(rows);
  } else {
    neurons::SpikeCounts counts = neurons::fire(neuron, x, tokens, in, what);
    coded.value = std::move(counts.count);
    coded.scale = std::move(counts.scale);
  }

  const Family family = family_of(coded.scheme);
  const bool shifted = coding::needs_zero_point(coded.scheme);
  // Values are final after the chunk pass unless the row needs a zero point; two's complement patterns
  // need T, known only after every row: those are tallied in a second pass.
  const bool tally_in_chunks = !shifted && family != Family::twos;
  std::vector<RowTally> tally(rows);       // [rows]
  std::vector<RowError> error(rows);       // [rows]
  std::vector<std::uint8_t> bad(rows, 0);  // [rows] a count beyond 2^30
  const bool per_column = !uniform_fanout(fanout, fanout_nonzero);
  ColumnSums sums(cols, per_column);
  std::int32_t lo = 0;
  std::int32_t hi = 0;
  const auto n_rows = static_cast<std::int64_t>(rows);
#pragma omp parallel if (x.size() >= threaded_elements)
  {
    ColumnSums local(cols, per_column);
#pragma omp for schedule(static) reduction(min : lo) reduction(max : hi) nowait
    for (std::int64_t r = 0; r < n_rows; ++r) {
      const auto ru = static_cast<std::size_t>(r);
      const float* xr = x.data() + ru * cols;
      std::int32_t* vr = coded.value.data() + ru * cols;
      if (fused_neuron) {
        coded.scale[ru] = neuron.v_th ? static_cast<float>(*neuron.v_th)
                                      : neurons::adaptive_threshold(x.subspan(ru * cols, cols), neuron.k);
      }
      const float v_th = coded.scale[ru];
      bool ok = true;
      std::int32_t row_lo = 0;
      std::int32_t row_hi = 0;
      ErrorSums e;
      RowTally t;
      for (std::size_t c0 = 0; c0 < cols; c0 += chunk_elements) {
        const std::size_t n = std::min(chunk_elements, cols - c0);
        if (fused_neuron) {
          ok = neurons::adaptive_counts_row({xr + c0, n}, v_th, {vr + c0, n}) && ok;
        }
        std::int32_t chunk_lo = 0;
        std::int32_t chunk_hi = 0;
        for (std::size_t j = c0; j < c0 + n; ++j) {  // vectorises
          chunk_lo = std::min(chunk_lo, vr[j]);
          chunk_hi = std::max(chunk_hi, vr[j]);
        }
        row_lo = std::min(row_lo, chunk_lo);
        row_hi = std::max(row_hi, chunk_hi);
        e.add(xr + c0, vr + c0, n, 0, v_th);  // counts before any shift: x̂ = count * V_th
        if (tally_in_chunks) {
          tally_values(family, vr + c0, n, 0, 0, magnitude_bound_of(chunk_lo, chunk_hi, 0), local, c0, t);
        }
      }
      if (!ok) {
        bad[ru] = 1;
        continue;
      }
      error[ru] = error_total(e);
      if (shifted) {
        const coding::RowExtremes s = coding::shift_row(coded.scheme, {vr, cols}, coded.zero_point[ru]);
        row_lo = s.lo;
        row_hi = s.hi;
        tally_values(family, vr, cols, coded.zero_point[ru], 0,
                     magnitude_bound_of(row_lo, row_hi, coded.zero_point[ru]), local, 0, t);
      }
      tally[ru] = t;
      lo = std::min(lo, row_lo);
      hi = std::max(hi, row_hi);
    }
#pragma omp critical(spikesim_code_site)
    local.merge_into(sums);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    if (bad[r] != 0) {
      neurons::throw_count_overflow(x.subspan(r * cols, cols), static_cast<std::int64_t>(r), coded.scale[r],
                                    what);
    }
  }
  const bool clipped = coding::finish_steps(coded, lo, hi, config.coding, what);
  if (clipped || family == Family::twos) {  // values changed, or patterns needed T: tally again
    sums = ColumnSums(cols, per_column);
    tally_rows(coded, clipped ? x : std::span<const float>{}, tally, error, sums);
  }
  site.counters = assemble(coded, tally, sums, fanout, fanout_nonzero, post_neurons);
  for (const RowError& r : error) {
    site.counters.input_sq_norm += r.norm;
    site.counters.reconstruction_sq_err += r.err;
  }
}

void add_reconstruction_error(const coding::CodedTensor& coded, std::span<const float> x,
                              SiteCounters& counters) {
  const auto cols = static_cast<std::size_t>(coded.cols);
  const auto rows = static_cast<std::int64_t>(coded.rows);
  std::vector<RowError> error(static_cast<std::size_t>(rows));  // [rows], added in row order below
#pragma omp parallel for schedule(static) if (x.size() >= threaded_elements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    ErrorSums e;
    e.add_row(x.data() + ru * cols, coded.value.data() + ru * cols, cols, coded.zero_point[ru],
              coded.scale[ru]);
    error[ru] = error_total(e);
  }
  for (const RowError& e : error) {
    counters.input_sq_norm += e.norm;
    counters.reconstruction_sq_err += e.err;
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

SiteCounters count_query_events(const coding::CodedTensor& coded, std::int64_t heads,
                                std::span<const std::int64_t> keys_per_token) {
  SiteCounters c;
  coding::CodedTensor token;
  token.scheme = coded.scheme;
  token.steps = coded.steps;
  token.rows = heads;
  token.cols = coded.cols;
  const auto per_token = static_cast<std::ptrdiff_t>(heads * coded.cols);
  for (std::size_t t = 0; t < keys_per_token.size(); ++t) {
    const std::int64_t keys = keys_per_token[t];
    const auto at = static_cast<std::ptrdiff_t>(t) * per_token;
    token.value.assign(coded.value.begin() + at, coded.value.begin() + at + per_token);
    const auto h0 = static_cast<std::ptrdiff_t>(t) * heads;
    token.scale.assign(coded.scale.begin() + h0, coded.scale.begin() + h0 + heads);
    token.zero_point.assign(coded.zero_point.begin() + h0, coded.zero_point.begin() + h0 + heads);
    const std::vector<std::int64_t> fanout(static_cast<std::size_t>(coded.cols), keys);
    add_synapse_side(c, count_coded(token, fanout, fanout, keys));
  }
  return c;
}

void add_synapse_side(SiteCounters& into, const SiteCounters& d) {
  into.sops += d.sops;
  into.graded_sops += d.graded_sops;
  into.effective_sops += d.effective_sops;
  into.graded_effective_sops += d.graded_effective_sops;
  into.weight_words_read += d.weight_words_read;
  into.post_neuron_updates += d.post_neuron_updates;
  into.post_neuron_updates_active += d.post_neuron_updates_active;
  into.zero_point_macs += d.zero_point_macs;
  into.rescale_muls += d.rescale_muls;
}

}  // namespace spikesim::sim
