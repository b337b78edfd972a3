#pragma once
// Progress and ETA for long runs (compare sweeps, runs over many layers, tokens or samples), drawn on one
// terminal line that is rewritten in place. Quiet when the stream is not a terminal or with --quiet, so logs
// and pipes stay clean. Thread-safe: advance() may be called from worker threads.
//
//   Progress progress = Progress::for_terminal("compare", quiet);
//   progress.start(cells);
//   for (...) { ...; progress.advance(1, cell_name); }
//   progress.finish();

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>

namespace spikesim {

class Progress {
 public:
  using Clock = std::function<double()>;  // seconds since any fixed origin

  // Draws on `out` when `enabled`. `clock` defaults to a steady clock (tests inject their own).
  Progress(std::string label, std::ostream& out, bool enabled, Clock clock = {});
  // On std::cerr, enabled when stderr is a terminal and not `quiet`.
  static Progress for_terminal(std::string label, bool quiet);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  Progress(Progress&&) = delete;
  Progress& operator=(Progress&&) = delete;
  ~Progress();

  void start(std::uint64_t total);  // 0: total unknown (no percentage or ETA)
  void advance(std::uint64_t n = 1, std::string_view item = {});
  void finish();  // ends the line (idempotent)

  [[nodiscard]] bool enabled() const { return enabled_; }
  // The status text as drawn now, e.g. "compare [3/12] 25% 0:04 elapsed, ETA 0:12  model.h5 ternary k=3".
  [[nodiscard]] std::string status() const;

 private:
  [[nodiscard]] std::string status_locked() const;
  void draw_locked(bool force);

  std::string label_;
  std::ostream& out_;
  bool enabled_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  double start_s_ = 0;
  double last_draw_s_ = -1;
  std::size_t drawn_width_ = 0;
  std::string item_;
  bool open_ = false;  // a line is on screen
};

// "1:05", "1:02:03"
std::string format_duration(double seconds);

}  // namespace spikesim
