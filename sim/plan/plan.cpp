#include "sim/plan/plan.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "base/text.hpp"

namespace spikesim::sim {

std::string_view name(PlanKind kind) {
  switch (kind) {
    case PlanKind::network:
      return "network";
    case PlanKind::tokens:
      return "tokens";
    case PlanKind::trace:
      return "trace";
  }
  return "?";
}

std::string_view name(StepKind kind) {
  switch (kind) {
    case StepKind::linear:
      return "linear";
    case StepKind::conv:
      return "conv";
    case StepKind::matmul:
      return "matmul";
    case StepKind::binary:
      return "elementwise";
    case StepKind::unary:
      return "activation";
    case StepKind::pool:
      return "pool";
    case StepKind::global_average_pool:
      return "global_average_pool";
    case StepKind::batch_norm:
      return "batch_norm";
    case StepKind::transpose:
      return "transpose";
    case StepKind::concat:
      return "concat";
    case StepKind::softmax:
      return "softmax";
    case StepKind::embedding:
      return "embedding";
    case StepKind::rmsnorm:
      return "rmsnorm";
    case StepKind::rope:
      return "rope";
    case StepKind::attention:
      return "attention";
    case StepKind::silu_mul:
      return "silu_mul";
    case StepKind::moe:
      return "moe";
    case StepKind::gla:
      return "gla";
  }
  return "?";
}

std::vector<std::string> Plan::sites(bool coded) const {
  std::vector<std::string> out;
  for (const Step& s : steps) {
    if (s.synaptic() && s.coded == coded) out.push_back(s.name);
  }
  return out;
}

namespace {

std::int64_t rows_of(std::span<const float> values, std::int64_t per_row) {
  return per_row > 0 ? static_cast<std::int64_t>(values.size()) / per_row : 0;
}

}  // namespace

void run_step_dense(const Step& s, const std::vector<std::span<const float>>& ins,
                    const std::vector<std::span<float>>& outs, const StepRun& run) {
  const std::span<float> out = outs.empty() ? std::span<float>{} : outs[0];
  switch (s.kind()) {
    case StepKind::conv: {
      const ConvWeights& w = *s.as<ConvStep>().weights;
      conv_dense_forward(w, ins[0], rows_of(ins[0], w.geometry.in_size()), out);
      return;
    }
    case StepKind::linear: {
      const LinearStep& l = s.as<LinearStep>();
      const LinearWeights& w = *l.weights;
      const std::int64_t rows = rows_of(ins[0], w.in);
      if (outs.size() == 1) {
        dense_forward(w, ins[0], rows, out);
        return;
      }
      // A fused site: compute [rows][sum out] once, then hand each projection its columns.
      std::vector<float> y(static_cast<std::size_t>(rows * w.out));
      dense_forward(w, ins[0], rows, y);
      split_columns(y, l.out_widths, outs);
      return;
    }
    case StepKind::matmul: {
      const MatmulStep& m = s.as<MatmulStep>();
      ops::matmul(m.out_batch, m.a_strides, m.b_strides, m.m, m.k, m.n, ins[0], ins[1], out);
      return;
    }
    case StepKind::binary: {
      const BinaryStep& b = s.as<BinaryStep>();
      if (b.rows_elementwise) {
        ops::binary(b.op, ins[0], {1}, ins[1], {1}, {static_cast<std::int64_t>(out.size())}, out);
      } else {
        ops::binary(b.op, ins[0], b.a_strides, ins[1], b.b_strides, b.out_shape, out);
      }
      return;
    }
    case StepKind::unary: {
      const UnaryStep& u = s.as<UnaryStep>();
      ops::unary(u.op, u.params, ins[0], out);
      return;
    }
    case StepKind::pool: {
      const PoolStep& p = s.as<PoolStep>();
      if (p.max) {
        ops::max_pool(p.pool, p.planes, ins[0], out);
      } else {
        ops::average_pool(p.pool, p.planes, ins[0], out);
      }
      return;
    }
    case StepKind::global_average_pool: {
      const GlobalPoolStep& g = s.as<GlobalPoolStep>();
      ops::global_average_pool(g.planes, g.len, ins[0], out);
      return;
    }
    case StepKind::batch_norm: {
      const BatchNormStep& b = s.as<BatchNormStep>();
      ops::batch_norm(static_cast<std::int64_t>(ins[0].size()) / (b.channels * b.inner), b.channels, b.inner,
                      b.scale, b.shift, ins[0], out);
      return;
    }
    case StepKind::transpose: {
      const TransposeStep& t = s.as<TransposeStep>();
      ops::transpose(t.in_shape, t.perm, ins[0], out);
      return;
    }
    case StepKind::concat: {
      const ConcatStep& c = s.as<ConcatStep>();
      ops::concat(c.outer, c.inner, c.sizes, ins, out);
      return;
    }
    case StepKind::softmax: {
      const SoftmaxStep& m = s.as<SoftmaxStep>();
      ops::softmax(m.outer, m.len, m.inner, m.log, ins[0], out);
      return;
    }
    case StepKind::embedding: {
      const EmbeddingStep& e = s.as<EmbeddingStep>();
      ops::embedding(e.table, e.type, e.dim, run.tokens, out);
      return;
    }
    case StepKind::rmsnorm: {
      const RmsNormStep& n = s.as<RmsNormStep>();
      ops::rmsnorm(ins[0], n.weight, n.eps, out);
      return;
    }
    case StepKind::rope: {
      const RopeStep& r = s.as<RopeStep>();
      const std::int64_t length = run.pos0 + run.rows;
      std::optional<ops::RopeTables> dynamic;
      if (r.dynamic_factor > 0.0 && length > r.context) {  // dynamic NTK: θ' for this call's length
        dynamic = ops::rope_tables(
            length, r.head_dim,
            ops::dynamic_ntk_theta(r.theta, r.dynamic_factor, length, r.context, r.head_dim));
      }
      for (std::size_t i = 0; i < ins.size(); ++i) {
        std::copy(ins[i].begin(), ins[i].end(), outs[i].begin());
        ops::rope(outs[i], r.heads[i], r.head_dim, r.interleaved, dynamic ? *dynamic : *r.tables, run.pos0);
      }
      return;
    }
    case StepKind::attention: {
      const AttentionStep& a = s.as<AttentionStep>();
      // Append this call's keys and values to the cache, then attend over the positions each row sees. A
      // sliding-window cache drops the keys no later query reaches once it holds more than 2 x window.
      const auto kv = static_cast<std::size_t>(a.kv_heads * a.head_dim);
      std::int64_t first = run.pos0 == 0 || run.cache_first == nullptr ? 0 : *run.cache_first;
      const std::int64_t keep_from = run.pos0 - a.window + 1;  // the call's first query's oldest key
      if (a.window > 0 && keep_from - first > a.window) {
        const auto drop = static_cast<std::ptrdiff_t>(static_cast<std::size_t>(keep_from - first) * kv);
        run.cache_key->erase(run.cache_key->begin(), run.cache_key->begin() + drop);
        run.cache_value->erase(run.cache_value->begin(), run.cache_value->begin() + drop);
        first = keep_from;
      }
      if (run.cache_first != nullptr) *run.cache_first = first;
      const auto at = static_cast<std::size_t>(run.pos0 - first) * kv;
      run.cache_key->resize(at + ins[1].size());
      run.cache_value->resize(at + ins[2].size());
      std::copy(ins[1].begin(), ins[1].end(), run.cache_key->begin() + static_cast<std::ptrdiff_t>(at));
      std::copy(ins[2].begin(), ins[2].end(), run.cache_value->begin() + static_cast<std::ptrdiff_t>(at));
      if (run.int8_kv) {
        ops::int8_fake_quant(std::span<float>(*run.cache_key).subspan(at), a.head_dim);
        ops::int8_fake_quant(std::span<float>(*run.cache_value).subspan(at), a.head_dim);
      }
      ops::causal_attention(ins[0], *run.cache_key, *run.cache_value, a.heads, a.kv_heads, a.head_dim,
                            run.pos0, out, a.window, first);
      return;
    }
    case StepKind::gla: {
      const GlaStep& g = s.as<GlaStep>();
      const auto n = static_cast<std::size_t>(g.state_floats());
      if (run.pos0 == 0 || run.cache_key->size() != n) run.cache_key->assign(n, 0.0F);  // S_0 = 0
      ops::gated_linear_attention(ins[0], ins[1], ins[2], g.key_gate ? std::span<const float>{} : ins[3],
                                  g.heads, g.kv_heads, g.head_dim, g.normaliser, *run.cache_key, out);
      return;
    }
    case StepKind::silu_mul:
      ops::silu_mul(ins[0], ins[1], out);
      return;
    case StepKind::moe:
      moe_dense(s.as<MoeStep>(), ins[0], ins[1], out, run.expert_tokens);
      return;
  }
}

std::vector<std::vector<std::int64_t>> rows_of_experts(const ops::Routing& routing, std::int64_t experts) {
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(experts));
  const auto k = static_cast<std::size_t>(routing.top_k);
  for (std::size_t i = 0; i < routing.expert.size(); ++i)
    rows[static_cast<std::size_t>(routing.expert[i])].push_back(static_cast<std::int64_t>(i / k));
  return rows;
}

