#pragma once
// The one execution plan every model kind lowers to (sim/plan/lower.hpp): a flat list of steps over
// contiguous float buffers, run by one executor (sim/run/execute.hpp) densely (the GPU-equivalent run) or
// spiking. The two runs share the plan and differ only at the coded synaptic sites.
//
// A step is a kind plus its own small parameter struct (the variant below); values are the tensors the steps
// read and write. Rows: every runtime value is [rows][per-row values]:
//   - network plans (ONNX, Keras) and trace plans: shapes are fixed at lowering; a row is a sample and a run
//     processes `batch` samples (a trace is one sample);
//   - token plans (decoder LLMs): a row is a token, and each call runs as many rows as it has tokens, at
//     positions state.pos .. (KV caches live in the run state).
// Synaptic sites: linear and conv steps. Projections that read the same tensor are fused into one site (one
// step with several outputs: a spike of one presynaptic neuron reaches every synapse of every projection
// reading it). Which sites are spike-coded is decided by the site selection (sim/plan/select.hpp).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/kernels/conv.hpp"
#include "sim/kernels/linear.hpp"
#include "sim/kernels/llm_ops.hpp"
#include "sim/kernels/ops.hpp"

namespace spikesim::sim {

enum class PlanKind {
  network,  // ONNX / Keras: fixed sample shapes, coded per sample
  tokens,   // decoder LLM: rows are tokens, coded per call
  trace,    // HDF5 activation trace: recorded inputs of independent layers
};
std::string_view name(PlanKind kind);

struct PlanValue {
  std::string name;  // op that produces it
  ops::Shape shape;  // network / trace plans: the whole run (dimension 0 covers the batch); token plans:
                     // [1, width], one row
  bool constant = false;
  std::vector<float> data;          // constants: values
  bool integer = false;             // constants read from integer tensors (shapes, axes)
  std::vector<std::int64_t> ints;   // integer constants: exact values
  std::span<const float> recorded;  // trace plans: recorded activations (a view into the model's storage)
  int slot = -1;                    // runtime values: buffer slot (views share their input's slot)
  bool after_site = false;          // computed from the output of a synaptic site
  bool sample_major = true;  // samples lie in equal contiguous slices, in order (needed with batch > 1)
  int site_step = -1;        // the synaptic step whose direct output this is
  int consumers = 0;         // ops reading this value (bias folding needs exactly one)
};

// --- step parameters, one struct per kind (the variant's order is StepKind's) ---
struct LinearStep {
  std::shared_ptr<LinearWeights> weights;  // fused projections: outputs concatenated
  std::vector<std::int64_t> out_widths;    // [outputs] features of each output value (sum = weights->out)
  std::int64_t rows = 0;                   // network / trace plans: rows per run; token plans: 0 (the call's)
};
struct ConvStep {
  std::shared_ptr<ConvWeights> weights;
};
struct MatmulStep {
  ops::Shape out_batch, a_strides, b_strides;  // batch strides in matrices, 0 where broadcast
  std::int64_t m = 0, k = 0, n = 0;
};
struct BinaryStep {
  ops::Binary op = ops::Binary::add;
  ops::Shape out_shape, a_strides, b_strides;  // network plans
  bool rows_elementwise = false;               // token plans: both inputs [rows][width], element by element
};
struct UnaryStep {
  ops::Unary op = ops::Unary::relu;
  ops::UnaryParams params;
};
struct PoolStep {
  ops::Pool2d pool;
  std::int64_t planes = 0;  // N x C
  bool max = true;
};
struct GlobalPoolStep {
  std::int64_t planes = 0, len = 0;
};
struct BatchNormStep {
  std::vector<float> scale, shift;  // folded: y = x * scale + shift, per channel (or per activation)
  std::int64_t channels = 0, inner = 0;
};
struct TransposeStep {
  ops::Shape perm, in_shape;
};
struct ConcatStep {
  std::int64_t outer = 0, inner = 0;
  std::vector<std::int64_t> sizes;  // size of each input along the axis
};
struct SoftmaxStep {
  std::int64_t outer = 0, len = 0, inner = 0;
  bool log = false;
};
struct EmbeddingStep {
  const void* table = nullptr;  // [vocab][dim] in its stored dtype: a view of the model's storage
  WeightType type = WeightType::f32;
  std::int64_t vocab = 0, dim = 0;
};
struct RmsNormStep {
  std::vector<float> weight;  // [dim]
  double eps = 1e-5;
};
struct RopeStep {                   // inputs q [, k]; outputs rotated q [, k]
  std::vector<std::int64_t> heads;  // heads of each input
  std::int64_t head_dim = 0;
  bool interleaved = false;
  std::shared_ptr<const ops::RopeTables> tables;  // shared by every rope step of one geometry; null when
                                                  // the plan is shape-only
  // Dynamic NTK scaling (factor > 0): a call reaching length L > context rotates with its own θ'
  // (ops::dynamic_ntk_theta) instead of `tables`, as transformers' dynamic_rope_update does.
  double dynamic_factor = 0.0;
  double theta = 10000.0;
  std::int64_t context = 0;  // the context `tables` covers; dynamic: max_position_embeddings
};
struct AttentionStep {  // inputs q, k, v; the KV cache is the step's run state
  std::int64_t heads = 0, kv_heads = 0, head_dim = 0, context = 0;
  std::int64_t window = 0;  // sliding window: query i attends keys i - window < j <= i; 0: all j <= i
                            // (the cache then keeps at most 2 x window positions)
  // Spiking run (step.coded, SpikingBrain's SWA): the query is coded per token and head (site
  // layers.L.attn_query) and its events reach the attended keys; keys and values INT8 fake-quantised per
  // token and head (kv_int8) before they enter the cache.
  bool kv_int8 = false;
  std::int64_t sinks = 0;  // sink tokens every query also attends (SpikingBrain-76B; accounting only)
  [[nodiscard]] std::uint64_t keys_sum(std::uint64_t attended, std::int64_t rows) const {
    return attended + static_cast<std::uint64_t>(rows * sinks);
  }
};
// SpikingBrain's gated linear attention (ops::gated_linear_attention): inputs q, k (after ReLU), v, gk (none
// with key_gate); the
// recurrent state [kv_heads][head_dim][head_dim] is the step's run state.
struct GlaStep {
  std::int64_t heads = 0, kv_heads = 0, head_dim = 0;
  double normaliser = 16.0;
  bool key_gate = false;  // SpikingBrain-76B: no gk input, the decay is 1 - k (sigmoid keys)
  [[nodiscard]] std::int64_t state_floats() const { return kv_heads * head_dim * head_dim; }
};
struct SiluMulStep {};
// Mixture of SwiGLU experts (Mixtral, Qwen-MoE): inputs x [rows][dim] and the router's logits
// [rows][experts]; output [rows][dim] = sum over the token's top-k experts of weight * expert(x) (+ the
// shared expert times sigmoid(x . shared_router)). In the spiking run (step.coded) x is coded once and each
// token's events reach only its routed experts' synapses (and the shared expert's); the experts' down
// projections run densely (counted as uncoded MACs).
struct MoeStep {
  std::int64_t experts = 0, top_k = 0, dim = 0, hidden = 0, shared_hidden = 0;
  bool norm_topk_prob = true;
  bool shared_gated =
      true;  // the shared expert's output is scaled by its sigmoid gate (the last gate_up row)
  std::vector<std::shared_ptr<LinearWeights>> gate_up;  // [experts]: [2 hidden][dim], gate rows then up rows
  std::vector<std::shared_ptr<LinearWeights>> down;     // [experts]: [dim][hidden]
  std::shared_ptr<LinearWeights> shared_gate_up;        // [2 shared_hidden (+ 1)][dim]: the last row is the
                                                        // shared expert's gate (shared_expert_gate) if any
  std::shared_ptr<LinearWeights> shared_down;           // [dim][shared_hidden]
};

using StepParams =
    std::variant<LinearStep, ConvStep, MatmulStep, BinaryStep, UnaryStep, PoolStep, GlobalPoolStep,
                 BatchNormStep, TransposeStep, ConcatStep, SoftmaxStep, EmbeddingStep, RmsNormStep, RopeStep,
                 AttentionStep, SiluMulStep, MoeStep, GlaStep>;
enum class StepKind {
  linear,
  conv,
  matmul,
  binary,
  unary,
  pool,
  global_average_pool,
  batch_norm,
  transpose,
  concat,
  softmax,
  embedding,
  rmsnorm,
  rope,
  attention,
  silu_mul,
  moe,
  gla,
};
std::string_view name(StepKind kind);

struct Step {
  std::string name;                  // report row: the op's name, or the site's for synaptic sites
  std::string op;                    // the op as the file names it (Conv, Gemm, rmsnorm, ...)
  std::string site;                  // synaptic sites: the site name the loader gave (e.g. layers.0.attn_in)
  std::vector<std::string> members;  // synaptic sites: the projection ops fused into it
  std::vector<int> in;               // value ids
  std::vector<int> out;              // value ids (one, except fused sites and rope)
  bool coded = false;                // synaptic site spike-coded in the spiking run
  bool input_layer = false;          // synaptic site fed by the model input through non-synaptic ops only
  std::int64_t index = -1;           // report index; -1: the step's position
  // Report shape and work per row (network plans: per sample).
  std::int64_t in_per_row = 0;   // presynaptic neurons (sites) or input elements
  std::int64_t out_per_row = 0;  // postsynaptic neurons or output elements
  std::int64_t weights = 0;      // parameters the op stores
  std::int64_t macs_per_row = 0;
  std::int64_t elementwise_per_row = 0;
  StepParams params;

