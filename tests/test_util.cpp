#include "tests/test_util.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "models/hdf5_file.hpp"
#include "sim/cli/cli.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace spikesim::test {

std::optional<std::filesystem::path> shared_data(const std::string& relative) {
  const char* env = std::getenv("SPIKESIM_SHARED_DATA");  // NOLINT(concurrency-mt-unsafe)
  const std::filesystem::path root = env != nullptr ? env : SPIKESIM_SHARED_DATA_DIR;
  auto p = root / relative;
  if (std::filesystem::exists(p)) return p;
  return std::nullopt;
}

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("spikesim-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0F, stddev);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

int run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "spikesim");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  return sim::cli_main(static_cast<int>(argv.size()), argv.data());
}

ProcessResult run_spikesim(const std::vector<std::string>& args, double timeout_s,
                           const std::vector<std::string>& prefix) {
  const ScratchDir io;
  std::vector<std::string> argv = prefix;
  argv.emplace_back(SPIKESIM_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv)
    raw.push_back(a.data());
  raw.push_back(nullptr);
  const std::string out_file = (io / "stdout").string();
  const std::string err_file = (io / "stderr").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const int spawned = posix_spawnp(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ProcessResult r;
  if (spawned != 0) {
    r.err = std::string("cannot start ") + raw[0];
    return r;
  }
  int status = 0;
  rusage usage{};
  while (true) {
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (elapsed > timeout_s && !r.timed_out) {
      r.timed_out = true;
      kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.max_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  auto slurp = [](const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  };
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

TraceLayer random_layer(std::string name, std::int64_t index, std::int64_t tokens, std::int64_t in,
                        std::int64_t out, std::uint32_t seed, bool with_bias) {
  TraceLayer l;
  l.name = std::move(name);
  l.index = index;
  l.tokens = tokens;
  l.in = in;
  l.out = out;
  l.input = gaussian(static_cast<std::size_t>(tokens * in), seed);
  l.weight = gaussian(static_cast<std::size_t>(out * in), seed + 1, 0.1F);
  if (with_bias) l.bias = gaussian(static_cast<std::size_t>(out), seed + 2, 0.1F);
  return l;
}

void write_trace(const std::filesystem::path& file, const std::vector<TraceLayer>& layers) {
  models::H5Writer h5(file);
  h5.create_group("/layers");
  for (const auto& l : layers) {
    const std::string g = "/layers/" + l.name;
    h5.create_group(g);
    h5.write_attribute(g, "index", l.index);
    if (!l.input.empty()) h5.write(g + "/input", l.input, {l.tokens, l.in});
    if (!l.weight.empty()) h5.write(g + "/weight", l.weight, {l.out, l.in});
    if (!l.bias.empty()) h5.write(g + "/bias", l.bias, {static_cast<std::int64_t>(l.bias.size())});
  }
  h5.commit();
}

}  // namespace spikesim::test
