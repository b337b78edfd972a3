// The counter field list is the one definition of SiteCounters' fields: += and the stored-record JSON walk
// it, so every field survives a round trip and adds up (the bug this guards against: a resumed compare lost
// elementwise_ops because the JSON writer had its own list).

#include "base/counters.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <type_traits>

#include "sim/report/record_io.hpp"

namespace spikesim {
namespace {

// Gives every field a distinct value: field i gets 100 + i (arrays: 100 + i + element).
SiteCounters distinct(std::uint64_t base) {
  SiteCounters c;
  std::uint64_t i = 0;
  for_each_counter_field([&](const char*, auto member, Merge) {
    auto& v = c.*member;
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_arithmetic_v<T>) {
      v = static_cast<T>(base + i);
    } else {
      for (std::size_t e = 0; e < v.size(); ++e)
        v[e] = base + i + e;
    }
    ++i;
  });
  return c;
}

TEST(Counters, EveryFieldIsListedOnceAndCoversTheStruct) {
  std::set<std::string> names;
  std::size_t bytes = 0;
  for_each_counter_field([&](const char* name, auto member, Merge) {
    EXPECT_TRUE(names.insert(name).second) << name;
    bytes += sizeof(SiteCounters{}.*member);
  });
  // No field is missing from the list: the listed members fill the struct (up to padding).
  EXPECT_LE(sizeof(SiteCounters) - bytes, 8U);
  EXPECT_TRUE(names.contains("elementwise_ops"));
}

TEST(Counters, JsonRoundTripKeepsEveryField) {
  const SiteCounters c = distinct(100);
  const SiteCounters back = sim::counters_from_json(sim::counters_json(c), "test");
  for_each_counter_field(
      [&](const char* name, auto member, Merge) { EXPECT_EQ(back.*member, c.*member) << name; });
  // A missing field is an error naming it.
  auto j = sim::counters_json(c);
  j.erase("elementwise_ops");
  EXPECT_THROW((void)sim::counters_from_json(j, "cell.json"), OutputError);
}

TEST(Counters, AddSumsEveryFieldAndKeepsTheLargestT) {
  const SiteCounters a = distinct(100);
  const SiteCounters b = distinct(1000);
  SiteCounters sum = a;
  sum += b;
  for_each_counter_field([&](const char* name, auto member, Merge merge) {
    const auto& got = sum.*member;
    using T = std::remove_cvref_t<decltype(got)>;
    if constexpr (std::is_arithmetic_v<T>) {
      EXPECT_EQ(got, merge == Merge::max ? std::max(a.*member, b.*member) : a.*member + b.*member) << name;
    } else {
      for (std::size_t e = 0; e < got.size(); ++e)
        EXPECT_EQ(got[e], (a.*member)[e] + (b.*member)[e]) << name;
    }
  });
}

}  // namespace
}  // namespace spikesim
