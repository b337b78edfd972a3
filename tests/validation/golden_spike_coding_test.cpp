// Reproduces every case of ../shared/data/golden/spike_coding_vectors.json (an independent numpy
// implementation of DESIGN §2): thresholds, counts, zero fraction, reconstruction, and for every scheme
// T, the spike trains, spike totals and firing rates.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "coding/event_stream.hpp"
#include "neurons/neuron.hpp"
#include "sim/site/site.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

using nlohmann::json;

// Golden scheme names -> ours.
coding::Scheme scheme_of(const std::string& golden) {
  if (golden == "binary") return coding::Scheme::binary;
  if (golden == "ternary") return coding::Scheme::ternary;
  if (golden == "bitwise") return coding::Scheme::bitwise_unsigned;
  if (golden == "bitwise_bidirectional") return coding::Scheme::bitwise;
  if (golden == "bitwise_twos") return coding::Scheme::bitwise_twos;
  throw std::runtime_error("golden file has unknown scheme " + golden);
}

class GoldenSpikeCoding : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto file = test::shared_data("golden/spike_coding_vectors.json");
    if (!file) GTEST_SKIP() << "SKIPPED: ../shared/data/golden/spike_coding_vectors.json not found";
    std::ifstream in(*file);
    golden_ = json::parse(in);
  }
  json golden_;
};

TEST_F(GoldenSpikeCoding, EveryCaseAndScheme) {
  ASSERT_GE(golden_["cases"].size(), 6U);
  int schemes_checked = 0;
  for (const json& c : golden_["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto rows = static_cast<std::int64_t>(c["x"].size());
    const auto cols = static_cast<std::int64_t>(c["x"][0].size());
    std::vector<float> x;
    for (const auto& row : c["x"]) {
      for (const auto& v : row)
        x.push_back(v.get<float>());
    }
    neurons::NeuronConfig cfg;
    cfg.k = c["k"].get<double>();
    const neurons::SpikeCounts counts = neurons::fire(cfg, x, rows, cols);

    std::int64_t zeros = 0;
    std::int64_t abs_sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(counts.scale[static_cast<std::size_t>(r)], c["vth"][r].get<float>()) << "V_th of row " << r;
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::int32_t s = counts.count[static_cast<std::size_t>(r * cols + j)];
        EXPECT_EQ(s, c["counts"][r][j].get<std::int32_t>()) << "count [" << r << ", " << j << "]";
        EXPECT_FLOAT_EQ(counts.reconstruct(r, j), c["reconstruction"][r][j].get<float>());
        zeros += s == 0 ? 1 : 0;
        abs_sum += std::abs(s);
      }
    }
    EXPECT_DOUBLE_EQ(static_cast<double>(zeros) / static_cast<double>(rows * cols),
                     c["zero_fraction"].get<double>());
    EXPECT_DOUBLE_EQ(static_cast<double>(abs_sum) / static_cast<double>(rows * cols),
                     c["mean_abs_count"].get<double>());

    for (const auto& [scheme_name, g] : c["codings"].items()) {
      SCOPED_TRACE(scheme_name);
      const coding::CodedTensor coded = coding::prepare(
          counts, {.scheme = scheme_of(scheme_name), .steps = std::nullopt, .saturate = false}, "golden");
      const coding::EventStream events = coding::encode(coded);
      const auto steps = g["T"].get<std::int32_t>();
      ASSERT_EQ(events.steps, steps);
      // Rebuild the dense [T][rows][cols] spike array from the compact stream and compare it whole.
      std::vector<int> dense(static_cast<std::size_t>(steps * rows * cols), 0);
      for (std::int32_t t = 0; t < steps; ++t) {
        for (auto e = events.step_offset[static_cast<std::size_t>(t)];
             e < events.step_offset[static_cast<std::size_t>(t) + 1]; ++e) {
          dense[static_cast<std::size_t>(t) * static_cast<std::size_t>(rows * cols) + events.neuron[e]] =
              events.sign[e];
        }
      }
      for (std::int32_t t = 0; t < steps; ++t) {
        for (std::int64_t r = 0; r < rows; ++r) {
          for (std::int64_t j = 0; j < cols; ++j) {
            ASSERT_EQ(dense[static_cast<std::size_t>((t * rows + r) * cols + j)],
                      g["spikes"][t][r][j].get<int>())
                << "spike at step " << t << " [" << r << ", " << j << "]";
          }
        }
      }
      EXPECT_EQ(events.events(), g["nonzero_spikes"].get<std::uint64_t>());
      const std::vector<std::int64_t> fanout(static_cast<std::size_t>(cols), 1);
      const SiteCounters counters = sim::count_coded(coded, fanout, fanout, 1);
      EXPECT_EQ(counters.spikes, g["nonzero_spikes"].get<std::uint64_t>());
      EXPECT_DOUBLE_EQ(static_cast<double>(counters.spikes) / static_cast<double>(counters.element_steps),
                       g["firing_rate"].get<double>());
      // And the stream decodes back to the counts exactly.
      EXPECT_EQ(coding::counts_of(coding::decode(events)).count, counts.count);
      ++schemes_checked;
    }
  }
  EXPECT_GE(schemes_checked, 20);
}

}  // namespace
}  // namespace spikesim
