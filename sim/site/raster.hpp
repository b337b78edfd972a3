#pragma once
// A small spike raster for reports: the events of one token (one row of a coded tensor) at one synaptic site,
// captured while the site runs (run_coded_linear offers every coded tensor). Kept small on purpose: one row
// is at most in x T events.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coding/coded_tensor.hpp"

namespace spikesim::sim {

struct Raster {
  std::string site;        // layer name
  std::int64_t token = 0;  // row index among every row the site coded, across calls
  coding::Scheme scheme = coding::Scheme::ternary;
  std::int32_t steps = 0;    // T of the tensor the row belonged to
  std::int64_t neurons = 0;  // presynaptic neurons (columns)
  float v_th = 0;            // threshold of the row
  std::int32_t zero_point = 0;
  std::vector<std::int32_t> count;   // [neurons] integer count each neuron carries (value - zero point)
  std::vector<std::int32_t> step;    // [events] virtual step of each event
  std::vector<std::int32_t> neuron;  // [events] presynaptic neuron
  std::vector<std::int8_t> sign;     // [events] +1 / -1
};

class RasterCapture {
 public:
  // site: layer name; empty = the first coded site offered. token: row index within that site.
  explicit RasterCapture(std::string site = {}, std::int64_t token = 0);

  // Called for every coded tensor: keeps row `token` of the chosen site when it passes by. `first_row` is the
  // index of the tensor's first row among every row the site codes in the run (samples coded in parallel
  // arrive in any order; the raster does not depend on it).
  void offer(std::string_view site, const coding::CodedTensor& coded, std::int64_t first_row);

  [[nodiscard]] std::optional<Raster> raster() const;
  [[nodiscard]] const std::string& requested_site() const { return site_; }
  [[nodiscard]] std::int64_t requested_token() const { return token_; }
  // Rows the chosen site coded (one past the last row index offered; names the valid range when the token was
  // out of range).
  [[nodiscard]] std::int64_t rows_seen() const;

 private:
  std::string site_;
  std::int64_t token_;
  mutable std::mutex mutex_;
  std::string chosen_;          // site being tracked (site_ or the first offered)
  std::int64_t rows_seen_ = 0;  // one past the largest row index offered for the chosen site
  std::optional<Raster> raster_;
};

}  // namespace spikesim::sim
