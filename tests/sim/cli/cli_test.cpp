// The spikesim CLI end to end, in-process: reports, exit codes, errors, and no partial output.

#include "sim/cli/cli.hpp"

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

TEST_F(Cli, RunReportHasRangesMappingBreakEvenSourcesAndARaster) {
  ASSERT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--coding", "ternary", "--out",
                           (dir_ / "out").string(), "-q"}),
            0);
  const json r = read_json(dir_ / "out" / "report.json");
  // Energy per term with ordered ranges, for every layer and profile; totals are sums over layers.
  for (const auto& l : r["layers"]) {
    for (const auto& [profile, sides] : l["energy_pj"].items()) {
      for (const auto& [side, terms] : sides.items()) {
        for (const char* term : {"compute", "weight_memory", "state_memory", "routing", "static", "total"}) {
          const auto& t = terms[term];
          EXPECT_LE(t["low"].get<double>(), t["nominal"].get<double>()) << profile << side << term;
          EXPECT_LE(t["nominal"].get<double>(), t["high"].get<double>()) << profile << side << term;
        }
      }
    }
  }
  const double sum = r["layers"][0]["energy_pj"]["loihi"]["spiking"]["total"]["nominal"].get<double>() +
                     r["layers"][1]["energy_pj"]["loihi"]["spiking"]["total"]["nominal"].get<double>();
  EXPECT_NEAR(r["totals"]["energy_pj"]["loihi"]["spiking"]["total"]["nominal"].get<double>(), sum,
              1e-6 * sum);
  EXPECT_GT(
      r["totals"]["energy_pj"]["horowitz45-memory-int8"]["spiking"]["state_memory"]["nominal"].get<double>(),
      0.0);
  // Mapping onto Loihi cores, with chips needed.
  EXPECT_EQ(r["totals"]["mapping"]["loihi"]["chips"], 1);
  EXPECT_TRUE(r["layers"][0]["mapping"]["loihi"]["placed"].get<bool>());
  // Break-even for every (spiking, dense) pair, per layer and in total.
  bool found = false;
  for (const auto& p : r["break_even"]["pairs"]) {
    if (p["spiking"] == "loihi" && p["dense"] == "h100-bf16-memory") {
      found = true;
      EXPECT_EQ(p["layers"].size(), 2U);
      EXPECT_GT(p["total"]["s_measured"].get<double>(), 0.0);
    }
  }
  EXPECT_TRUE(found);
  // Every constant carries its source in the report.
  EXPECT_FALSE(r["hardware"]["loihi"]["spiking"]["e_synop_pj"]["source"].get<std::string>().empty());
  EXPECT_EQ(r["hardware"]["loihi"]["chip"]["cores_per_chip"]["value"], 128);
  // The raster: token 0 of the first coded site, decoding to its counts.
  const json raster = read_json(dir_ / "out" / "raster.json");
  EXPECT_EQ(raster["site"], "q_proj");
  EXPECT_EQ(raster["token"], 0);
  std::vector<int> decoded(raster["neurons"].get<std::size_t>(), 0);
  for (std::size_t e = 0; e < raster["neuron"].size(); ++e)
    decoded[raster["neuron"][e].get<std::size_t>()] += raster["sign"][e].get<int>();
  EXPECT_EQ(decoded, raster["count"].get<std::vector<int>>());
}

TEST_F(Cli, RasterOptionsAreCheckedAndCanBeTurnedOff) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--raster-site", "nope", "--out",
                           (dir_ / "a").string(), "-q"}),
            1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("--raster-site 'nope'"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a" / "report.json"));
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--raster-site", "up_proj",
                           "--raster-token", "24", "--out", (dir_ / "b").string(), "-q"}),
            1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("valid: 0..23"), std::string::npos);
  ASSERT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--raster-site", "up_proj",
                           "--raster-token", "23", "--out", (dir_ / "c").string(), "-q"}),
            0);
  EXPECT_EQ(read_json(dir_ / "c" / "raster.json")["site"], "up_proj");
  ASSERT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--no-raster", "--out",
                           (dir_ / "c").string(), "-q"}),
            0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "c" / "raster.json"));  // not left over from the run before
}

TEST_F(Cli, CompareSweepsCodingsAndKsIntoOneDirectory) {
  ASSERT_EQ(test::run_cli({"compare", "--model", (dir_ / "trace.h5").string(), "--coding", "ternary,bitwise",
                           "--k", "2", "--k", "3", "--hardware", "loihi", "--hardware", "h100-bf16-memory",
                           "--out", (dir_ / "cmp").string(), "-q"}),
            0);
  const json c = read_json(dir_ / "cmp" / "compare.json");
  ASSERT_EQ(c["cells"].size(), 4U);
  EXPECT_EQ(c["axes"]["codings"], json({"ternary", "bitwise"}));
  EXPECT_EQ(c["cells"][3]["id"], "trace__bitwise__k3");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "cmp" / "compare.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "cmp" / "compare.md"));
  testing::internal::CaptureStderr();
  EXPECT_NE(test::run_cli({"compare", "--model", (dir_ / "trace.h5").string(), "--coding", "ternary,morse",
                           "--out", (dir_ / "cmp2").string()}),
            0);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("morse"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cmp2"));
}

TEST_F(Cli, ReportNeedsARunOrCompareDirectory) {
  std::filesystem::create_directories(dir_ / "empty");
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::run_cli({"report", (dir_ / "empty").string()}), 1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("no report.json or compare.json"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "empty" / "report.html"));
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

// cli_call (the Python package's run() / account()): the same command line in-process, errors thrown.
TEST_F(Cli, CallRunsTheCommandAndThrowsInsteadOfPrinting) {
  const std::string out = (dir_ / "call").string();
  sim::cli_call({"--threads", "1", "run", "--trace", (dir_ / "trace.h5").string(), "--coding", "ternary",
                 "--out", out, "-q", "--no-raster"});
  ASSERT_EQ(test::run_cli({"run", "--trace", (dir_ / "trace.h5").string(), "--coding", "ternary", "--out",
                           (dir_ / "main").string(), "-q", "--no-raster"}),
            0);
  EXPECT_EQ(read_json(dir_ / "call" / "report.json")["layers"],
            read_json(dir_ / "main" / "report.json")["layers"]);
  try {
    sim::cli_call({"run", "--trace", (dir_ / "trace.h5").string(), "--out", out, "--bogus"});
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("spikesim run: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--bogus"), std::string::npos) << e.what();
  }
  // A missing file fails in parsing (CLI11's check), a library error keeps its own type and message.
  EXPECT_THROW(sim::cli_call({"run", "--trace", (dir_ / "missing.h5").string(), "--out", out, "-q"}),
               UsageError);
  try {
    sim::cli_call(
        {"run", "--trace", (dir_ / "trace.h5").string(), "--out", out, "-q", "--hardware", "nosuchchip"});
    FAIL() << "no exception";
  } catch (const energy::ProfileError& e) {
    EXPECT_NE(std::string(e.what()).find("nosuchchip"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace spikesim
