// base/csv.hpp: RFC 4180 quoting of names.

#include "base/csv.hpp"

#include <gtest/gtest.h>

namespace spikesim {
namespace {

TEST(Csv, PlainFieldsKeepTheirBytesOthersAreQuoted) {
  EXPECT_EQ(csv_field("layers.0.q_proj"), "layers.0.q_proj");
  EXPECT_EQ(csv_field("a b;c"), "a b;c");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(csv_field("cr\rhere"), "\"cr\rhere\"");
}

}  // namespace
}  // namespace spikesim
