#pragma once
// One small interface for every neuron model: activations [rows][cols] -> integer spike counts.
//
//   adaptive  SpikingBrain's adaptive-threshold neuron (DESIGN §2): V_th = bf16(mean|x|) / k, s = round(x /
//   V_th) lif       leaky integrate-and-fire over `steps` virtual steps with leak factor `beta` per step ilif
//   SpikeYOLO's integer LIF: s = round(clamp(x / V_th, 0, D))
//
// The threshold of every model is either adaptive (DESIGN §2 rule, per row or per tensor) or fixed (`v_th`).

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "neurons/spike_counts.hpp"

namespace spikesim::neurons {

enum class NeuronKind { adaptive, lif, ilif };
enum class Granularity { per_row, per_tensor };

struct NeuronConfig {
  NeuronKind kind = NeuronKind::adaptive;
  double k = 3.0;  // V_th = mean|x| / k
  Granularity granularity = Granularity::per_row;
  std::optional<double> v_th;  // fixed threshold instead of the adaptive rule
  double lif_beta = 1.0;       // lif: membrane kept per step (1 = no leak)
  int lif_steps = 16;          // lif: virtual steps the input current is integrated over
  bool lif_signed = true;      // lif: also fire negative spikes at v <= -theta
  int ilif_max_count = 4;      // ilif: D, the largest integer spike count
};

class NeuronError : public UserError {
 public:
  using UserError::UserError;
};

// Validates the config (k > 0, steps > 0, ...); throws NeuronError naming the bad field.
void validate(const NeuronConfig& config);

// Runs the configured neuron on x [rows][cols]. `what` names the tensor in error messages.
SpikeCounts fire(const NeuronConfig& config, std::span<const float> x, std::int64_t rows, std::int64_t cols,
                 std::string_view what = "activations");

NeuronKind parse_neuron_kind(std::string_view name);
std::string_view name(NeuronKind kind);
Granularity parse_granularity(std::string_view name);
std::string_view name(Granularity granularity);

}  // namespace spikesim::neurons
