#include "coding/scheme.hpp"

#include <gtest/gtest.h>

namespace spikesim::coding {
namespace {

TEST(Scheme, ParsesEveryNameAndRejectsUnknown) {
  for (const Scheme s : all_schemes())
    EXPECT_EQ(parse_scheme(name(s)), s);
  try {
    (void)parse_scheme("quaternary");
    FAIL() << "expected CodingError";
  } catch (const CodingError& e) {
    EXPECT_NE(std::string(e.what()).find("quaternary"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("bitwise-twos"), std::string::npos);  // lists the valid names
  }
}

TEST(Scheme, RequiredStepsFollowDesign) {
  EXPECT_EQ(required_steps(Scheme::ternary, -11, 6), 11);
  EXPECT_EQ(required_steps(Scheme::binary, 0, 19), 19);
  EXPECT_EQ(required_steps(Scheme::bitwise, -11, 6), 4);  // ceil(log2(12))
  EXPECT_EQ(required_steps(Scheme::bitwise, 0, 0), 1);    // max(1, ...)
  EXPECT_EQ(required_steps(Scheme::bitwise_twos, -11, 6), 5);
  EXPECT_EQ(required_steps(Scheme::bitwise_twos, 0, 1), 2);  // max(2, ...)
  EXPECT_EQ(required_steps(Scheme::bitwise_unsigned, 0, 16), 5);
}

TEST(Scheme, StepWeightsAreMsbFirst) {
  EXPECT_EQ(step_weight(Scheme::bitwise, 4, 0), 8.0);
  EXPECT_EQ(step_weight(Scheme::bitwise, 4, 3), 1.0);
  EXPECT_EQ(step_weight(Scheme::bitwise_twos, 4, 0), -8.0);
  EXPECT_EQ(step_weight(Scheme::bitwise_twos, 4, 1), 4.0);
  EXPECT_EQ(step_weight(Scheme::ternary, 4, 0), 1.0);
}

TEST(Scheme, TallyCountsSpikesAndGradedSpikes) {
  EXPECT_EQ(tally(Scheme::ternary, 9, -7).spikes, 7);
  EXPECT_EQ(tally(Scheme::ternary, 9, -7).graded, 0);
  EXPECT_EQ(tally(Scheme::bitwise, 4, -11).spikes, 3);      // 1011
  EXPECT_EQ(tally(Scheme::bitwise, 4, -11).graded, 2);      // bits 8 and 2; bit 1 is a plain accumulate
  EXPECT_EQ(tally(Scheme::bitwise_twos, 5, -2).spikes, 4);  // 11110
  EXPECT_EQ(tally(Scheme::bitwise_twos, 5, -2).graded, 4);
  EXPECT_EQ(tally(Scheme::bitwise_twos, 5, 3).spikes, 2);  // 00011
}

TEST(Scheme, RepresentableRanges) {
  EXPECT_EQ(representable(Scheme::bitwise_twos, 5).min, -16);
  EXPECT_EQ(representable(Scheme::bitwise_twos, 5).max, 15);
  EXPECT_EQ(representable(Scheme::bitwise, 3).max, 7);
  EXPECT_EQ(representable(Scheme::binary, 3).min, 0);
  EXPECT_EQ(representable(Scheme::ternary, 3).min, -3);
}

}  // namespace
}  // namespace spikesim::coding
