#pragma once
// Helpers shared by the whole-run benchmarks: timing sides interleaved in one process (so machine load hits
// both alike), medians, and the machine description printed next to every figure.

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace spikesim::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of the calling thread (s): not inflated by preemption when other processes share the cores, so
// the 1-thread figures stay comparable on a loaded machine (memory stalls still count).
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// Runs every side once per round, `rounds` times, sides interleaved (A B C A B C ...), after one warm-up
// round. Returns each side's wall times in seconds (and, through `cpu`, the calling thread's CPU times).
inline std::vector<std::vector<double>> time_interleaved(const std::vector<std::function<void()>>& sides,
                                                         int rounds,
                                                         std::vector<std::vector<double>>* cpu = nullptr) {
  std::vector<std::vector<double>> t(sides.size());
  if (cpu != nullptr) cpu->assign(sides.size(), {});
  for (const auto& s : sides)
    s();  // warm-up: page faults, caches, thread pool
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < sides.size(); ++i) {
      const double c0 = thread_cpu_seconds();
      const auto t0 = Clock::now();
      sides[i]();
      t[i].push_back(seconds_since(t0));
      if (cpu != nullptr) (*cpu)[i].push_back(thread_cpu_seconds() - c0);
    }
  }
  return t;
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0;
  double b = 0;
  double c = 0;
  in >> a >> b >> c;
  std::ostringstream out;
  out << a << " " << b << " " << c;
  return out.str();
}

inline void print_machine(std::ostream& out) {
  out << "machine: " << cpu_model() << ", " << omp_get_num_procs() << " logical CPUs, "
      << omp_get_max_threads() << " threads used; load average (1/5/15 min): " << load_average() << "\n";
}

// Minimal --key value parser for the benchmark programs (every key must be known).
class Args {
 public:
  Args(int argc, char** argv, std::map<std::string, std::string> defaults) : values_(std::move(defaults)) {
    for (int i = 1; i < argc; ++i) {
      std::string key = argv[i];
      if (key == "--help" || key == "-h") {
        std::cout << "options (default):\n";
        for (const auto& [k, v] : values_)
          std::cout << "  --" << k << " " << v << "\n";
        std::exit(0);  // NOLINT(concurrency-mt-unsafe): benchmark program, single-threaded here
      }
      if (key.rfind("--", 0) != 0 || i + 1 >= argc || !values_.contains(key.substr(2))) {
        std::cerr << "unknown or incomplete option " << key << " (try --help)\n";
        std::exit(2);  // NOLINT(concurrency-mt-unsafe)
      }
      values_[key.substr(2)] = argv[++i];
    }
  }
  [[nodiscard]] std::string str(const std::string& k) const { return values_.at(k); }
  [[nodiscard]] std::int64_t integer(const std::string& k) const { return std::stoll(values_.at(k)); }
  [[nodiscard]] double real(const std::string& k) const { return std::stod(values_.at(k)); }
  [[nodiscard]] std::vector<std::string> list(const std::string& k) const {
    std::vector<std::string> out;
    std::stringstream ss(values_.at(k));
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace spikesim::bench
