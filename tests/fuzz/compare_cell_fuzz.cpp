// libFuzzer harness: a stored compare cell (sim/report/compare.cpp, record_io.cpp) from the fuzz input. At
// start-up a real sweep of a tiny trace stores one cell; each input then replaces its cell.json and the sweep
// runs again, so the stored cell is read back, re-priced on two hardware profiles and summarised
// (compare.csv / .json / .md). When the input is a JSON object, the stored run's "config" is put in so the
// rest of the cell is reached (unless the input has "keep_config").

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "energy/profile.hpp"
#include "models/hdf5_file.hpp"
#include "sim/report/compare.hpp"
#include "tests/fuzz/fuzz_util.hpp"

namespace {

using namespace spikesim;

struct Sweep {
  sim::CompareRequest request;
  std::filesystem::path cell_json;
  nlohmann::ordered_json config;
};

Sweep& sweep() {
  static Sweep s = [] {
    Sweep w;
    const auto trace = fuzz::scratch() / "tiny_trace.h5";
    {
      models::H5Writer h5(trace);
      h5.create_group("/layers/q");
      h5.write_attribute("/layers/q", "index", std::int64_t{0});
      std::vector<float> x(4 * 8);
      std::vector<float> wt(3 * 8);
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
      for (std::size_t i = 0; i < wt.size(); ++i)
        wt[i] = 0.1F * static_cast<float>(static_cast<int>(i % 5) - 2);
      h5.write("/layers/q/input", x, {4, 8});
      h5.write("/layers/q/weight", wt, {3, 8});
      h5.commit();
    }
    w.request.models = {trace.string()};
    w.request.codings = {coding::Scheme::ternary};
    w.request.ks = {3.0};
    w.request.out = fuzz::scratch() / "compare";
    const std::filesystem::path data = std::filesystem::path(SPIKESIM_SOURCE_DIR) / "data";
    w.request.profiles = {energy::find_profile("loihi", data), energy::find_profile("horowitz45-fp16", data)};
    (void)sim::run_compare(w.request);  // stores the real cell
    w.cell_json =
        w.request.out / "cells" / sim::cell_id(trace.string(), coding::Scheme::ternary, 3.0) / "cell.json";
    std::ifstream in(w.cell_json);
    w.config = nlohmann::ordered_json::parse(in)["config"];
    // From here on a cell must never be run again: every input is read back as the stored cell.
    w.request.runner = [](const sim::RunRequest&) -> sim::ReportInput { std::abort(); };
    return w;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Sweep& s = sweep();
  std::string text(fuzz::as_text(data, size));
  try {
    auto j = nlohmann::ordered_json::parse(text);
    if (j.is_object() && !j.contains("keep_config")) {
      j["config"] = s.config;
      text = j.dump();
    }
  } catch (const nlohmann::json::exception&) {
    // not JSON: stored as it is
  }
  fuzz::write_file(s.cell_json, text);
  fuzz::expect_clean([&] { (void)sim::run_compare(s.request); });
  return 0;
}
