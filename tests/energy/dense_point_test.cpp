// The measured dense side: interpolation in log(tokens per call), the tokens-per-call rule of the run paths,
// pricing, the break-even it moves, the schema's errors, and the shipped measurement against its raw log.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "energy/break_even.hpp"
#include "energy/estimate.hpp"
#include "energy/network_estimate.hpp"
#include "energy/profile.hpp"
#include "tests/test_util.hpp"

namespace spikesim::energy {
namespace {

using nlohmann::json;

const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";

MeasuredPoint point(double tokens, Range e_mac) {
  MeasuredPoint p;
  p.tokens_per_call = tokens;
  p.e_mac_pj = e_mac;
  const double per_byte = tokens / 2.0;  // bf16: MACs per weight byte = tokens / 2
  p.e_weight_byte_pj = {e_mac.low * per_byte, e_mac.nominal * per_byte, e_mac.high * per_byte};
  p.repeats = 3;
  return p;
}

DenseMeasurement three_points() {
  DenseMeasurement m;
  m.points = {point(1, {90, 100, 110}), point(4, {20, 25, 30}), point(16, {5, 6, 8})};
  return m;
}

TEST(DensePoint, MeasuredPointsAreExactAndNeighboursInterpolateInLogLog) {
  const DenseMeasurement m = three_points();
  const DensePoint at4 = dense_point(m, 4);
  EXPECT_EQ(at4.e_mac_pj, (Range{20, 25, 30}));
  EXPECT_FALSE(at4.clamped);
  EXPECT_EQ(at4.measured_below, 4);
  EXPECT_EQ(at4.measured_above, 4);
  // Half way in log(tokens) between 1 and 4: the geometric mean of each bound.
  const DensePoint at2 = dense_point(m, 2);
  EXPECT_EQ(at2.measured_below, 1);
  EXPECT_EQ(at2.measured_above, 4);
  EXPECT_NEAR(at2.e_mac_pj.low, std::sqrt(90.0 * 20.0), 1e-9);
  EXPECT_NEAR(at2.e_mac_pj.nominal, 50.0, 1e-9);
  EXPECT_NEAR(at2.e_mac_pj.high, std::sqrt(110.0 * 30.0), 1e-9);
  EXPECT_NEAR(at2.e_weight_byte_pj.nominal, 50.0 * 2 / 2, 1e-9);  // per byte = per MAC x tokens / 2
  // A quarter of the way from 4 to 16 in log(tokens): 25^(3/4) x 6^(1/4).
  EXPECT_NEAR(dense_point(m, 4 * std::sqrt(2.0)).e_mac_pj.nominal, std::pow(25.0, 0.75) * std::pow(6.0, 0.25),
              1e-9);
  // Monotone between neighbours.
  EXPECT_GT(dense_point(m, 1.5).e_mac_pj.nominal, dense_point(m, 3).e_mac_pj.nominal);
}

TEST(DensePoint, PowerLawIsReproducedExactly) {
  DenseMeasurement m;  // memory-bound: energy per MAC = 300 / tokens
  m.points = {point(1, {300, 300, 300}), point(8, {37.5, 37.5, 37.5}),
              point(64, {300.0 / 64, 300.0 / 64, 300.0 / 64})};
  for (const double t : {1.3, 2.0, 5.0, 7.9, 9.0, 33.0, 63.0})
    EXPECT_NEAR(dense_point(m, t).e_mac_pj.nominal, 300.0 / t, 1e-9 * 300.0 / t) << t;
}

TEST(DensePoint, OutsideTheMeasuredRangeIsClampedToTheEnds) {
  const DenseMeasurement m = three_points();
  const DensePoint below = dense_point(m, 0.5);
  EXPECT_TRUE(below.clamped);
  EXPECT_EQ(below.e_mac_pj, (Range{90, 100, 110}));
  EXPECT_EQ(below.measured_below, 1);
  const DensePoint above = dense_point(m, 1024);
  EXPECT_TRUE(above.clamped);
  EXPECT_EQ(above.e_mac_pj, (Range{5, 6, 8}));
  EXPECT_EQ(above.measured_above, 16);
  EXPECT_NEAR(above.e_weight_byte_pj.nominal, 6.0 * 1024 / 2, 1e-9);  // each byte serves 1024 MACs
  EXPECT_FALSE(dense_point(m, 16).clamped);
  EXPECT_THROW((void)dense_point(m, 0), InternalError);
}

TEST(DensePoint, TokensPerCallRuleOfTheRunPaths) {
  // A teacher-forced run over N tokens is one call of N; two passes over the same text are two calls.
  EXPECT_EQ(tokens_per_call(RunKind::run, 247, 1, 0), 247);
  EXPECT_EQ(tokens_per_call(RunKind::run, 512, 2, 0), 256);
  EXPECT_EQ(tokens_per_call(RunKind::run, 64, 0, 0), 64);
  // A generation is N calls of one token, whatever the counters say.
  EXPECT_EQ(tokens_per_call(RunKind::generate, 43, 40, 0), 1);
  // eval: --batch images per call.
  EXPECT_EQ(tokens_per_call(RunKind::eval, 2000 * 784, 2000, 50), 50);
  // account: the chunk, at most the tokens.
  EXPECT_EQ(tokens_per_call(RunKind::account, 4096, 8, 512), 512);
  EXPECT_EQ(tokens_per_call(RunKind::account, 100, 1, 512), 100);
  EXPECT_THROW((void)tokens_per_call(RunKind::eval, 10, 1, 0), std::invalid_argument);
  EXPECT_THROW((void)tokens_per_call(RunKind::account, 10, 1, 0), std::invalid_argument);
  EXPECT_THROW((void)tokens_per_call(RunKind::run, 0, 1, 0), std::invalid_argument);
}

HardwareProfile measured_profile() {
  HardwareProfile p;
  p.name = "m";
  p.weight_bits = 16;
  p.dense = Constants{};
  p.dense_measured = three_points();
  return p;
}

TEST(DensePoint, EstimatePricesEveryDenseMacAtTheRunsPoint) {
  const HardwareProfile p = measured_profile();
  SiteCounters c;
  c.calls = 1;
  c.tokens = 16;
  c.dense_macs = 1000;
  c.bias_adds = 50;         // inside the measured GEMMs: not charged again
  c.elementwise_ops = 200;  // not measured: listed
  const Estimate run = estimate(c, p, {}, {}, DenseContext{16});
  ASSERT_TRUE(run.dense);
  EXPECT_NEAR(run.dense->total_pj.nominal, 1000 * 6.0, 1e-9);
  EXPECT_NEAR(run.dense->total_pj.high, 1000 * 8.0, 1e-9);
  EXPECT_NEAR((*run.dense)[Term::compute].nominal, 1000 * 6.0, 1e-9);
  ASSERT_EQ(run.dense->dense_points.size(), 1U);
  EXPECT_EQ(run.dense->dense_points[0].basis, "run");
  EXPECT_EQ(run.dense->dense_points[0].tokens_per_call, 16);
  EXPECT_EQ(run.dense->uncharged.size(), 1U);
  EXPECT_TRUE(run.dense->uncharged[0].starts_with("element-wise ops"));
  // The same counters priced as decode (one token per call) cost the first point's energy per MAC.
  const Estimate decode = estimate(c, p, {}, {}, DenseContext{1});
  EXPECT_NEAR(decode.dense->total_pj.nominal, 1000 * 100.0, 1e-9);
  // Not given by the run: the layer's own tokens / calls, and the report says so.
  c.calls = 4;  // 16 tokens in 4 calls
  const Estimate fallback = estimate(c, p);
  EXPECT_EQ(fallback.dense->dense_points.at(0).basis, "counters");
  EXPECT_NEAR(fallback.dense->total_pj.nominal, 1000 * 25.0, 1e-9);
  c.calls = 0;
  const Estimate unknown = estimate(c, p);
  EXPECT_EQ(unknown.dense->total_pj.nominal, 0.0);
  EXPECT_TRUE(std::any_of(unknown.dense->uncharged.begin(), unknown.dense->uncharged.end(),
                          [](const std::string& u) { return u.starts_with("dense MACs"); }));
}

TEST(DensePoint, TotalsListEveryPointTheLayersUsed) {
  const HardwareProfile p = measured_profile();
  SiteCounters a;
  a.calls = 1;
  a.tokens = 4;
  a.dense_macs = 100;
  SiteCounters b = a;
  b.tokens = 16;
  const NetworkEstimate n = estimate_network({{"a", &a, {}, true, {}}, {"b", &b, {}, true, {}}}, p);
  ASSERT_TRUE(n.total.dense);
  ASSERT_EQ(n.total.dense->dense_points.size(), 2U);
  EXPECT_EQ(n.total.dense->dense_points[0].tokens_per_call, 4);
  EXPECT_EQ(n.total.dense->dense_points[1].tokens_per_call, 16);
  const NetworkEstimate one = estimate_network({{"a", &a, {}, true, {}}, {"b", &b, {}, true, {}}}, p, {8});
  ASSERT_EQ(one.total.dense->dense_points.size(), 1U);
  EXPECT_EQ(one.total.dense->dense_points[0].basis, "run");
}

TEST(DensePoint, ShippedMeasurementPricesDecodeFarAboveTeacherForcingAndMovesTheBreakEven) {
  const HardwareProfile gpu = find_profile("h200-bf16-measured", data);
  const HardwareProfile loihi = find_profile("loihi", data);
  ASSERT_TRUE(gpu.dense_measured);
  EXPECT_FALSE(gpu.dense_measured->excludes_idle);
  SiteCounters c;  // one coded 256 -> 256 layer over 247 tokens, about 3 spikes per input
  c.calls = 1;
  c.tokens = 247;
  c.elements = 247 * 256;
  c.spikes = 3 * c.elements;
  c.sops = c.spikes * 256;
  c.effective_sops = c.sops;
  c.neuron_updates = c.elements * 8;
  c.post_neuron_updates = c.elements * 8;
  c.post_neuron_updates_active = c.elements * 4;
  c.token_steps = 247 * 8;
  c.dense_macs = 247ULL * 256 * 256;
  const std::vector<LayerActivity> layers = {{"fc", &c, {256, 256, 256 * 256}, true, {}}};
  const NetworkEstimate chip = estimate_network(layers, loihi);
  const auto s_star = [&](double tokens) {
    const NetworkEstimate d = estimate_network(layers, gpu, {tokens});
    const double s = static_cast<double>(c.sops) / static_cast<double>(c.dense_macs);
    return break_even(s, chip.total.spiking->total_pj, chip.total_fixed.spiking->total_pj,
                      d.total.dense->total_pj);
  };
  const auto per_mac = [&](double tokens) {
    return estimate_network(layers, gpu, {tokens}).total.dense->total_pj.nominal /
           static_cast<double>(c.dense_macs);
  };
  const double generate = per_mac(tokens_per_call(RunKind::generate, 247, 247, 0));
  const double run = per_mac(tokens_per_call(RunKind::run, 247, 1, 0));
  EXPECT_GT(generate, 100.0);  // memory-bound: hundreds of pJ per MAC
  EXPECT_LT(run, 5.0);
  EXPECT_GT(generate / run, 50.0);
  const auto decode_s = s_star(1).s_nominal;
  const auto forced_s = s_star(247).s_nominal;
  ASSERT_TRUE(decode_s && forced_s);
  EXPECT_GT(*decode_s, *forced_s * 20.0);
}

// --- schema ---

json valid_measured() {
  return json::parse(R"({
    "name": "m", "description": "d", "weight_bits": 16,
    "dense": {
      "excludes_idle": false,
      "measured": [
        {"tokens_per_call": 1, "e_mac_pj": {"low": 300, "nominal": 320, "high": 330},
         "e_weight_byte_pj": {"low": 150, "nominal": 160, "high": 165}, "power_w": 480, "tflops": 3,
         "repeats": 5},
        {"tokens_per_call": 8192, "e_mac_pj": {"low": 2.0, "nominal": 2.1, "high": 2.2},
         "e_weight_byte_pj": {"low": 8192, "nominal": 8601.6, "high": 9011.2}, "power_w": 693, "tflops": 660,
         "repeats": 3}
      ],
      "measurement": {"source": "s [P]", "gpu": "G", "driver": "1", "dtype": "bfloat16", "date": "2026-12-02",
                      "command": "c", "idle_power_w": 118,
                      "shapes": [{"name": "q", "in_features": 8, "out_features": 8, "bias": true}]}
    }})");
}

std::string error_of(const test::ScratchDir& dir, const json& doc) {
  const auto file = dir / "m.json";
  std::ofstream(file) << doc.dump();
  try {
    (void)load_profile(file);
  } catch (const ProfileError& e) {
    return e.what();
  }
  return "";
}

TEST(DensePointSchema, ValidMeasuredProfileLoads) {
  const test::ScratchDir dir;
  EXPECT_EQ(error_of(dir, valid_measured()), "");
  std::ofstream(dir / "m.json") << valid_measured().dump();
  const HardwareProfile p = load_profile(dir / "m.json");
  ASSERT_TRUE(p.dense_measured);
  EXPECT_EQ(p.dense_measured->points.size(), 2U);
  EXPECT_EQ(p.dense_measured->points[1].e_mac_pj, (Range{2.0, 2.1, 2.2}));
  EXPECT_EQ(p.dense_measured->idle_power_w, 118);
  EXPECT_EQ(p.dense_measured->shapes.at(0).name, "q");
}

TEST(DensePointSchema, ErrorsNameTheKeyWithExpectedAndFound) {
  const test::ScratchDir dir;
  const auto expect_error = [&](const std::function<void(json&)>& edit, const std::string& message) {
    json doc = valid_measured();
    edit(doc);
    const std::string e = error_of(dir, doc);
    EXPECT_NE(e.find(message), std::string::npos) << "expected '" << message << "' in: " << e;
  };
  json& (*pt)(json&, int) = [](json& d, int i) -> json& { return d["dense"]["measured"][i]; };
  expect_error([&](json& d) { pt(d, 0)["e_mac"] = 1; }, "dense.measured[0]: unknown key 'e_mac'");
  expect_error([&](json& d) { d["dense"]["measurement"]["gpu_name"] = "x"; },
               "dense.measurement: unknown key 'gpu_name'");
  expect_error([&](json& d) { d["dense"]["colour"] = 1; },
               "dense.colour cannot be combined with measured points");
  expect_error(
      [&](json& d) {
        d["dense"]["e_mac_pj"] = {{"nominal", 1}, {"source", "s"}};
      },
      "dense.e_mac_pj cannot be combined");
  expect_error([&](json& d) { pt(d, 1) = pt(d, 0); },
               "dense.measured[1].tokens_per_call: expected more than the previous point's 1");
  expect_error([&](json& d) { pt(d, 0)["tokens_per_call"] = 1.5; },
               "tokens_per_call: expected a whole number");
  expect_error([&](json& d) { pt(d, 0)["e_mac_pj"]["high"] = 1e7; },
               "dense.measured[0].e_mac_pj.high: expected a finite number in (0, 100000], found 10000000");
  expect_error([&](json& d) { pt(d, 0)["e_mac_pj"]["low"] = -1; }, "e_mac_pj.low: expected a finite number");
  expect_error([&](json& d) { pt(d, 0)["e_mac_pj"]["low"] = 325; }, "need low <= nominal <= high");
  expect_error([&](json& d) { pt(d, 0)["power_w"] = 0; },
               "dense.measured[0].power_w: expected a finite number");
  expect_error([&](json& d) { pt(d, 0)["power_w"] = "480"; }, "power_w: expected a number, found \"480\"");
  expect_error([&](json& d) { pt(d, 0).erase("repeats"); }, "dense.measured[0].repeats: missing");
  expect_error(
      [&](json& d) { pt(d, 0)["e_weight_byte_pj"]["nominal"] = 162.5; },
      "dense.measured[0].e_weight_byte_pj.nominal: expected e_mac_pj x tokens_per_call x 8 / 16 = 160");
  expect_error(
      [&](json& d) {
        pt(d, 1)["e_weight_byte_pj"] = {{"low", 16}, {"nominal", 16.8}, {"high", 17.6}};
      },
      "dense.measured[1].e_weight_byte_pj.low: expected e_mac_pj x tokens_per_call x 8 / 16 = 8192");
  expect_error([&](json& d) { pt(d, 1)["power_w"] = 900; },
               "dense.measured[1].power_w: expected e_mac_pj.nominal x tflops / 2 = 693");
  expect_error([&](json& d) { d["dense"]["measured"] = json::array(); }, "expected a non-empty list");
  expect_error([&](json& d) { d["dense"]["measurement"].erase("source"); },
               "dense.measurement.source: missing");
  expect_error([&](json& d) { d["dense"]["measurement"]["source"] = ""; }, "expected a non-empty string");
  expect_error([&](json& d) { d["dense"].erase("measurement"); }, "dense.measurement: missing");
  expect_error([&](json& d) { d["dense"].erase("measured"); },
               "'measurement' and 'excludes_idle' need 'measured'");
  expect_error([&](json& d) { d["dense"]["excludes_idle"] = "no"; }, "excludes_idle: expected true or false");
  expect_error([&](json& d) { d["dense"]["measurement"]["idle_power_w"] = 1e5; },
               "dense.measurement.idle_power_w: expected a finite number in [0, 10000]");
  expect_error([&](json& d) { d["dense"]["measurement"]["shapes"][0]["in"] = 8; },
               "dense.measurement.shapes[0]: unknown key 'in'");
  expect_error([&](json& d) { d["dense_weights_per_token"] = true; },
               "dense_weights_per_token: must be false with measured points");
  expect_error([&](json& d) { d["weight_bits"] = 8; },
               "e_weight_byte_pj.low: expected e_mac_pj x tokens_per_call x 8 / 8");
  // e_add_pj (element-wise ops) may be added to measured points.
  json with_add = valid_measured();
  with_add["dense"]["e_add_pj"] = {{"nominal", 0.4}, {"source", "s"}};
  EXPECT_EQ(error_of(dir, with_add), "");
}

TEST(DensePointSchema, NonFiniteConstantsAreErrors) {
  const test::ScratchDir dir;
  std::ofstream(dir / "inf.json") << R"({"name":"x","dense":{"e_mac_pj":{"nominal":1e400,"source":"s"}}})";
  try {
    (void)load_profile(dir / "inf.json");
    FAIL() << "1e400 accepted";
  } catch (const ProfileError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("not a finite number") != std::string::npos ||
                what.find("not valid JSON") != std::string::npos)
        << what;
  }
}

