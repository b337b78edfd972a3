// The spikesim CLI end to end, in-process: reports, exit codes, errors, and no partial output.

#include "sim/cli.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "models/events_file.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_trace(dir_ / "trace.h5", {test::random_layer("q_proj", 0, 24, 32, 16, 1),
                                          test::random_layer("up_proj", 1, 24, 32, 48, 5, false)});
  }
  test::ScratchDir dir_;
};

TEST_F(Cli, RunWritesReportWithEveryRequiredField) {
  ASSERT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--coding", "bitwise", "--k", "3",
                           "--out", (dir_ / "out").string(), "--quiet"}),
            0);
  const json r = read_json(dir_ / "out" / "report.json");
  ASSERT_EQ(r["layers"].size(), 2U);
  EXPECT_EQ(r["layers"][0]["name"], "q_proj");
  EXPECT_EQ(r["layers"][1]["name"], "up_proj");
  for (const auto& l : r["layers"]) {
    for (const char* key :
         {"name", "coding", "k", "T", "zero_fraction", "count_histogram", "firing_rate", "spikes_per_element",
          "sops", "effective_sops", "dense_macs", "reconstruction_rel_error", "energy_pj"}) {
      EXPECT_TRUE(l.contains(key) || r["run"].contains(key)) << key;
    }
    EXPECT_EQ(l["count_histogram"].size(), 4U);
    EXPECT_EQ(l["sops"].get<std::uint64_t>(),
              l["spikes"].get<std::uint64_t>() * l["out_features"].get<std::uint64_t>());
    EXPECT_TRUE(l["energy_pj"].contains("loihi"));
    EXPECT_TRUE(l["energy_pj"]["loihi"]["spiking"].contains("routing"));
    EXPECT_TRUE(l["energy_pj"]["h100-bf16-compute"].contains("dense"));
  }
  EXPECT_EQ(r["run"]["coding"], "bitwise");
  EXPECT_EQ(r["totals"]["sops"].get<std::uint64_t>(),
            r["layers"][0]["sops"].get<std::uint64_t>() + r["layers"][1]["sops"].get<std::uint64_t>());
  const std::string csv = read_text(dir_ / "out" / "layers.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  EXPECT_EQ(csv.rfind("name,kind,index", 0), 0U);
}

TEST_F(Cli, ReportIsIdenticalWhateverTheThreadCount) {
  for (const char* threads : {"1", "2", "5"}) {
    ASSERT_EQ(test::run_cli({"--threads", threads, "run", "--trace", (dir_ / "trace.h5").string(), "--coding",
                             "ternary", "--out", (dir_ / threads).string(), "-q"}),
              0);
  }
  EXPECT_EQ(read_text(dir_ / "1" / "report.json"), read_text(dir_ / "2" / "report.json"));
  EXPECT_EQ(read_text(dir_ / "1" / "report.json"), read_text(dir_ / "5" / "report.json"));
}

TEST_F(Cli, EncodeWritesEventStreams) {
  ASSERT_EQ(test::run_cli({"encode", "--trace", (dir_ / "trace.h5").string(), "--coding", "bitwise-twos",
                           "--out", (dir_ / "events.h5").string(), "-q"}),
            0);
  const auto layers = models::read_events(dir_ / "events.h5");
  ASSERT_EQ(layers.size(), 2U);
  EXPECT_EQ(layers[0].events.scheme, coding::Scheme::bitwise_twos);
  EXPECT_EQ(layers[0].events.rows, 24);
}

TEST_F(Cli, UnknownCodingIsAUsageError) {
  testing::internal::CaptureStderr();
  const int rc = test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--coding", "morse", "--out",
                                (dir_ / "out").string()});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("morse"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
}

TEST_F(Cli, BadInputFailsWithoutPartialOutput) {
  // The second layer has a NaN: the first layer's results must not be written either.
  auto bad = test::random_layer("down_proj", 1, 4, 8, 3, 1);
  bad.input[3] = std::numeric_limits<float>::quiet_NaN();
  test::write_trace(dir_ / "bad.h5", {test::random_layer("q", 0, 4, 8, 3, 2), bad});
  testing::internal::CaptureStderr();
  const int rc =
      test::run_cli({"run", "--trace", (dir_ / "bad.h5").string(), "--out", (dir_ / "out").string()});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("bad.h5: layer 'down_proj' input contains NaN at [0, 3]"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "report.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "layers.csv"));

  // A fixed T that is too small is an error naming the layer; with --saturate it runs and counts clips.
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--coding", "ternary", "--T", "2",
                           "--out", (dir_ / "out").string()}),
            1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("layer 'q_proj' input: fixed T = 2 is too small"),
            std::string::npos);
  ASSERT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--coding", "ternary", "--T", "2",
                           "--saturate", "--out", (dir_ / "out").string(), "-q"}),
            0);
  EXPECT_GT(read_json(dir_ / "out" / "report.json")["totals"]["saturated"].get<int>(), 0);

  // Unknown hardware profile: error before anything is written.
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--hardware", "abacus", "--out",
                           (dir_ / "out2").string()}),
            1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("unknown hardware profile 'abacus'"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out2"));
}

TEST_F(Cli, TruncatedTraceIsAnError) {
  test::write_trace(dir_ / "big.h5", {test::random_layer("q", 0, 64, 64, 64, 2)});
  std::filesystem::resize_file(dir_ / "big.h5", std::filesystem::file_size(dir_ / "big.h5") - 4000);
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::run_cli({"run", "--trace", (dir_ / "big.h5").string(), "--out", (dir_ / "out").string()}),
            1);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("big.h5"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
}

}  // namespace
}  // namespace spikesim
