#include "coding/scheme.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>

#include "base/text.hpp"

namespace spikesim::coding {

namespace {
constexpr std::array<std::string_view, 5> scheme_names = {"binary", "ternary", "bitwise", "bitwise-unsigned",
                                                          "bitwise-twos"};

std::int32_t bits_for(std::uint64_t magnitude) {
  return static_cast<std::int32_t>(std::bit_width(magnitude));  // ceil(log2(m + 1))
}
}  // namespace

Scheme parse_scheme(std::string_view text) {
  for (std::size_t i = 0; i < scheme_names.size(); ++i) {
    if (text == scheme_names[i]) return static_cast<Scheme>(i);
  }
  throw CodingError(cat("unknown coding '", text,
                        "' (expected binary, ternary, bitwise, bitwise-unsigned or bitwise-twos)"));
}

std::string_view name(Scheme scheme) {
  return scheme_names.at(static_cast<std::size_t>(scheme));
}

std::vector<Scheme> all_schemes() {
  return {Scheme::binary, Scheme::ternary, Scheme::bitwise, Scheme::bitwise_unsigned, Scheme::bitwise_twos};
}

double step_weight(Scheme scheme, std::int32_t steps, std::int32_t t) {
  if (!is_bitwise(scheme)) return 1.0;
  const double w = std::ldexp(1.0, steps - 1 - t);
  return (scheme == Scheme::bitwise_twos && t == 0) ? -w : w;
}

std::int32_t required_steps(Scheme scheme, std::int64_t min_value, std::int64_t max_value) {
  const auto max_abs = static_cast<std::uint64_t>(std::max(std::llabs(min_value), std::llabs(max_value)));
  switch (scheme) {
    case Scheme::binary:
    case Scheme::ternary:
      return static_cast<std::int32_t>(std::max<std::uint64_t>(1, max_abs));
    case Scheme::bitwise:
    case Scheme::bitwise_unsigned:
      return std::max(1, bits_for(max_abs));
    case Scheme::bitwise_twos:
      // DESIGN §2 / the reference: T = max(2, ceil(log2(max|s| + 1)) + 1), from the magnitude.
      return std::max(2, bits_for(max_abs) + 1);
  }
  return 1;
}

ValueRange representable(Scheme scheme, std::int32_t steps) {
  const std::int64_t pow2 = std::int64_t{1} << std::min(steps, 62);
  switch (scheme) {
    case Scheme::binary:
      return {0, steps};
    case Scheme::ternary:
      return {-steps, steps};
    case Scheme::bitwise:
      return {-(pow2 - 1), pow2 - 1};
    case Scheme::bitwise_unsigned:
      return {0, pow2 - 1};
    case Scheme::bitwise_twos:
      return {-(pow2 / 2), pow2 / 2 - 1};
  }
  return {0, 0};
}

SpikeTally tally(Scheme scheme, std::int32_t steps, std::int32_t value) {
  const auto magnitude = static_cast<std::uint32_t>(std::abs(value));
  switch (scheme) {
    case Scheme::binary:
    case Scheme::ternary:
      return {static_cast<std::int32_t>(magnitude), 0};
    case Scheme::bitwise:
    case Scheme::bitwise_unsigned: {
      const int spikes = std::popcount(magnitude);
      return {spikes, spikes - static_cast<int>(magnitude & 1U)};
    }
    case Scheme::bitwise_twos: {
      const std::uint32_t mask = steps >= 32 ? ~0U : ((1U << static_cast<unsigned>(steps)) - 1U);
      const std::uint32_t pattern = static_cast<std::uint32_t>(value) & mask;
      const int spikes = std::popcount(pattern);
      return {spikes, spikes - static_cast<int>(pattern & 1U)};
    }
  }
  return {0, 0};
}

}  // namespace spikesim::coding
