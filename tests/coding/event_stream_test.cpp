#include "coding/event_stream.hpp"

#include <gtest/gtest.h>

#include <random>

namespace spikesim::coding {
namespace {

neurons::SpikeCounts random_counts(std::int64_t rows, std::int64_t cols, int lo, int hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  neurons::SpikeCounts s;
  s.rows = rows;
  s.cols = cols;
  s.count.resize(static_cast<std::size_t>(rows * cols));
  for (auto& c : s.count)
    c = dist(rng);
  for (std::int64_t r = 0; r < rows; ++r)
    s.scale.push_back(0.5F + static_cast<float>(r));
  return s;
}

// Property: decode(encode(s)) == s for every scheme on random signed and unsigned counts.
TEST(EventStream, DecodeInvertsEncodeForEveryScheme) {
  for (const Scheme scheme : all_schemes()) {
    for (std::uint32_t seed = 0; seed < 20; ++seed) {
      SCOPED_TRACE(std::string(name(scheme)) + " seed " + std::to_string(seed));
      const int lo = seed % 2 == 0 ? -40 : 0;
      const auto counts = random_counts(7, 13, lo, 40, seed);
      const CodedTensor coded =
          prepare(counts, {.scheme = scheme, .steps = std::nullopt, .saturate = false}, "x");
      const EventStream events = encode(coded);
      const CodedTensor back = decode(events);
      EXPECT_EQ(back.value, coded.value);
      EXPECT_EQ(counts_of(back).count, counts.count);
      EXPECT_EQ(back.scale, counts.scale);
      // Events within a step are in ascending neuron order, signs are +-1.
      for (std::int32_t t = 0; t < events.steps; ++t) {
        for (auto e = events.step_offset[static_cast<std::size_t>(t)] + 1;
             e < events.step_offset[static_cast<std::size_t>(t) + 1]; ++e) {
          ASSERT_LT(events.neuron[e - 1], events.neuron[e]);
        }
      }
      for (const auto s : events.sign)
        ASSERT_TRUE(s == 1 || s == -1);
    }
  }
}

TEST(EventStream, NonNegativeSchemesShiftSignedCountsByAZeroPoint) {
  neurons::SpikeCounts s{.rows = 2, .cols = 3, .count = {-2, 0, 3, 1, 2, 0}, .scale = {1.0F, 1.0F}};
  const CodedTensor coded =
      prepare(s, {.scheme = Scheme::binary, .steps = std::nullopt, .saturate = false}, "x");
  EXPECT_EQ(coded.zero_point, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(coded.value, (std::vector<std::int32_t>{0, 2, 5, 1, 2, 0}));
  EXPECT_EQ(coded.steps, 5);
  const EventStream events = encode(coded);
  for (const auto sign : events.sign)
    EXPECT_EQ(sign, 1);
  EXPECT_EQ(events.events(), 10U);
}

TEST(EventStream, FixedStepsTooSmallIsAnErrorUnlessSaturating) {
  neurons::SpikeCounts s{.rows = 1, .cols = 3, .count = {9, -1, 2}, .scale = {1.0F}};
  try {
    (void)prepare(s, {.scheme = Scheme::bitwise, .steps = 3, .saturate = false}, "layer q input");
    FAIL() << "expected CodingError";
  } catch (const CodingError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer q input"), std::string::npos) << msg;
    EXPECT_NE(msg.find("needs T >= 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[0, 0]"), std::string::npos) << msg;
  }
  const CodedTensor clipped = prepare(s, {.scheme = Scheme::bitwise, .steps = 3, .saturate = true}, "x");
  EXPECT_EQ(clipped.value, (std::vector<std::int32_t>{7, -1, 2}));
  EXPECT_EQ(clipped.saturated, 1);
  const CodedTensor twos = prepare(s, {.scheme = Scheme::bitwise_twos, .steps = 3, .saturate = true}, "x");
  EXPECT_EQ(twos.value, (std::vector<std::int32_t>{3, -1, 2}));
  EXPECT_EQ(decode(encode(twos)).value, twos.value);
}

TEST(EventStream, MalformedStreamIsRejected) {
  neurons::SpikeCounts s{.rows = 1, .cols = 2, .count = {1, 2}, .scale = {1.0F}};
  EventStream e = encode(prepare(s, {}, "x"));
  e.neuron.back() = 99;
  EXPECT_THROW((void)decode(e), CodingError);
  e.step_offset.pop_back();
  EXPECT_THROW((void)decode(e), CodingError);
}

}  // namespace
}  // namespace spikesim::coding
