#include "coding/coded_tensor.hpp"

#include <algorithm>
#include <limits>

#include "base/text.hpp"

namespace spikesim::coding {

CodedTensor prepare(const neurons::SpikeCounts& counts, const CodingOptions& options, std::string_view what) {
  return prepare(neurons::SpikeCounts(counts), options, what);
}

void validate_options(const CodingOptions& options, std::string_view what) {
  if (options.steps && *options.steps < 1) {
    throw CodingError(cat(what, ": fixed T must be >= 1, got ", *options.steps));
  }
  if (options.steps && *options.steps > 30 && is_bitwise(options.scheme)) {
    throw CodingError(cat(what, ": fixed T = ", *options.steps, " is beyond the 30 bit planes supported"));
  }
}

RowExtremes shift_row(Scheme scheme, std::span<std::int32_t> values, std::int32_t& zero_point) {
  // Counts are bounded by 2^30 in magnitude (neurons/), so shifted values and their extremes fit int32.
  std::int32_t lo = 0;
  std::int32_t hi = 0;
  std::int32_t* v = values.data();
  for (std::size_t c = 0; c < values.size(); ++c) {  // vectorises
    lo = std::min(lo, v[c]);
    hi = std::max(hi, v[c]);
  }
  zero_point = 0;
  if (needs_zero_point(scheme) && lo < 0) {
    zero_point = -lo;
    for (std::size_t c = 0; c < values.size(); ++c)
      v[c] -= lo;
    return {0, hi - lo};
  }
  return {lo, hi};
}

bool finish_steps(CodedTensor& out, std::int32_t lo, std::int32_t hi, const CodingOptions& options,
                  std::string_view what) {
  const Scheme scheme = out.scheme;
  out.steps = options.steps.value_or(required_steps(scheme, lo, hi));
  if (is_bitwise(scheme) && out.steps > 30) {
    throw CodingError(cat(what, ": largest spike count ", std::max(-std::int64_t{lo}, std::int64_t{hi}),
                          " needs T = ", out.steps, " bit planes, beyond the 30 supported"));
  }
  const ValueRange range = representable(scheme, out.steps);
  if (lo >= range.min && hi <= range.max) return false;

  if (!options.saturate) {
    const auto bad = std::find_if(out.value.begin(), out.value.end(),
                                  [&](std::int32_t v) { return v < range.min || v > range.max; });
    const auto i = static_cast<std::int64_t>(bad - out.value.begin());
    throw CodingError(cat(what, ": fixed T = ", out.steps, " is too small for ", name(scheme), " value ",
                          *bad, " at [", i / out.cols, ", ", i % out.cols, "] (needs T >= ",
                          required_steps(scheme, lo, hi), "); pass --saturate to clip instead"));
  }
  for (auto& v : out.value) {
    const auto clipped = static_cast<std::int32_t>(std::clamp<std::int64_t>(v, range.min, range.max));
    out.saturated += clipped != v ? 1 : 0;
    v = clipped;
  }
  return out.saturated > 0;
}

CodedTensor prepare(neurons::SpikeCounts&& counts, const CodingOptions& options, std::string_view what) {
  validate_options(options, what);
  CodedTensor out;
  out.scheme = options.scheme;
  out.rows = counts.rows;
  out.cols = counts.cols;
  out.value = std::move(counts.count);
  out.scale = std::move(counts.scale);
  out.zero_point.assign(static_cast<std::size_t>(out.rows), 0);

  const auto n = static_cast<std::size_t>(out.cols);
  const auto rows = static_cast<std::int64_t>(out.rows);
  std::int32_t lo = 0;
  std::int32_t hi = 0;
#pragma omp parallel for schedule(static) reduction(min                 \
                                                    : lo) reduction(max \
                                                                    : hi) if (out.value.size() >= 65536)
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    const RowExtremes e =
        shift_row(out.scheme, std::span<std::int32_t>(out.value).subspan(ru * n, n), out.zero_point[ru]);
    lo = std::min(lo, e.lo);
    hi = std::max(hi, e.hi);
  }
  finish_steps(out, lo, hi, options, what);
  return out;
}

neurons::SpikeCounts counts_of(const CodedTensor& coded) {
  neurons::SpikeCounts out;
  out.rows = coded.rows;
  out.cols = coded.cols;
  out.scale = coded.scale;
  out.count.resize(coded.value.size());
  const auto n = static_cast<std::size_t>(coded.cols);
  for (std::size_t r = 0; r < static_cast<std::size_t>(coded.rows); ++r) {
    for (std::size_t c = 0; c < n; ++c)
      out.count[r * n + c] = coded.value[r * n + c] - coded.zero_point[r];
  }
  return out;
}

}  // namespace spikesim::coding
