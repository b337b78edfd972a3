#include "sim/kernels/llm_ops.hpp"

#include <algorithm>
#include <cmath>

namespace spikesim::sim::ops {

void embedding(const void* table, WeightType type, std::int64_t dim, std::span<const std::int32_t> ids,
               std::span<float> out) {
  const auto d = static_cast<std::size_t>(dim);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::size_t row = static_cast<std::size_t>(ids[i]) * d;
    float* o = out.data() + i * d;
    for (std::size_t c = 0; c < d; ++c)
      o[c] = widen(table, type, row + c);
  }
}

void rmsnorm(std::span<const float> x, std::span<const float> weight, double eps, std::span<float> out) {
  const std::size_t dim = weight.size();
  const std::size_t rows = x.size() / dim;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * dim;
    double ss = 0.0;
    for (std::size_t i = 0; i < dim; ++i)
      ss += static_cast<double>(xr[i]) * static_cast<double>(xr[i]);
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(dim) + eps);
    float* o = out.data() + r * dim;
    for (std::size_t i = 0; i < dim; ++i)
      o[i] = static_cast<float>(static_cast<double>(weight[i]) * (static_cast<double>(xr[i]) * inv));
  }
}

RopeTables rope_tables(std::int64_t context, std::int64_t head_dim, double theta) {
  RopeTables t;
  t.half = head_dim / 2;
  const auto half = static_cast<std::size_t>(t.half);
  const auto seq = static_cast<std::size_t>(context);
  t.cos.resize(seq * half);
  t.sin.resize(seq * half);
  for (std::size_t i = 0; i < half; ++i) {
    const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    for (std::size_t p = 0; p < seq; ++p) {
      const double angle = static_cast<double>(p) * freq;
      t.cos[p * half + i] = std::cos(angle);
      t.sin[p * half + i] = std::sin(angle);
    }
  }
  return t;
}

RopeTables rope_tables(std::int64_t context, std::span<const double> inv_freq, double scaling) {
  RopeTables t;
  t.half = static_cast<std::int64_t>(inv_freq.size());
  const std::size_t half = inv_freq.size();
  const auto seq = static_cast<std::size_t>(context);
  t.cos.resize(seq * half);
  t.sin.resize(seq * half);
  for (std::size_t i = 0; i < half; ++i) {
    for (std::size_t p = 0; p < seq; ++p) {
      const double angle = static_cast<double>(p) * inv_freq[i];
      t.cos[p * half + i] = std::cos(angle) * scaling;
      t.sin[p * half + i] = std::sin(angle) * scaling;
    }
  }
  return t;
}

double dynamic_ntk_theta(double theta, double factor, std::int64_t length, std::int64_t context,
                         std::int64_t head_dim) {
  const auto l = static_cast<double>(std::max(length, context));
  const auto d = static_cast<double>(head_dim);
  return theta * std::pow(factor * l / static_cast<double>(context) - (factor - 1.0), d / (d - 2.0));
}

Routing moe_route(std::span<const float> logits, std::int64_t experts, std::int64_t top_k, bool renormalise) {
  const auto e = static_cast<std::size_t>(experts);
  const auto k = static_cast<std::size_t>(top_k);
  const std::size_t rows = logits.size() / e;
  Routing r;
  r.top_k = top_k;
  r.expert.resize(rows * k);
  r.weight.resize(rows * k);
  std::vector<double> p(e);
  std::vector<std::int32_t> order(e);
  for (std::size_t row = 0; row < rows; ++row) {
    const float* z = logits.data() + row * e;
    double max_z = -INFINITY;
    for (std::size_t i = 0; i < e; ++i)
      max_z = std::max(max_z, static_cast<double>(z[i]));
    double sum = 0.0;
    for (std::size_t i = 0; i < e; ++i) {
      p[i] = std::exp(static_cast<double>(z[i]) - max_z);
      sum += p[i];
    }
    for (std::size_t i = 0; i < e; ++i) {
      p[i] /= sum;
      order[i] = static_cast<std::int32_t>(i);
    }
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](std::int32_t a, std::int32_t b) {
                        const auto ua = static_cast<std::size_t>(a);
                        const auto ub = static_cast<std::size_t>(b);
                        return p[ua] > p[ub] || (p[ua] == p[ub] && a < b);
                      });
    double top = 0.0;
    for (std::size_t j = 0; j < k; ++j)
      top += p[static_cast<std::size_t>(order[j])];
    for (std::size_t j = 0; j < k; ++j) {
      r.expert[row * k + j] = order[j];
      const double w = p[static_cast<std::size_t>(order[j])];
      r.weight[row * k + j] = static_cast<float>(renormalise ? w / top : w);
    }
  }
  return r;
}