void moe_combine(const MoeStep& m, std::int64_t e, const ops::Routing& routing,
                 std::span<const std::int64_t> rows, std::span<const float> y, std::span<float> out) {
  const auto dim = static_cast<std::size_t>(m.dim);
  const auto k = static_cast<std::size_t>(m.top_k);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto r = static_cast<std::size_t>(rows[i]);
    float w = 0.0F;
    for (std::size_t j = 0; j < k; ++j) {
      if (routing.expert[r * k + j] == e) w = routing.weight[r * k + j];
    }
    for (std::size_t d = 0; d < dim; ++d)
      out[r * dim + d] += w * y[i * dim + d];
  }
}

void moe_shared_combine(const MoeStep& m, std::span<const float> gate_up, std::span<const float> y,
                        std::span<float> out) {
  const auto dim = static_cast<std::size_t>(m.dim);
  const auto width = static_cast<std::size_t>(2 * m.shared_hidden + (m.shared_gated ? 1 : 0));
  const std::size_t rows = out.size() / dim;
  for (std::size_t r = 0; r < rows; ++r) {
    const double g = m.shared_gated ? static_cast<double>(gate_up[r * width + width - 1]) : 0.0;
    const auto scale = m.shared_gated ? static_cast<float>(1.0 / (1.0 + std::exp(-g))) : 1.0F;
    for (std::size_t d = 0; d < dim; ++d)
      out[r * dim + d] += scale * y[r * dim + d];
  }
}

