#include "coding/event_stream.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "base/text.hpp"

namespace spikesim::coding {

namespace {

// Sign of the spike a value sends at step t, or 0 when it is silent.
std::int8_t spike_at(Scheme scheme, std::int32_t steps, std::int32_t t, std::int32_t value) {
  const std::int8_t sign = value < 0 ? -1 : 1;
  const auto magnitude = static_cast<std::uint32_t>(std::abs(value));
  switch (scheme) {
    case Scheme::binary:
    case Scheme::ternary:
      return static_cast<std::uint32_t>(t) < magnitude ? sign : std::int8_t{0};
    case Scheme::bitwise:
    case Scheme::bitwise_unsigned:
      return ((magnitude >> static_cast<unsigned>(steps - 1 - t)) & 1U) != 0 ? sign : std::int8_t{0};
    case Scheme::bitwise_twos: {
      const auto pattern = static_cast<std::uint32_t>(value);
      return ((pattern >> static_cast<unsigned>(steps - 1 - t)) & 1U) != 0 ? std::int8_t{1} : std::int8_t{0};
    }
  }
  return 0;
}

}  // namespace

EventStream encode(const CodedTensor& coded) {
  if (coded.size() > std::int64_t{std::numeric_limits<std::uint32_t>::max()}) {
    throw CodingError(cat("event stream: ", coded.size(), " neurons exceed the 2^32 an event can address"));
  }
  EventStream out;
  out.scheme = coded.scheme;
  out.steps = coded.steps;
  out.rows = coded.rows;
  out.cols = coded.cols;
  out.scale = coded.scale;
  out.zero_point = coded.zero_point;
  out.step_offset.assign(static_cast<std::size_t>(coded.steps) + 1, 0);

  std::uint64_t total = 0;
  for (const std::int32_t v : coded.value)
    total += static_cast<std::uint64_t>(tally(coded.scheme, coded.steps, v).spikes);
  out.neuron.reserve(total);
  out.sign.reserve(total);
  for (std::int32_t t = 0; t < coded.steps; ++t) {
    for (std::size_t i = 0; i < coded.value.size(); ++i) {
      const std::int8_t s = spike_at(coded.scheme, coded.steps, t, coded.value[i]);
      if (s != 0) {
        out.neuron.push_back(static_cast<std::uint32_t>(i));
        out.sign.push_back(s);
      }
    }
    out.step_offset[static_cast<std::size_t>(t) + 1] = out.neuron.size();
  }
  return out;
}

CodedTensor decode(const EventStream& events) {
  const auto n = static_cast<std::uint64_t>(events.rows * events.cols);
  if (events.step_offset.size() != static_cast<std::size_t>(events.steps) + 1 ||
      events.step_offset.front() != 0 || events.step_offset.back() != events.neuron.size() ||
      events.sign.size() != events.neuron.size() ||
      events.scale.size() != static_cast<std::size_t>(events.rows) ||
      events.zero_point.size() != static_cast<std::size_t>(events.rows)) {
    throw CodingError("event stream: offsets, neurons, signs, scales and zero points disagree in length");
  }
  CodedTensor out;
  out.scheme = events.scheme;
  out.steps = events.steps;
  out.rows = events.rows;
  out.cols = events.cols;
  out.scale = events.scale;
  out.zero_point = events.zero_point;
  std::vector<std::int64_t> sum(static_cast<std::size_t>(n), 0);
  for (std::int32_t t = 0; t < events.steps; ++t) {
    const auto w = static_cast<std::int64_t>(step_weight(events.scheme, events.steps, t));
    const auto begin = events.step_offset[static_cast<std::size_t>(t)];
    const auto end = events.step_offset[static_cast<std::size_t>(t) + 1];
    if (end < begin) throw CodingError(cat("event stream: step ", t, " ends before it begins"));
    for (auto e = begin; e < end; ++e) {
      if (events.neuron[e] >= n) {
        throw CodingError(cat("event stream: event ", e, " addresses neuron ", events.neuron[e], " of ", n));
      }
      sum[events.neuron[e]] += w * events.sign[e];
    }
  }
  out.value.resize(sum.size());
  for (std::size_t i = 0; i < sum.size(); ++i)
    out.value[i] = static_cast<std::int32_t>(sum[i]);
  return out;
}

}  // namespace spikesim::coding
