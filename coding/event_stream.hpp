#pragma once
// Compact event stream of one coded tensor: per virtual step, the presynaptic neurons that fire and their
// sign. Events of step t are [step_offset[t], step_offset[t+1]); within a step neurons are in ascending
// order.

#include <cstdint>
#include <vector>

#include "coding/coded_tensor.hpp"

namespace spikesim::coding {

struct EventStream {
  Scheme scheme = Scheme::ternary;
  std::int32_t steps = 0;                  // T
  std::int64_t rows = 0;                   // tokens
  std::int64_t cols = 0;                   // presynaptic neurons per token
  std::vector<float> scale;                // [rows] V_th
  std::vector<std::int32_t> zero_point;    // [rows]
  std::vector<std::uint64_t> step_offset;  // [T + 1]
  std::vector<std::uint32_t> neuron;       // [events] flat index r * cols + c
  std::vector<std::int8_t> sign;           // [events] +1 or -1

  [[nodiscard]] std::uint64_t events() const { return neuron.size(); }
};

// Splits every value into spikes, MSB first for bitwise. Exact: decode(encode(c)) == c.
EventStream encode(const CodedTensor& coded);
// Sums spike weights back into integer values. Throws CodingError on a malformed stream.
CodedTensor decode(const EventStream& events);

}  // namespace spikesim::coding
