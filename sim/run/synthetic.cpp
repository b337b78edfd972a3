#include "sim/run/synthetic.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "base/json.hpp"
#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::sim {

namespace {

// splitmix64's finaliser: a bijective 64-bit mix, good enough to make counters look independent.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

constexpr std::uint64_t stream_key(std::uint64_t seed, std::uint64_t stream) {
  return mix64(mix64(seed ^ 0x9E3779B97F4A7C15ULL) + stream * 0xD1B54A32D192ED03ULL);
}

// Natural log of u in (0, 1], branch-free so loops over it vectorise: u = m * 2^e with m in [sqrt(1/2),
// sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172; the odd series to s^13 is exact to
// ~1e-13 relative.
inline double log_unit(double u) {
  const auto bits = std::bit_cast<std::uint64_t>(u);
  // Exponent relative to [sqrt(1/2), sqrt(2)): add the offset of sqrt(1/2)'s mantissa before extracting.
  const std::uint64_t shifted = bits + (0x3FF0000000000000ULL - 0x3FE6A09E667F3BCDULL);
  const auto e = static_cast<double>(static_cast<std::int64_t>(shifted >> 52U) - 1023);
  const double m =
      std::bit_cast<double>((shifted & 0x000FFFFFFFFFFFFFULL) + 0x3FE6A09E667F3BCDULL);  // [sqrt(.5), sqrt2)
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  const double series =
      1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11 + s2 / 13)))));
  return e * std::numbers::ln2 + 2.0 * s * series;
}

// cos and sin of 2 pi v for v in [0, 1), branch-free: reduce to a quarter turn r in [-1/8, 1/8] turns,
// Taylor series to degree 14/15 on |x| <= pi/4 (error < 1e-13), then rotate by the quadrant.
inline void cos_sin_turn(double v, double& c, double& s) {
  const auto k = static_cast<std::int64_t>(std::nearbyint(v * 4.0));  // nearest quadrant 0..4
  const auto q = static_cast<double>(k);
  const double x = (v - q * 0.25) * (2.0 * std::numbers::pi);
  const double x2 = x * x;
  const double cx =
      1.0 +
      x2 * (-1.0 / 2 +
            x2 * (1.0 / 24 + x2 * (-1.0 / 720 +
                                   x2 * (1.0 / 40320 + x2 * (-1.0 / 3628800 +
                                                             x2 * (1.0 / 479001600 - x2 / 87178291200.0))))));
  const double sx =
      x * (1.0 + x2 * (-1.0 / 6 +
                       x2 * (1.0 / 120 +
                             x2 * (-1.0 / 5040 + x2 * (1.0 / 362880 + x2 * (-1.0 / 39916800 +
                                                                            x2 * (1.0 / 6227020800 -
                                                                                  x2 / 1307674368000.0)))))));
  const std::int64_t quadrant = k & 3;
  // rotate (cx, sx) by quadrant * 90 degrees
  c = quadrant == 0 ? cx : quadrant == 1 ? -sx : quadrant == 2 ? -cx : sx;
  s = quadrant == 0 ? sx : quadrant == 1 ? cx : quadrant == 2 ? -sx : -cx;
}

// Box-Muller on draw pair `pair` of a stream: (z0, z1), two independent N(0, 1) values.
inline void normal_pair(std::uint64_t key, std::uint64_t pair, double& z0, double& z1) {
  const std::uint64_t h = mix64(key + pair * 0x9E3779B97F4A7C15ULL);
  const double u1 = (static_cast<double>(h >> 32U) + 1.0) * 0x1p-32;   // (0, 1]
  const double u2 = static_cast<double>(h & 0xFFFFFFFFULL) * 0x1p-32;  // [0, 1)
  const double r = std::sqrt(-2.0 * log_unit(u1));
  double c = 0.0;
  double s = 0.0;
  cos_sin_turn(u2, c, s);
  z0 = r * c;
  z1 = r * s;
}

}  // namespace

double standard_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  double z0 = 0.0;
  double z1 = 0.0;
  normal_pair(stream_key(seed, stream), index >> 1U, z0, z1);
  return (index & 1U) != 0 ? z1 : z0;
}

OutlierChannels::OutlierChannels(std::uint64_t seed, std::uint64_t stream, std::int64_t features,
                                 double sigma)
    : seed_(seed), stream_(stream) {
  if (features < 1)
    throw std::invalid_argument(cat("synthetic activations: features must be >= 1, got ", features));
  if (!(sigma >= 0.0) || !std::isfinite(sigma)) {
    throw std::invalid_argument(cat("synthetic activations: sigma must be finite and >= 0, got ", sigma));
  }
  // Channel scales come from the stream's own scale sub-stream (odd stream ids are never token streams).
  scale_.resize(static_cast<std::size_t>(features));
  for (std::size_t c = 0; c < scale_.size(); ++c)
    scale_[c] = static_cast<float>(std::exp(sigma * standard_normal(seed, 2 * stream + 1, c)));
}

