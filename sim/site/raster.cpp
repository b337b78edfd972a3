#include "sim/site/raster.hpp"

#include <algorithm>

#include "coding/event_stream.hpp"

namespace spikesim::sim {

RasterCapture::RasterCapture(std::string site, std::int64_t token) : site_(std::move(site)), token_(token) {}

void RasterCapture::offer(std::string_view site, const coding::CodedTensor& coded, std::int64_t first_row) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (chosen_.empty()) {
    if (!site_.empty() && site != site_) return;
    chosen_ = site;
  } else if (site != chosen_) {
    return;
  }
  rows_seen_ = std::max(rows_seen_, first_row + coded.rows);
  if (raster_ || token_ < first_row || token_ >= first_row + coded.rows) return;
  const std::int64_t r = token_ - first_row;
  // One row as its own coded tensor, encoded into events.
  coding::CodedTensor row;
  row.scheme = coded.scheme;
  row.steps = coded.steps;
  row.rows = 1;
  row.cols = coded.cols;
  const auto first = coded.value.begin() + r * coded.cols;
  row.value.assign(first, first + coded.cols);
  row.scale = {coded.scale[static_cast<std::size_t>(r)]};
  row.zero_point = {coded.zero_point[static_cast<std::size_t>(r)]};
  const coding::EventStream events = coding::encode(row);

  Raster out;
  out.site = chosen_;
  out.token = token_;
  out.scheme = coded.scheme;
  out.steps = coded.steps;
  out.neurons = coded.cols;
  out.v_th = row.scale[0];
  out.zero_point = row.zero_point[0];
  out.count.reserve(static_cast<std::size_t>(coded.cols));
  for (std::int64_t c = 0; c < coded.cols; ++c)
    out.count.push_back(row.count(0, c));
  for (std::int32_t t = 0; t < events.steps; ++t) {
    for (auto e = events.step_offset[static_cast<std::size_t>(t)];
         e < events.step_offset[static_cast<std::size_t>(t) + 1]; ++e) {
      out.step.push_back(t);
      out.neuron.push_back(static_cast<std::int32_t>(events.neuron[e]));
      out.sign.push_back(events.sign[e]);
    }
  }
  raster_ = std::move(out);
}

std::optional<Raster> RasterCapture::raster() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return raster_;
}

std::int64_t RasterCapture::rows_seen() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return rows_seen_;
}

}  // namespace spikesim::sim
