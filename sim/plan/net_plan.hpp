#pragma once
// General networks (ONNX, Keras): the network description lowered once into a flat plan of steps over
// contiguous float buffers (NCHW), run by a plain loop (sim/net_run.hpp). The dense run and the spiking run
// share the plan; they differ only at the synaptic sites:
//   - a synaptic site is a Conv, Gemm or MatMul whose weights are constant (after constant folding);
//   - a coded site is a synaptic site the spiking run codes: every site except, by default, the input layer
//     (sites fed by the model input through non-synaptic ops only: SNN conversions keep the encoding layer
//     analog, the raw image is not spike-coded; `code_input_layer` codes it too) and any site listed in
//     `dense_sites`;
//   - every other op runs densely in both runs and is counted (MACs / element-wise ops).
// Shape ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout) are views and cost nothing; subgraphs
// of constants are folded at lowering; an Add of a per-channel constant right after a site's output is
// folded into the site's bias.
//
// Samples: the plan runs `batch` samples at a time (the model's static batch, or any chosen batch when the
// input's first dimension is dynamic). Every runtime value must keep samples contiguous (dimension 0 is the
// batch, possibly merged with following dimensions by a reshape); spike coding is per sample.

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "models/network.hpp"
#include "sim/kernels/conv.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/kernels/ops.hpp"

namespace spikesim::sim {

struct LowerOptions {
  std::int64_t batch = 1;             // samples per run of the plan when the input batch is dynamic
  bool code_input_layer = false;      // also spike-code the sites fed by the model input
  std::set<std::string> dense_sites;  // synaptic sites (op names) to leave dense; unknown names are an error
};

struct PlanValue {
  std::string name;  // op that produces it
  ops::Shape shape;  // runtime values: dimension 0 covers the plan's batch
  bool constant = false;
  std::vector<float> data;         // constants: values
  bool integer = false;            // constants read from integer tensors (shapes, axes)
  std::vector<std::int64_t> ints;  // integer constants: exact values
  int slot = -1;                   // runtime values: buffer slot (views share their input's slot)
  bool after_site = false;         // computed from the output of a synaptic site
  bool sample_major = true;        // samples lie in equal contiguous slices, in order (needed with batch > 1)
  int site_step = -1;              // the synaptic step whose direct output this is
  int consumers = 0;               // ops reading this value (bias folding needs exactly one)
};

enum class StepKind {
  conv,    // synaptic: ConvWeights
  linear,  // synaptic: LinearWeights over rows = numel(input) / in
  matmul,  // dense matmul with broadcasting (no constant 2-D weight)
  binary,  // add / sub / mul / div with broadcasting
  unary,   // relu / leaky_relu / sigmoid / tanh / clip
  max_pool,
  average_pool,
  global_average_pool,
  batch_norm,
  transpose,
  concat,
  softmax,
};
std::string_view name(StepKind kind);

struct Step {
  StepKind kind = StepKind::unary;
  std::string name;          // the op's name in the model
  std::string op;            // the op as the file names it (Conv, Gemm, Relu, ...)
  std::vector<int> in;       // value ids
  int out = -1;              // value id
  bool coded = false;        // synaptic site spike-coded in the spiking run
  bool input_layer = false;  // synaptic site fed by the model input through non-synaptic ops only

  std::shared_ptr<ConvWeights> conv;      // conv
  std::shared_ptr<LinearWeights> linear;  // linear
  std::int64_t rows = 0;                  // linear: rows per plan run

  ops::Binary binary = ops::Binary::add;  // binary: out shape and broadcast strides of both inputs
  ops::Shape out_shape, a_strides, b_strides;
  ops::Unary unary = ops::Unary::relu;
  ops::UnaryParams unary_params;
  ops::Pool2d pool;                            // pools: planes = outer
  std::int64_t outer = 0, len = 0, inner = 0;  // pools, global pool, batch_norm, softmax, concat
  bool log = false;                            // log_softmax
  std::vector<float> scale, shift;             // batch_norm folded: y = x * scale + shift
  ops::Shape perm, in_shape;                   // transpose
  std::vector<std::int64_t> sizes;             // concat: size of each input along the axis
  std::int64_t m = 0, k = 0, n = 0;            // matmul (a_strides / b_strides hold batch strides)

  // Work per sample, for the counters of dense ops and uncoded sites.
  std::int64_t macs_per_sample = 0;
  std::int64_t elementwise_per_sample = 0;
  std::int64_t in_per_sample = 0;   // presynaptic neurons (sites) or input elements per sample
  std::int64_t out_per_sample = 0;  // output elements per sample
  std::int64_t weights = 0;         // parameters the op stores
};

struct NetPlan {
  std::string source;
  std::int64_t batch = 1;
  bool dynamic_batch = false;
  std::vector<PlanValue> values;
  std::vector<Step> steps;
  std::vector<std::int64_t> slot_size;  // floats per runtime buffer slot
  int input = -1;                       // value id of the model input
  int output = -1;                      // value id of the (first) model output
  std::string input_name, output_name;
  ops::Shape input_shape;  // with the plan's batch in dimension 0

  [[nodiscard]] std::int64_t sample_input_size() const { return ops::numel(input_shape) / batch; }
  [[nodiscard]] std::int64_t sample_output_size() const {
    return ops::numel(values[static_cast<std::size_t>(output)].shape) / batch;
  }
  [[nodiscard]] std::vector<std::string> sites(bool coded) const;  // names of coded / dense synaptic sites
};

// Lowers `network` (one model input, float32) for the plan's batch. ModelError naming the source file, the op
// and expected vs found for anything the plan cannot run (shape mismatches, non-constant shapes or weights,
// unknown dense_sites names).
NetPlan lower_network(const models::Network& network, const LowerOptions& options = {});

// Runs one step densely on inputs resolved by the caller (one span per step input), writing `out`.
void run_step_dense(const Step& step, const std::vector<std::span<const float>>& ins, std::span<float> out);

}  // namespace spikesim::sim