  [[nodiscard]] StepKind kind() const { return static_cast<StepKind>(params.index()); }
  [[nodiscard]] bool synaptic() const { return kind() == StepKind::linear || kind() == StepKind::conv; }
  // A site the selection can code: synaptic steps, a MoE block (its mlp_in input) and SpikingBrain's SWA
  // attention (its query, when the loader named a site for it).
  [[nodiscard]] bool site_candidate() const {
    return synaptic() || kind() == StepKind::moe || (kind() == StepKind::attention && !site.empty());
  }
  template <class T>
  [[nodiscard]] const T& as() const {
    return std::get<T>(params);
  }
  template <class T>
  [[nodiscard]] T& as() {
    return std::get<T>(params);
  }
};

struct Plan {
  std::string source;
  PlanKind kind = PlanKind::network;
  std::int64_t batch = 1;  // network plans: samples per run; others 1
  bool dynamic_batch = false;
  std::vector<std::shared_ptr<const void>> storage;  // keeps views into the model's memory alive
  std::vector<PlanValue> values;
  std::vector<Step> steps;
  std::vector<std::int64_t> slot_size;  // floats per row of each runtime buffer slot
  int input = -1;                       // value id of the model input (-1: a trace)
  int output = -1;                      // value id of the (first) model output
  std::string input_name, output_name;
  ops::Shape input_shape;    // network plans: with the plan's batch in dimension 0
  std::int64_t vocab = 0;    // token plans: token ids are < vocab
  std::int64_t context = 0;  // token plans: longest sequence (positions)
  bool shape_only = false;   // weights are shapes only: the plan can be counted, not run

