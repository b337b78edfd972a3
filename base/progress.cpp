#include "base/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <sstream>

namespace spikesim {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr double redraw_interval_s = 0.1;

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0) || !std::isfinite(seconds)) return "?";
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  const std::int64_t h = total / 3600;
  const std::int64_t m = (total / 60) % 60;
  const std::int64_t s = total % 60;
  std::ostringstream out;
  if (h > 0) out << h << ":" << (m < 10 ? "0" : "");
  out << m << ":" << (s < 10 ? "0" : "") << s;
  return out.str();
}

Progress::Progress(std::string label, std::ostream& out, bool enabled, Clock clock)
    : label_(std::move(label)),
      out_(out),
      enabled_(enabled),
      clock_(clock ? std::move(clock) : steady_seconds) {
  start_s_ = clock_();
}

Progress Progress::for_terminal(std::string label, bool quiet) {
  return {std::move(label), std::cerr, !quiet && ::isatty(STDERR_FILENO) == 1};
}

Progress::~Progress() {
  finish();
}

void Progress::start(std::uint64_t total) {
  const std::lock_guard<std::mutex> lock(mutex_);
  total_ = total;
  done_ = 0;
  item_.clear();
  start_s_ = clock_();
  last_draw_s_ = -1;
  draw_locked(true);
}

void Progress::advance(std::uint64_t n, std::string_view item) {
  const std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  if (!item.empty()) item_ = item;
  draw_locked(total_ > 0 && done_ >= total_);
}

void Progress::finish() {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!enabled_ || !open_) return;
  draw_locked(true);
  out_ << "\n" << std::flush;
  open_ = false;
}

std::string Progress::status() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return status_locked();
}

std::string Progress::status_locked() const {
  const double elapsed = clock_() - start_s_;
  std::ostringstream s;
  s << label_ << " [" << done_;
  if (total_ > 0) s << "/" << total_;
  s << "]";
  if (total_ > 0) {
    s << " " << (100 * std::min(done_, total_) / total_) << "%";
  }
  s << " " << format_duration(elapsed) << " elapsed";
  if (total_ > 0 && done_ > 0 && done_ < total_) {
    const double eta = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
    s << ", ETA " << format_duration(eta);
  }
  if (!item_.empty()) s << "  " << item_;
  return s.str();
}

void Progress::draw_locked(bool force) {
  if (!enabled_) return;
  const double now = clock_();
  if (!force && last_draw_s_ >= 0 && now - last_draw_s_ < redraw_interval_s) return;
  last_draw_s_ = now;
  std::string line = status_locked();
  const std::size_t width = line.size();
  if (width < drawn_width_) line.append(drawn_width_ - width, ' ');  // clear the rest of the old line
  drawn_width_ = width;
  out_ << "\r" << line << std::flush;
  open_ = true;
}

}  // namespace spikesim
