#include "tests/test_util.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "models/hdf5_file.hpp"
#include "sim/cli/cli.hpp"

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
