// spikesim compare as a library: every cell through the runner, resumable, whole-or-nothing cells, long CSV.

#include "sim/report/compare.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "base/files.hpp"
#include "sim/report/record_io.hpp"
#include "tests/test_util.hpp"

namespace spikesim::sim {
namespace {

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Compare : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_trace(dir_ / "tiny.h5", {test::random_layer("q_proj", 0, 8, 16, 12, 1),
                                         test::random_layer("up_proj", 1, 8, 16, 24, 3, false)});
    request_.models = {(dir_ / "tiny.h5").string()};
    request_.codings = {coding::Scheme::ternary, coding::Scheme::bitwise};
    request_.ks = {2.0, 3.0};
    const auto data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";
    for (const char* p : {"loihi", "h100-bf16-memory", "horowitz45-int8"})
      request_.profiles.push_back(energy::find_profile(p, data));
    request_.out = dir_ / "cmp";
    request_.runner = [this](const RunRequest& r) {
      ++runs_;
      if (fail_at_ > 0 && runs_ == fail_at_) throw std::runtime_error("interrupted");
      return run_model(r);
    };
  }
  test::ScratchDir dir_;
  CompareRequest request_;
  int runs_ = 0;
  int fail_at_ = 0;
};

TEST_F(Compare, RunsEveryCellOnceAndResumesWithoutRunningAgain) {
  CompareSummary s = run_compare(request_);
  EXPECT_EQ(s.cells, 4U);
  EXPECT_EQ(s.ran, 4U);
  EXPECT_EQ(runs_, 4);
  const std::string csv = read_text(request_.out / "compare.csv");
  // Rows per cell: (loihi spiking + h100 dense + int8 spiking + int8 dense) x (5 terms + total) + 2 latencies
  // + 2 break-even pairs (loihi vs h100, int8 vs its own dense side; a 45 nm model is not paired with a GPU).
  const auto lines = std::count(csv.begin(), csv.end(), '\n');
  EXPECT_EQ(lines, 1 + 4 * (4 * 6 + 2 + 2)) << csv.substr(0, 400);
  EXPECT_NE(csv.find(",loihi,break_even,s_star_vs_h100-bf16-memory,"), std::string::npos);
  EXPECT_NE(csv.find(",horowitz45-int8,break_even,s_star_vs_horowitz45-int8,"), std::string::npos);
  EXPECT_EQ(csv.find("horowitz45-int8,break_even,s_star_vs_h100"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(request_.out / "cells" / "tiny__bitwise__k3" / "raster.json"));
  EXPECT_EQ(csv.rfind("model,coding,k,profile,side,term,unit,low,nominal,high,T,zero_fraction", 0), 0U);
  const Json summary = Json::parse(read_text(request_.out / "compare.json"));
  ASSERT_EQ(summary["cells"].size(), 4U);
  EXPECT_EQ(summary["cells"][0]["id"], "tiny__ternary__k2");
  EXPECT_TRUE(summary["cells"][0]["energy_pj"]["loihi"].contains("spiking"));
  EXPECT_NE(read_text(request_.out / "compare.md").find("| tiny | bitwise | 3 |"), std::string::npos);
  const std::string first_report = read_text(request_.out / "cells" / "tiny__ternary__k2" / "report.json");

  // Run again: nothing is recomputed, the reports are identical.
  s = run_compare(request_);
  EXPECT_EQ(s.ran, 0U);
  EXPECT_EQ(s.reused, 4U);
  EXPECT_EQ(runs_, 4);
  EXPECT_EQ(read_text(request_.out / "cells" / "tiny__ternary__k2" / "report.json"), first_report);

  // A new profile needs no new run: energy comes from the stored counters.
  request_.profiles.push_back(
      energy::find_profile("truenorth", std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data"));
  s = run_compare(request_);
  EXPECT_EQ(s.ran, 0U);
  EXPECT_TRUE(
      Json::parse(read_text(request_.out / "compare.json"))["cells"][3]["energy_pj"].contains("truenorth"));

  // A bigger sweep runs only the new cells; --force runs everything.
  request_.ks = {2.0, 3.0, 4.0};
  s = run_compare(request_);
  EXPECT_EQ(s.ran, 2U);
  request_.force = true;
  s = run_compare(request_);
  EXPECT_EQ(s.ran, 6U);
}

TEST_F(Compare, AnInterruptedSweepKeepsFinishedCellsAndNoHalfWrittenFiles) {
  fail_at_ = 3;
  EXPECT_THROW((void)run_compare(request_), std::runtime_error);
  EXPECT_TRUE(std::filesystem::exists(request_.out / "cells" / "tiny__ternary__k2" / "cell.json"));
  EXPECT_TRUE(std::filesystem::exists(request_.out / "cells" / "tiny__ternary__k3" / "cell.json"));
  EXPECT_FALSE(std::filesystem::exists(request_.out / "cells" / "tiny__bitwise__k2"));
  EXPECT_EQ(Json::parse(read_text(request_.out / "compare.json"))["cells"].size(), 2U);
  for (const auto& e : std::filesystem::recursive_directory_iterator(request_.out))
    EXPECT_NE(e.path().extension(), ".partial") << e.path();
  fail_at_ = 0;
  runs_ = 0;
  const CompareSummary s = run_compare(request_);
  EXPECT_EQ(s.ran, 2U);
  EXPECT_EQ(s.reused, 2U);
  EXPECT_EQ(Json::parse(read_text(request_.out / "compare.json"))["cells"].size(), 4U);
}

TEST_F(Compare, ACellListedTwiceIsAUsageErrorBeforeAnyRun) {
  request_.ks = {3.0, 3.0};
  EXPECT_THROW((void)run_compare(request_), UsageError);
  EXPECT_EQ(runs_, 0);
}

TEST_F(Compare, AStoredCellRunWithOtherOptionsIsAnErrorNamingTheOption) {
  (void)run_compare(request_);
  request_.site.neuron.granularity = neurons::Granularity::per_tensor;
  try {
    (void)run_compare(request_);
    FAIL() << "expected an error";
  } catch (const OutputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("tiny__ternary__k2/cell.json"), std::string::npos) << what;
    EXPECT_NE(what.find("granularity"), std::string::npos) << what;
    EXPECT_NE(what.find("--force"), std::string::npos) << what;
  }
}

TEST(RecordIo, RoundTripsEveryCounterAndRejectsMissingFields) {
  LayerRecord l;
  l.name = "q";
  l.in = 3;
  l.out = 2;
  l.weights = 6;
  l.counters.sops = 17;
  l.counters.token_steps = 9;
  l.counters.steps_max = 4;
  l.counters.count_histogram = {1, 2, 3, 4};
  l.counters.output_sq_err = 0.25;
  l.spikes_per_input = {1, 0, 5};
  const auto back = records_from_json(records_json({l}), "x");
  ASSERT_EQ(back.size(), 1U);
  EXPECT_EQ(counters_json(back[0].counters), counters_json(l.counters));
  EXPECT_EQ(back[0].spikes_per_input, l.spikes_per_input);
  Json broken = records_json({l});
  broken[0]["counters"].erase("sops");
  try {
    (void)records_from_json(broken, "cell.json");
    FAIL() << "expected an error";
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("cell.json: layer 'q': missing field 'sops'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace spikesim::sim
