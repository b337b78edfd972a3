#pragma once
// The C++ side of spikesim.torch.probe: one synaptic site of a live PyTorch model (an nn.Linear, several
// nn.Linear reading the same input, or an nn.Conv2d), coded through the same site pipeline as `spikesim run`
// (sim::code_site) and counted into the same report record. Python hands it the layer's input as a float32
// array and gets x̂ = count · V_th back; the layer itself runs in PyTorch.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/kernels/conv.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::python {

class ProbeSite {
 public:
  // A linear site: `in` presynaptic neurons reaching `out` synapses each (every projection of the site),
  // fanout_nonzero [in] of them non-zero.
  static ProbeSite linear(std::string name, std::int64_t index, bool coded, std::int64_t in, std::int64_t out,
                          bool has_bias, std::vector<std::int64_t> fanout_nonzero);
  // A convolution site for inputs [C][H][W]: W [M][C/groups][kh][kw] row-major, bias [M] or empty.
  static ProbeSite conv(std::string name, std::int64_t index, bool coded, const sim::ConvGeometry& geometry,
                        std::span<const float> weight, std::span<const float> bias);

  // One call of the site on x [rows][in] (linear: rows are tokens, coded together; conv: rows are samples,
  // each coded on its own as `spikesim run` codes a network's samples). Writes x̂ [rows][in] and adds the
  // counters. `what` names the input in errors.
  void code(const sim::SiteConfig& config, std::span<const float> x, std::int64_t rows,
            std::span<float> x_hat, const std::string& what);
  // One call of the site run densely (not spike-coded): dense and uncoded MACs, weights read, bias adds.
  void add_dense(std::int64_t rows);
  // Output error sums of the spiking output vs the dense output of the same input.
  void add_output_error(std::span<const float> y_spiking, std::span<const float> y_dense);
  // The same sums computed elsewhere (on the GPU, in float64): sum y_dense^2 and sum (y_spiking - y_dense)^2.
  void add_output_sums(double output_sq_norm, double output_sq_err);

  [[nodiscard]] const sim::LayerRecord& record() const { return record_; }
  [[nodiscard]] std::int64_t in() const { return record_.in; }
  [[nodiscard]] bool is_conv() const { return conv_.has_value(); }
  [[nodiscard]] const sim::ConvGeometry* geometry() const { return conv_ ? &conv_->geometry : nullptr; }

 private:
  ProbeSite() = default;
  sim::LayerRecord record_;
  bool has_bias_ = false;
  std::vector<std::int64_t> fanout_;          // [in] synapses of each presynaptic neuron
  std::vector<std::int64_t> fanout_nonzero_;  // [in] of those, non-zero weights
  std::optional<sim::ConvWeights> conv_;      // conv sites: the lowered layer (fan-outs, geometry)
  sim::CodedSite scratch_;                    // buffers reused from call to call
};

}  // namespace spikesim::python