  [[nodiscard]] std::int64_t sample_input_size() const { return ops::numel(input_shape) / batch; }
  [[nodiscard]] std::int64_t sample_output_size() const {
    return ops::numel(values[static_cast<std::size_t>(output)].shape) / batch;
  }
  // Floats per row of the output (token plans: the vocabulary).
  [[nodiscard]] std::int64_t output_per_row() const {
    return slot_size[static_cast<std::size_t>(values[static_cast<std::size_t>(output)].slot)];
  }
  [[nodiscard]] std::vector<std::string> sites(bool coded) const;  // names of coded / dense synaptic sites
};

// Runs one step densely on the given inputs and outputs (one span per value; token plans: `rows` rows at
// positions pos0 ..). Attention reads and extends the KV cache `cache_key` / `cache_value` ([context][kv]).
struct StepRun {
  std::int64_t rows = 0;
  std::int64_t pos0 = 0;
  std::span<const std::int32_t> tokens;     // embedding steps
  std::vector<float>* cache_key = nullptr;  // attention: [positions][kv] from *cache_first on, grown as
                                            // positions are added; gla: the recurrent state
  std::vector<float>* cache_value = nullptr;
  std::vector<std::uint64_t>* expert_tokens = nullptr;  // moe: tokens routed to each expert, added to
  std::int64_t* cache_first = nullptr;                  // attention: first position the cache holds
  bool int8_kv = false;  // attention: fake-quantise new keys and values (AttentionStep)
};
void run_step_dense(const Step& step, const std::vector<std::span<const float>>& ins,
                    const std::vector<std::span<float>>& outs, const StepRun& run = {});

// Mixture of experts (MoeStep), densely: routes each row of logits, runs its experts, adds them up;
// expert_tokens (optional, [experts]) gets the tokens routed to each expert added. The helpers are shared
// with the spiking run: rows routed to each expert (ascending), a routed expert's output added into out
// with its routing weight, the shared expert's output added with its sigmoid gate (the last column of its
// gate_up output), SwiGLU of a gate_up output [rows][stride] whose first 2 hidden columns are gate, up.
void moe_dense(const MoeStep& moe, std::span<const float> x, std::span<const float> logits,
               std::span<float> out, std::vector<std::uint64_t>* expert_tokens = nullptr);
std::vector<std::vector<std::int64_t>> rows_of_experts(const ops::Routing& routing, std::int64_t experts);
void moe_combine(const MoeStep& moe, std::int64_t expert, const ops::Routing& routing,
                 std::span<const std::int64_t> rows, std::span<const float> y, std::span<float> out);
void moe_shared_combine(const MoeStep& moe, std::span<const float> gate_up, std::span<const float> y,
                        std::span<float> out);
std::vector<float> swiglu_of(std::span<const float> gate_up, std::int64_t hidden, std::size_t stride);

// Copies the column blocks of y [rows][sum widths] into outs[p] [rows][widths[p]] (a fused site's outputs).
void split_columns(std::span<const float> y, const std::vector<std::int64_t>& widths,
                   const std::vector<std::span<float>>& outs);

}  // namespace spikesim::sim
