#pragma once
// Helpers shared by the tests: outside reference data, scratch directories, random tensors, trace files.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace spikesim::test {

// ../shared/data/<relative> (or $SPIKESIM_SHARED_DATA/<relative>); nullopt when absent.
std::optional<std::filesystem::path> shared_data(const std::string& relative);

// A fresh empty directory under the build tree's temp area, removed at destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float stddev = 1.0F);

// Runs the CLI in-process (argv[0] is supplied) and returns its exit status.
int run_cli(std::vector<std::string> args);

// The built spikesim binary run as a child process (a crash or an abort shows as a signal instead of taking
// the test binary down), with what it printed, how long it ran and its peak memory.
struct ProcessResult {
  int status = -1;         // exit status; -1 when killed by a signal
  int signal = 0;          // the signal that ended it, 0 if it exited
  bool timed_out = false;  // killed after the timeout
  std::string out;
  std::string err;
  double seconds = 0.0;
  double max_rss_mib = 0.0;
};
// `prefix` runs before the binary (e.g. {"unshare", ...}); the binary's path is appended to it.
ProcessResult run_spikesim(const std::vector<std::string>& args, double timeout_s = 60.0,
                           const std::vector<std::string>& prefix = {});

struct TraceLayer {
  std::string name;
  std::int64_t index = 0;
  std::int64_t tokens = 0;
  std::int64_t in = 0;
  std::int64_t out = 0;
  std::vector<float> input;   // [tokens][in]
  std::vector<float> weight;  // [out][in]
  std::vector<float> bias;    // [out] or empty
};
TraceLayer random_layer(std::string name, std::int64_t index, std::int64_t tokens, std::int64_t in,
                        std::int64_t out, std::uint32_t seed, bool with_bias = true);
// Writes layers in the trace format of models/trace.hpp.
void write_trace(const std::filesystem::path& file, const std::vector<TraceLayer>& layers);

}  // namespace spikesim::test
