#include "sim/plan/cost.hpp"

namespace spikesim::sim {

namespace {

std::uint64_t u64(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

bool has_bias(const Step& s) {
  if (s.kind() == StepKind::linear) return !s.as<LinearStep>().weights->bias.empty();
  if (s.kind() == StepKind::conv) return !s.as<ConvStep>().weights->bias.empty();
  return false;
}

std::int64_t weight_count(const Step& s) {
  if (s.kind() == StepKind::linear) return s.as<LinearStep>().weights->weight_count();
  if (s.kind() == StepKind::conv) return s.as<ConvStep>().weights->weight_count();
  return 0;
}

// Token plans: one call of `rows` tokens.
SiteCounters token_cost(const Step& s, std::int64_t rows, Positions positions) {
  SiteCounters c;
  std::uint64_t macs = u64(s.macs_per_row * rows);
  std::uint64_t weight_words = 0;
  switch (s.kind()) {
    case StepKind::attention: {
      // q.k and p.v: 2 x heads x head_dim MACs per attended position, causal.
      const AttentionStep& a = s.as<AttentionStep>();
      const std::uint64_t ctx_sum = a.keys_sum(attended_sum(positions, rows, a.window), rows);
      macs = 2 * u64(a.heads * a.head_dim) * ctx_sum;
      // Softmax over the scores: exponent, sum and divide per attended position and head.
      c.elementwise_ops = 3 * u64(a.heads) * ctx_sum;
      break;
    }
    case StepKind::embedding:
      weight_words = u64(rows * s.out_per_row);  // one table row per token
      break;
    case StepKind::linear:
      weight_words = u64(weight_count(s));
      c.bias_adds = has_bias(s) ? u64(rows * s.out_per_row) : 0;
      break;
    case StepKind::moe:  // macs_per_row: the top-k experts and the shared expert; every expert's weights
      weight_words = u64(s.weights);
      break;
    default:
      break;
  }
  c.add_dense_op(u64(rows), macs, weight_words);
  c.elementwise_ops += u64(s.elementwise_per_row * rows);
  return c;
}

// Network and trace plans: `rows` samples.
SiteCounters sample_cost(const Step& s, std::int64_t samples) {
  SiteCounters c;
  const std::uint64_t n = u64(samples);
  c.calls = n;
  c.uncoded_macs = u64(s.macs_per_row) * n;
  c.dense_macs = c.uncoded_macs;
  c.elementwise_ops = u64(s.elementwise_per_row) * n;
  if (s.synaptic()) {
    c.bias_adds = has_bias(s) ? u64(s.out_per_row) * n : 0;
    c.dense_weight_words = u64(weight_count(s)) * n;
  }
  return c;
}

}  // namespace

SiteCounters dense_cost(const Plan& plan, const Step& step, std::int64_t rows, Positions positions) {
  return plan.kind == PlanKind::tokens ? token_cost(step, rows, positions) : sample_cost(step, rows);
}

std::uint64_t attended_sum(Positions positions, std::int64_t rows, std::int64_t window) {
  std::uint64_t sum = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int64_t pos = positions.first + i;
    sum += u64(ops::attended_keys(positions.sequence > 0 ? pos % positions.sequence : pos, window));
  }
  return sum;
}

std::vector<std::int64_t> attended_per_row(Positions positions, std::int64_t rows, std::int64_t window) {
  std::vector<std::int64_t> keys(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int64_t pos = positions.first + i;
    keys[static_cast<std::size_t>(i)] =
        ops::attended_keys(positions.sequence > 0 ? pos % positions.sequence : pos, window);
  }
  return keys;
}

SiteCounters coded_attention_cost(const AttentionStep& a, std::int64_t rows, Positions positions) {
  SiteCounters c;
  const std::uint64_t keys = a.keys_sum(attended_sum(positions, rows, a.window), rows);
  const std::uint64_t qk = u64(a.heads * a.head_dim) * keys;
  c.dense_macs = 2 * qk;
  c.uncoded_macs = qk;  // probabilities x values
  c.elementwise_ops = 3 * u64(a.heads) * keys;
  if (a.kv_int8) c.elementwise_ops += u64(6 * rows * a.kv_heads * a.head_dim);
  return c;
}

}  // namespace spikesim::sim