void rope(std::span<float> x, std::int64_t heads, std::int64_t head_dim, bool interleaved,
          const RopeTables& tables, std::int64_t pos0) {
  const auto d = static_cast<std::size_t>(head_dim);
  const std::size_t half = d / 2;
  const std::size_t width = static_cast<std::size_t>(heads) * d;
  const std::size_t rows = x.size() / width;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t pos = static_cast<std::size_t>(pos0) + r;
    const double* cos_pos = &tables.cos[pos * half];
    const double* sin_pos = &tables.sin[pos * half];
    for (std::size_t h = 0; h < static_cast<std::size_t>(heads); ++h) {
      float* v = x.data() + r * width + h * d;
      for (std::size_t i = 0; i < half; ++i) {
        const std::size_t a = interleaved ? 2 * i : i;
        const std::size_t b = interleaved ? 2 * i + 1 : i + half;
        const double x0 = v[a];
        const double x1 = v[b];
        v[a] = static_cast<float>(x0 * cos_pos[i] - x1 * sin_pos[i]);
        v[b] = static_cast<float>(x0 * sin_pos[i] + x1 * cos_pos[i]);
      }
    }
  }
}

void causal_attention(std::span<const float> q, std::span<const float> key, std::span<const float> value,
                      std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim, std::int64_t pos0,
                      std::span<float> out, std::int64_t window, std::int64_t key_base) {
  const auto hd = static_cast<std::size_t>(head_dim);
  const std::size_t q_dim = static_cast<std::size_t>(heads) * hd;
  const std::size_t kv_dim = static_cast<std::size_t>(kv_heads) * hd;
  const auto n = static_cast<std::int64_t>(q.size() / q_dim);
  const auto group = static_cast<std::size_t>(heads / kv_heads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  const auto base = static_cast<std::size_t>(key_base);
  const std::int64_t pairs = n * heads;
  // Threads only pay off for long contexts; a parallel region per decoded token costs more than it saves.
  const bool threaded = pairs * (pos0 + n) * head_dim > (std::int64_t{1} << 16);
#pragma omp parallel for schedule(static) if (threaded)
  for (std::int64_t ih = 0; ih < pairs; ++ih) {
    const auto i = static_cast<std::size_t>(ih / heads);
    const auto h = static_cast<std::size_t>(ih % heads);
    const std::size_t ctx = static_cast<std::size_t>(pos0) + i + 1;
    const std::size_t first = ctx - static_cast<std::size_t>(attended_keys(pos0 + ih / heads, window));
    const float* qh = q.data() + i * q_dim + h * hd;
    const std::size_t kv_off = (h / group) * hd;
    std::vector<double> score(ctx - first);
    double max_score = -INFINITY;
    for (std::size_t t = 0; t < score.size(); ++t) {
      const float* k = key.data() + (first + t - base) * kv_dim + kv_off;
      double s = 0.0;
      for (std::size_t d = 0; d < hd; ++d)
        s += static_cast<double>(qh[d]) * static_cast<double>(k[d]);
      score[t] = s * scale;
      max_score = std::max(max_score, score[t]);
    }
    double sum = 0.0;
    for (double& s : score) {
      s = std::exp(s - max_score);
      sum += s;
    }
    std::vector<double> o(hd, 0.0);
    for (std::size_t t = 0; t < score.size(); ++t) {
      const float* v = value.data() + (first + t - base) * kv_dim + kv_off;
      const double p = score[t] / sum;
      for (std::size_t d = 0; d < hd; ++d)
        o[d] += p * static_cast<double>(v[d]);
    }
    float* dst = out.data() + i * q_dim + h * hd;
    for (std::size_t d = 0; d < hd; ++d)
      dst[d] = static_cast<float>(o[d]);
  }
}

void gated_linear_attention(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                            std::span<const float> gk, std::int64_t heads, std::int64_t kv_heads,
                            std::int64_t head_dim, double normaliser, std::span<float> state,
                            std::span<float> out) {
  const auto d = static_cast<std::size_t>(head_dim);
  const std::size_t q_dim = static_cast<std::size_t>(heads) * d;
  const std::size_t kv_dim = static_cast<std::size_t>(kv_heads) * d;
  const std::size_t rows = q.size() / q_dim;
  const auto group = static_cast<std::size_t>(heads / kv_heads);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  std::vector<float> decay(d);
  for (std::size_t t = 0; t < rows; ++t) {
    for (std::size_t j = 0; j < static_cast<std::size_t>(kv_heads); ++j) {
      const float* kt = k.data() + t * kv_dim + j * d;
      const float* vt = v.data() + t * kv_dim + j * d;
      const float* gt = gk.data() + t * kv_dim + j * d;
      for (std::size_t i = 0; i < d; ++i) {
        const double x = gt[i];
        const double log_sigmoid =
            std::min(x, 0.0) - std::log1p(std::exp(-std::abs(x)));  // gla_attention.py:145
        decay[i] = static_cast<float>(std::exp(log_sigmoid / normaliser));
      }
      float* s = state.data() + j * d * d;  // [key i][value e]
      for (std::size_t i = 0; i < d; ++i) {
        float* row = s + i * d;
        const float ki = kt[i];
        const float di = decay[i];
        for (std::size_t e = 0; e < d; ++e)
          row[e] = di * row[e] + ki * vt[e];  // naive.py:34-36
      }
    }
    for (std::size_t h = 0; h < static_cast<std::size_t>(heads); ++h) {
      const float* qh = q.data() + t * q_dim + h * d;
      const float* s = state.data() + (h / group) * d * d;
      float* o = out.data() + t * q_dim + h * d;
      std::fill(o, o + d, 0.0F);
      for (std::size_t i = 0; i < d; ++i) {
        const float qi = qh[i] * scale;  // naive.py:31, :37
        if (qi == 0.0F) continue;        // ReLU zeros (exactly the same sum)
        const float* row = s + i * d;
        for (std::size_t e = 0; e < d; ++e)
          o[e] += qi * row[e];
      }
    }
  }
}

void int8_fake_quant(std::span<float> x, std::int64_t group) {
  const auto g = static_cast<std::size_t>(group);
  for (std::size_t at = 0; at + g <= x.size(); at += g) {
    float max_abs = 0.0F;
    for (std::size_t i = 0; i < g; ++i)
      max_abs = std::max(max_abs, std::abs(x[at + i]));
    const float scale = std::clamp(max_abs / 127.0F, 1e-5F, 1e4F);
    for (std::size_t i = 0; i < g; ++i) {
      const float q = std::clamp(std::nearbyint(x[at + i] / scale), -128.0F, 127.0F);
      x[at + i] = q * scale;
    }
  }
}

void silu_mul(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  for (std::size_t j = 0; j < out.size(); ++j) {
    const double g = gate[j];
    out[j] = static_cast<float>(g / (1.0 + std::exp(-g)) * static_cast<double>(up[j]));
  }
}

}  // namespace spikesim::sim::ops