// The shipped profile's low / nominal / high are the least, median and most of its raw log's windows.
TEST(DensePointSchema, ShippedMeasurementIsTheSpreadOfItsRawLog) {
  const HardwareProfile gpu = find_profile("h200-bf16-measured", data);
  ASSERT_TRUE(gpu.dense_measured);
  const DenseMeasurement& m = *gpu.dense_measured;
  EXPECT_EQ(m.points.size(), 14U);
  EXPECT_EQ(m.points.front().tokens_per_call, 1);
  EXPECT_EQ(m.points.back().tokens_per_call, 8192);
  std::ifstream log(std::filesystem::path(SPIKESIM_SOURCE_DIR) / m.log);
  ASSERT_TRUE(log) << m.log;
  std::map<double, std::vector<double>> windows;  // tokens per call -> e_mac_pj of each window
  double idle_w = 0;
  for (std::string line; std::getline(log, line);) {
    const json r = json::parse(line);
    if (r["record"] == "window")
      windows[r["tokens_per_call"].get<double>()].push_back(r["e_mac_pj"].get<double>());
    if (r["record"] == "idle_before") idle_w = r["power_w"].get<double>();
  }
  EXPECT_NEAR(m.idle_power_w, idle_w, 1e-3 * idle_w);
  for (const MeasuredPoint& p : m.points) {
    std::vector<double> w = windows.at(p.tokens_per_call);
    ASSERT_GE(w.size(), 3U);
    EXPECT_EQ(static_cast<std::size_t>(p.repeats), w.size());
    std::sort(w.begin(), w.end());
    EXPECT_NEAR(p.e_mac_pj.low, w.front(), 1e-3 * w.front()) << p.tokens_per_call;
    EXPECT_NEAR(p.e_mac_pj.nominal, w[(w.size() - 1) / 2], 1e-3 * w.front()) << p.tokens_per_call;
    EXPECT_NEAR(p.e_mac_pj.high, w.back(), 1e-3 * w.back()) << p.tokens_per_call;
  }
  // The datasheet profiles' ranges contain the measurement where they claim its regime.
  const auto high = [&](const char* name, const char* key) {
    return HardwareProfile::get(find_profile(name, data).dense, key)->high;
  };
  for (const MeasuredPoint& p : m.points) {
    if (p.tokens_per_call >= 512) {
      EXPECT_LE(p.e_mac_pj.high, high("h100-bf16-compute", "e_mac_pj"));
      EXPECT_LE(p.e_mac_pj.high, high("h100-bf16-hbm", "e_mac_pj"));
    }
    if (p.tokens_per_call <= 4) {
      EXPECT_LE(p.e_weight_byte_pj.high, high("h100-bf16-memory", "e_weight_byte_pj"));
      EXPECT_GE(p.e_weight_byte_pj.low,
                HardwareProfile::get(find_profile("h100-bf16-memory", data).dense, "e_weight_byte_pj")->low);
    }
  }
}

}  // namespace
}  // namespace spikesim::energy
