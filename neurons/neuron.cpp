#include "neurons/neuron.hpp"

#include <array>
#include <cmath>

#include "base/text.hpp"
#include "neurons/adaptive_threshold.hpp"
#include "neurons/ilif.hpp"
#include "neurons/lif.hpp"

namespace spikesim::neurons {

void validate(const NeuronConfig& config) {
  if (!(config.k > 0.0) || !std::isfinite(config.k))
    throw NeuronError(cat("neuron: k must be > 0, got ", config.k));
  if (config.v_th && (!(*config.v_th > 0.0) || !std::isfinite(*config.v_th))) {
    throw NeuronError(cat("neuron: fixed v_th must be > 0, got ", *config.v_th));
  }
  if (config.kind == NeuronKind::lif) {
    if (config.lif_steps < 1)
      throw NeuronError(cat("neuron lif: steps must be >= 1, got ", config.lif_steps));
    if (!(config.lif_beta > 0.0 && config.lif_beta <= 1.0)) {
      throw NeuronError(cat("neuron lif: beta must be in (0, 1], got ", config.lif_beta));
    }
  }
  if (config.kind == NeuronKind::ilif && config.ilif_max_count < 1) {
    throw NeuronError(cat("neuron ilif: D must be >= 1, got ", config.ilif_max_count));
  }
}

SpikeCounts fire(const NeuronConfig& config, std::span<const float> x, std::int64_t rows, std::int64_t cols,
                 std::string_view what) {
  validate(config);
  if (static_cast<std::int64_t>(x.size()) != rows * cols) {
    throw NeuronError(cat(what, ": expected ", rows, " x ", cols, " values, found ", x.size()));
  }
  std::vector<float> v_th =
      config.v_th ? std::vector<float>(static_cast<std::size_t>(rows), static_cast<float>(*config.v_th))
                  : adaptive_thresholds(x, rows, cols, config.k, config.granularity);
  switch (config.kind) {
    case NeuronKind::adaptive:
      return adaptive_counts(x, rows, cols, std::move(v_th), what);
    case NeuronKind::lif:
      return lif_counts(
          x, rows, cols, std::move(v_th),
          LifParams{.beta = config.lif_beta, .steps = config.lif_steps, .fire_negative = config.lif_signed});
    case NeuronKind::ilif:
      return ilif_counts(x, rows, cols, std::move(v_th), config.ilif_max_count);
  }
  throw NeuronError("neuron: unknown kind");
}

namespace {
constexpr std::array<std::string_view, 3> kind_names = {"adaptive", "lif", "ilif"};
constexpr std::array<std::string_view, 2> granularity_names = {"row", "tensor"};
}  // namespace

NeuronKind parse_neuron_kind(std::string_view text) {
  for (std::size_t i = 0; i < kind_names.size(); ++i) {
    if (text == kind_names[i]) return static_cast<NeuronKind>(i);
  }
  throw NeuronError(cat("unknown neuron '", text, "' (expected adaptive, lif or ilif)"));
}

std::string_view name(NeuronKind kind) {
  return kind_names.at(static_cast<std::size_t>(kind));
}

Granularity parse_granularity(std::string_view text) {
  for (std::size_t i = 0; i < granularity_names.size(); ++i) {
    if (text == granularity_names[i]) return static_cast<Granularity>(i);
  }
  throw NeuronError(cat("unknown threshold granularity '", text, "' (expected row or tensor)"));
}

std::string_view name(Granularity granularity) {
  return granularity_names.at(static_cast<std::size_t>(granularity));
}

}  // namespace spikesim::neurons
