#pragma once
// Synthetic LLM-like activations: the outlier-channel generator of scripts/make_trace.py, in C++.
//
//   x[t][c] = z[t][c] * s[c],   z ~ N(0, 1) i.i.d.,   s[c] = exp(sigma * u[c]),   u ~ N(0, 1)
//
// The channel scales s are fixed per stream (one stream = one layer input); a few channels then dominate
// mean|x| as outlier channels do in LLMs, and at k = 3 about 69 % of the spike counts are zero for sigma =
// 2.25 (SpikingBrain-7B: 69.15 %). The draws are counter-based (a hash of seed, stream and element index,
// then Box-Muller), so token t of stream s has the same value however the tokens are chunked and whatever the
// thread count: a run streamed in chunks equals a run done at once. The numbers differ from numpy's (another
// generator); the distribution is the same.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace spikesim::sim {

inline constexpr double outlier_sigma_default = 2.25;

// N(0, 1) draw number `index` of stream (seed, stream). Deterministic and stateless.
[[nodiscard]] double standard_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index);

// The channel-class mixture fitted to SpikingBrain's published statistics (family outlier_channel_mixture,
// data/configs/README.md "Synthetic activations", fitted by scripts/fit_spikingbrain_activations.py): each
// channel is quiet, bulk or outlier by v[c] against t_quiet / t_outlier, its log-normal scale drawn from u[c]
// within its class; x[t][c] = a[c] z[t][c]. Streams of site s: value 2s, scale 2s + 1 (as OutlierChannels),
// class 2^62 + s.
struct ChannelMixture {
  double t_quiet = 0.0, s_quiet = 1.0, sigma_quiet = 0.0;
  double sigma_bulk = 0.0;
  double t_outlier = 0.0, s_outlier = 1.0, sigma_outlier = 0.0;
  std::string file;  // where it was read from (reports)
};
// Reads a generator file (data/configs/spikingbrain_activation_generator.json); ModelError names the key.
ChannelMixture read_channel_mixture(const std::filesystem::path& file);
// Model types a generator file names as its default ("default_for_model_types").
std::vector<std::string> mixture_default_model_types(const std::filesystem::path& file);

class OutlierChannels {
 public:
  // Features per token, and the log-std of the channel scales.
  OutlierChannels(std::uint64_t seed, std::uint64_t stream, std::int64_t features,
                  double sigma = outlier_sigma_default);
  // The fitted channel-class mixture instead of one log-normal spread.
  OutlierChannels(std::uint64_t seed, std::uint64_t stream, std::int64_t features, const ChannelMixture& mix);

  // x [tokens][features] for tokens token0 .. token0 + tokens - 1.
  void fill(std::int64_t token0, std::int64_t tokens, std::span<float> x) const;
  [[nodiscard]] std::vector<float> tokens(std::int64_t token0, std::int64_t count) const;

  [[nodiscard]] std::int64_t features() const { return static_cast<std::int64_t>(scale_.size()); }
  [[nodiscard]] const std::vector<float>& scale() const { return scale_; }  // [features] s[c]

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::vector<float> scale_;  // [features]
};

}  // namespace spikesim::sim
