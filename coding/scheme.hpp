#pragma once
// Coding schemes that turn integer spike counts into event streams over T virtual steps (DESIGN §2).
//
//   binary            {0,1}; count s >= 0 fires at steps 0..s-1; signed counts shifted by a per-row zero
//   point ternary           {-1,0,1}; fires sign(s) at steps 0..|s|-1 bitwise           MSB first,
//   bidirectional: each set bit of |s| fires with the sign of s (unsigned when s >= 0) bitwise-unsigned  MSB
//   first, {0,1}; signed counts shifted by a per-row zero point like binary bitwise-twos      MSB first,
//   T-bit two's complement; the spike at step 0 carries weight -2^(T-1)

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace spikesim::coding {

enum class Scheme { binary, ternary, bitwise, bitwise_unsigned, bitwise_twos };

class CodingError : public UserError {
 public:
  using UserError::UserError;
};

Scheme parse_scheme(std::string_view name);  // throws CodingError listing the valid names
std::string_view name(Scheme scheme);
std::vector<Scheme> all_schemes();

[[nodiscard]] constexpr bool is_bitwise(Scheme s) {
  return s == Scheme::bitwise || s == Scheme::bitwise_unsigned || s == Scheme::bitwise_twos;
}
// Schemes whose spikes are all non-negative, so signed counts need a zero-point shift.
[[nodiscard]] constexpr bool needs_zero_point(Scheme s) {
  return s == Scheme::binary || s == Scheme::bitwise_unsigned;
}

// Weight of a spike at step t of T: 2^(T-1-t) for bitwise (negative at t = 0 for two's complement), else 1.
[[nodiscard]] double step_weight(Scheme scheme, std::int32_t steps, std::int32_t t);

// Fewest steps that carry every value in [min_value, max_value] (values already shifted where needed).
[[nodiscard]] std::int32_t required_steps(Scheme scheme, std::int64_t min_value, std::int64_t max_value);

// Inclusive range of values a scheme carries in `steps` steps.
struct ValueRange {
  std::int64_t min;
  std::int64_t max;
};
[[nodiscard]] ValueRange representable(Scheme scheme, std::int32_t steps);

// Spikes that carry `value` and how many of them are graded (|step weight| > 1: an accumulate plus a shift).
struct SpikeTally {
  std::int32_t spikes;
  std::int32_t graded;
};
[[nodiscard]] SpikeTally tally(Scheme scheme, std::int32_t steps, std::int32_t value);

}  // namespace spikesim::coding