OutlierChannels::OutlierChannels(std::uint64_t seed, std::uint64_t stream, std::int64_t features,
                                 const ChannelMixture& m)
    : seed_(seed), stream_(stream) {
  if (features < 1)
    throw std::invalid_argument(cat("synthetic activations: features must be >= 1, got ", features));
  constexpr std::uint64_t class_streams = std::uint64_t{1} << 62U;
  scale_.resize(static_cast<std::size_t>(features));
  for (std::size_t c = 0; c < scale_.size(); ++c) {
    const double v = standard_normal(seed, class_streams + stream, c);
    const double u = standard_normal(seed, 2 * stream + 1, c);
    const double log_a = v < m.t_quiet     ? std::log(m.s_quiet) + m.sigma_quiet * u
                         : v > m.t_outlier ? std::log(m.s_outlier) + m.sigma_outlier * u
                                           : m.sigma_bulk * u;
    scale_[c] = static_cast<float>(std::exp(log_a));
  }
}

ChannelMixture read_channel_mixture(const std::filesystem::path& file) {
  const nlohmann::json doc = parse_json_file<models::ModelError>(file);
  const JsonAt<models::ModelError> j(doc, file.string());
  const std::string family = j.at("family").string();
  if (family != "outlier_channel_mixture")
    j.at("family").fail(cat("'", family, "' unknown (spikesim generates outlier_channel_mixture)"));
  ChannelMixture m;
  m.t_quiet = j.at("t_quiet").number();
  m.s_quiet = j.at("s_quiet").number(0.0);
  m.sigma_quiet = j.at("sigma_quiet").number(0.0);
  m.sigma_bulk = j.at("sigma_bulk").number(0.0);
  m.t_outlier = j.at("t_outlier").number();
  m.s_outlier = j.at("s_outlier").number(0.0);
  m.sigma_outlier = j.at("sigma_outlier").number(0.0);
  if (!(m.s_quiet > 0.0) || !(m.s_outlier > 0.0)) j.fail("s_quiet and s_outlier must be positive");
  if (!(m.t_quiet <= m.t_outlier)) j.fail("t_quiet must not exceed t_outlier");
  m.file = file.string();
  return m;
}

std::vector<std::string> mixture_default_model_types(const std::filesystem::path& file) {
  const nlohmann::json doc = parse_json_file<models::ModelError>(file);
  const JsonAt<models::ModelError> j(doc, file.string());
  std::vector<std::string> types;
  if (!j.has("default_for_model_types")) return types;
  for (const auto& t : j.at("default_for_model_types").elements())
    types.push_back(t.string());
  return types;
}

void OutlierChannels::fill(std::int64_t token0, std::int64_t tokens, std::span<float> x) const {
  const auto f = static_cast<std::uint64_t>(scale_.size());
  if (token0 < 0 || tokens < 0 || x.size() != static_cast<std::size_t>(tokens) * f) {
    throw std::invalid_argument(
        cat("synthetic activations: ", x.size(), " values for ", tokens, " tokens of ", f, " features"));
  }
  const std::uint64_t key = stream_key(seed_, 2 * stream_);
  const std::uint64_t first = static_cast<std::uint64_t>(token0) * f;  // flat index of x[0][0] in the stream
  const std::uint64_t n = x.size();
  // Draw index i -> pair i / 2, slot i % 2. Handle an odd first index, then whole pairs, then an odd tail.
  std::uint64_t i = 0;
  if ((first & 1U) != 0 && n > 0) {
    x[0] = static_cast<float>(standard_normal(seed_, 2 * stream_, first));
    i = 1;
  }
  const std::uint64_t pairs = (n - i) / 2;
  const std::uint64_t pair0 = (first + i) / 2;
  float* out = x.data() + i;
  constexpr std::uint64_t block = 256;
  std::array<double, block> z0{};  // one block of pairs at a time: the draw loop vectorises on its own
  std::array<double, block> z1{};
#pragma omp parallel for schedule(static) private(z0, z1) if (pairs >= 8 * block)
  for (std::uint64_t b = 0; b < pairs; b += block) {
    const std::uint64_t m = std::min(block, pairs - b);
    for (std::uint64_t p = 0; p < m; ++p)  // vectorises: no branches, no library calls
      normal_pair(key, pair0 + b + p, z0[p], z1[p]);
    for (std::uint64_t p = 0; p < m; ++p) {
      out[2 * (b + p)] = static_cast<float>(z0[p]);
      out[2 * (b + p) + 1] = static_cast<float>(z1[p]);
    }
  }
  i += 2 * pairs;
  if (i < n) x[i] = static_cast<float>(standard_normal(seed_, 2 * stream_, first + i));
  // Channel scales: x starts at a token boundary, so element [t][c] takes scale c.
  const float* scale = scale_.data();
  for (std::uint64_t t = 0; t < static_cast<std::uint64_t>(tokens); ++t) {
    float* row = x.data() + t * f;
    for (std::uint64_t c = 0; c < f; ++c)
      row[c] *= scale[c];
  }
}

std::vector<float> OutlierChannels::tokens(std::int64_t token0, std::int64_t count) const {
  std::vector<float> x(static_cast<std::size_t>(count) * scale_.size());
  fill(token0, count, x);
  return x;
}

}  // namespace spikesim::sim