std::vector<float> swiglu_of(std::span<const float> gate_up, std::int64_t hidden, std::size_t stride) {
  const auto h = static_cast<std::size_t>(hidden);
  const std::size_t rows = gate_up.size() / stride;
  std::vector<float> a(rows * h);
  for (std::size_t r = 0; r < rows; ++r)
    ops::silu_mul(gate_up.subspan(r * stride, h), gate_up.subspan(r * stride + h, h),
                  std::span<float>(a).subspan(r * h, h));
  return a;
}

void moe_dense(const MoeStep& m, std::span<const float> x, std::span<const float> logits,
               std::span<float> out, std::vector<std::uint64_t>* expert_tokens) {
  const auto dim = static_cast<std::size_t>(m.dim);
  const std::size_t rows = x.size() / dim;
  const ops::Routing routing = ops::moe_route(logits, m.experts, m.top_k, m.norm_topk_prob);
  const auto by_expert = rows_of_experts(routing, m.experts);
  std::fill(out.begin(), out.end(), 0.0F);
  if (expert_tokens != nullptr) expert_tokens->resize(static_cast<std::size_t>(m.experts), 0);
  for (std::int64_t e = 0; e < m.experts; ++e) {
    const auto& rs = by_expert[static_cast<std::size_t>(e)];
    if (expert_tokens != nullptr) (*expert_tokens)[static_cast<std::size_t>(e)] += rs.size();
    if (rs.empty()) continue;
    const auto n = static_cast<std::int64_t>(rs.size());
    std::vector<float> xe(rs.size() * dim);
    for (std::size_t i = 0; i < rs.size(); ++i)
      std::copy_n(x.data() + static_cast<std::size_t>(rs[i]) * dim, dim, xe.data() + i * dim);
    std::vector<float> h(rs.size() * static_cast<std::size_t>(2 * m.hidden));
    dense_forward(*m.gate_up[static_cast<std::size_t>(e)], xe, n, h);
    const std::vector<float> a = swiglu_of(h, m.hidden, static_cast<std::size_t>(2 * m.hidden));
    std::vector<float> y(rs.size() * dim);
    dense_forward(*m.down[static_cast<std::size_t>(e)], a, n, y);
    moe_combine(m, e, routing, rs, y, out);
  }
  if (m.shared_hidden > 0) {
    const auto n = static_cast<std::int64_t>(rows);
    std::vector<float> h(rows * static_cast<std::size_t>(m.shared_gate_up->out));
    dense_forward(*m.shared_gate_up, x, n, h);
    const std::vector<float> a =
        swiglu_of(h, m.shared_hidden, static_cast<std::size_t>(m.shared_gate_up->out));
    std::vector<float> y(rows * dim);
    dense_forward(*m.shared_down, a, n, y);
    moe_shared_combine(m, h, y, out);
  }
}

void split_columns(std::span<const float> y, const std::vector<std::int64_t>& widths,
                   const std::vector<std::span<float>>& outs) {
  std::int64_t total = 0;
  for (const auto w : widths)
    total += w;
  const auto width = static_cast<std::size_t>(total);
  const std::size_t rows = width > 0 ? y.size() / width : 0;
  std::size_t c0 = 0;
  for (std::size_t p = 0; p < outs.size(); ++p) {
    const auto n = static_cast<std::size_t>(widths[p]);
    for (std::size_t r = 0; r < rows; ++r)
      std::copy_n(y.data() + r * width + c0, n, outs[p].data() + r * n);
    c0 += n;
  }
}

}  // namespace spikesim::sim
