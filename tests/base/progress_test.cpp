// Progress line: counts, percentage, ETA from a fake clock; nothing at all when disabled.

#include "base/progress.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace spikesim::sim {
namespace {

TEST(Progress, ShowsCountPercentElapsedAndEta) {
  std::ostringstream out;
  double now = 100.0;
  {
    Progress p("compare", out, true, [&] { return now; });
    p.start(4);
    now = 110.0;
    p.advance(1, "cell a");
    EXPECT_EQ(p.status(), "compare [1/4] 25% 0:10 elapsed, ETA 0:30  cell a");
    now = 110.05;  // redraws are throttled to one per 0.1 s
    p.advance(1, "cell b");
    now = 130.0;
    p.advance(2, "cell d");  // the last step always draws
    EXPECT_EQ(p.status(), "compare [4/4] 100% 0:30 elapsed  cell d");
  }
  const std::string text = out.str();
  EXPECT_NE(text.find("\rcompare [1/4] 25% 0:10 elapsed, ETA 0:30  cell a"), std::string::npos) << text;
  EXPECT_EQ(text.find("cell b"), std::string::npos) << text;
  EXPECT_NE(text.find("\rcompare [4/4] 100% 0:30 elapsed  cell d"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');  // finished by the destructor
}

TEST(Progress, UnknownTotalAndDisabledOutput) {
  std::ostringstream out;
  double now = 0.0;
  Progress p("run", out, true, [&] { return now; });
  p.start(0);
  now = 75.0;
  p.advance(3);
  EXPECT_EQ(p.status(), "run [3] 1:15 elapsed");

  std::ostringstream quiet;
  Progress q("run", quiet, false);
  q.start(10);
  q.advance(10, "x");
  q.finish();
  EXPECT_TRUE(quiet.str().empty());
  EXPECT_EQ(format_duration(3725), "1:02:05");
}

}  // namespace
}  // namespace spikesim::sim
