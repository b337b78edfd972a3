// base/dist.hpp in one process (no MPI launcher: the test binary never initialises MPI): one rank, a task
// queue that hands out every task once in order, collectives that return the local values, errors that keep
// their kind. The multi-rank behaviour is tested end to end by tests/scripts/mpi_test.sh.

#include "base/dist.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace spikesim::dist {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Dist, OneProcessIsRankZeroOfOne) {
  EXPECT_EQ(rank(), 0);
  EXPECT_EQ(size(), 1);
  EXPECT_EQ(local_size(), 1);
  EXPECT_EQ(first_failed_rank(false), -1);
  EXPECT_EQ(first_failed_rank(true), 0);
  EXPECT_EQ(sum(41), 41U);
  const std::vector<std::uint64_t> words{1, 2, 3};
  EXPECT_EQ(gather(words), words);
  barrier();
}

TEST(Dist, TaskQueueHandsOutEveryTaskOnceInOrderAndReportsEachDone) {
  std::vector<std::pair<std::uint64_t, int>> done;
  TaskQueue queue(4, [&](std::uint64_t task, int by) { done.emplace_back(task, by); });
  std::vector<std::uint64_t> got;
  while (const auto t = queue.next())
    got.push_back(*t);
  EXPECT_THAT(got, ElementsAre(0U, 1U, 2U, 3U));
  EXPECT_EQ(done.size(), 4U);
  EXPECT_EQ(done.back(), std::make_pair(std::uint64_t{3}, 0));
  EXPECT_FALSE(queue.next().has_value());
  EXPECT_EQ(queue.finish(), -1);
}

TEST(Dist, AFailedTaskStopsTheQueueAndIsNotReportedDone) {
  std::vector<std::uint64_t> done;
  TaskQueue queue(5, [&](std::uint64_t task, int) { done.push_back(task); });
  ASSERT_EQ(queue.next(), 0U);
  ASSERT_EQ(queue.next(), 1U);
  queue.fail();
  EXPECT_FALSE(queue.next().has_value());
  EXPECT_THAT(done, ElementsAre(0U));
  EXPECT_EQ(queue.finish(), 0);
}

TEST(Dist, AllOrNoneRethrowsTheRanksOwnError) {
  int calls = 0;
  all_or_none([&] { ++calls; });
  EXPECT_EQ(calls, 1);
  EXPECT_THROW(all_or_none([] { throw OutputError("disk full"); }), OutputError);
}

TEST(Dist, RethrowInNamesTheTaskAndKeepsTheKind) {
  const auto named = [](auto error) {
    try {
      rethrow_in(std::make_exception_ptr(error), "cell m__ternary__k3");
    } catch (const std::exception& e) {
      return std::make_pair(std::string(e.what()), std::current_exception());
    }
    return std::make_pair(std::string(), std::exception_ptr());
  };
  auto [what, e] = named(OutputError("x.json: disk full"));
  EXPECT_EQ(what, "cell m__ternary__k3: x.json: disk full");
  EXPECT_THROW(std::rethrow_exception(e), OutputError);
  std::tie(what, e) = named(InternalError("broken"));
  EXPECT_THROW(std::rethrow_exception(e), InternalError);
  std::tie(what, e) = named(std::invalid_argument("bad"));
  EXPECT_THAT(what, HasSubstr("cell m__ternary__k3: bad"));
  EXPECT_THROW(std::rethrow_exception(e), std::runtime_error);
  EXPECT_THAT(PeerFailed(1).what(), HasSubstr("rank 1 failed"));
}

}  // namespace
}  // namespace spikesim::dist
