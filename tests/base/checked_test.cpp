// base/checked.hpp: sizes, offsets and counts from files never wrap.

#include "base/checked.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "base/error.hpp"

namespace spikesim {
namespace {

using ::testing::HasSubstr;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Checked, AddAndMulThrowNamingTheThingInsteadOfWrapping) {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(checked_add<UserError>(std::uint64_t{2}, std::uint64_t{3}, "x"), 5U);
  EXPECT_EQ(checked_mul<UserError>(std::uint64_t{1} << 31, std::uint64_t{1} << 32, "x"),
            std::uint64_t{1} << 63);
  EXPECT_THAT(error_of([&] { (void)checked_add<UserError>(max, std::uint64_t{1}, "f.bin: block wq"); }),
              HasSubstr("f.bin: block wq: 18446744073709551615 + 1 overflows a 64-bit size"));
  EXPECT_THAT(error_of([&] { (void)checked_mul<UserError>(std::uint64_t{1} << 62, std::uint64_t{4}, "t"); }),
              HasSubstr("t: 4611686018427387904 x 4 overflows"));
  // Signed: INT64_MAX + 1 is undefined behaviour in plain C++; here it is an error.
  EXPECT_THAT(error_of([] {
                (void)checked_add<UserError>(std::numeric_limits<std::int64_t>::max(), std::int64_t{1}, "s");
              }),
              HasSubstr("overflows"));
}

TEST(Checked, NumelRefusesNegativeDimsTooManyDimsAndOverflow) {
  EXPECT_EQ(checked_numel<UserError>(std::vector<std::int64_t>{2, 3, 4}, "t"), 24U);
  EXPECT_EQ(checked_numel<UserError>(std::vector<std::int64_t>{}, "t"), 1U);
  EXPECT_EQ(checked_numel<UserError>(std::vector<std::int64_t>{5, 0, std::int64_t{1} << 62}, "t"), 0U);
  EXPECT_THAT(error_of([] {
                (void)checked_numel<UserError>(std::vector<std::int64_t>{2, -3}, "t");
              }),
              HasSubstr("t: negative dimension -3"));
  EXPECT_THAT(error_of([] { (void)checked_numel<UserError>(std::vector<std::int64_t>(17, 1), "t"); }),
              HasSubstr("17 dimensions (at most 16"));
  EXPECT_THAT(error_of([] {
                (void)checked_numel<UserError>(
                    std::vector<std::int64_t>{std::int64_t{1} << 40, std::int64_t{1} << 30}, "t");
              }),
              HasSubstr("overflows"));
}

TEST(Checked, RangeAndLimitAndCast) {
  check_range<UserError>(0, 10, 10, "f");
  check_range<UserError>(10, 0, 10, "f");
  EXPECT_THAT(error_of([] { check_range<UserError>(5, 6, 10, "f"); }),
              HasSubstr("f: bytes [5, 5 + 6) lie beyond the 10 bytes of the file"));
  // offset + length wrapping to a small number is caught too.
  EXPECT_THAT(
      error_of([] { check_range<UserError>(std::numeric_limits<std::uint64_t>::max() - 2, 8, 100, "f"); }),
      HasSubstr("lie beyond"));
  check_limit<UserError>(std::int64_t{4096}, 4096, "layers");
  EXPECT_THAT(error_of([] { check_limit<UserError>(std::int64_t{4097}, 4096, "layers", "layers"); }),
              HasSubstr("layers: 4097 layers is more than the limit of 4096 layers"));
  EXPECT_THAT(error_of([] { check_limit<UserError>(std::int64_t{-1}, 4096, "n"); }), HasSubstr("limit"));
  EXPECT_EQ((checked_cast<std::int32_t, UserError>(std::int64_t{7}, "v")), 7);
  EXPECT_THAT(error_of([] { (void)checked_cast<std::int32_t, UserError>(std::int64_t{1} << 40, "v"); }),
              HasSubstr("v: 1099511627776 does not fit"));
}

}  // namespace
}  // namespace spikesim
