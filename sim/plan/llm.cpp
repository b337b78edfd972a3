#include "sim/plan/llm.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "base/text.hpp"
#include "models/check.hpp"
#include "models/error.hpp"

namespace spikesim::sim {

std::string_view name(LlmSite site) {
  static constexpr std::array<std::string_view, llm_site_count> names{"attn_in", "attn_out", "mlp_in",
                                                                      "mlp_out"};
  return names.at(static_cast<std::size_t>(site));
}

std::string_view option_name(LlmSite site) {
  static constexpr std::array<std::string_view, llm_site_count> names{"qkv", "o", "gateup", "down"};
  return names.at(static_cast<std::size_t>(site));
}

LlmSites parse_llm_sites(std::string_view list) {
  LlmSites sites{};
  if (list == "none") return sites;
  if (list == "all") return {true, true, true, true};
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, end - start);
    bool found = false;
    for (std::size_t s = 0; s < llm_site_count; ++s) {
      if (item == option_name(static_cast<LlmSite>(s))) {
        sites.at(s) = true;
        found = true;
      }
    }
    if (!found) {
      throw std::invalid_argument(cat("unknown LLM site '", item, "' in --sites '", list,
                                      "' (valid: qkv, o, gateup, down, all, none)"));
    }
    start = end + 1;
  }
  return sites;
}

std::string llm_sites_string(const LlmSites& sites) {
  std::string out;
  for (std::size_t s = 0; s < llm_site_count; ++s) {
    if (!sites.at(s)) continue;
    if (!out.empty()) out += ',';
    out += option_name(static_cast<LlmSite>(s));
  }
  return out.empty() ? "none" : out;
}

// ---------------------------------------------------------------------------------------------- lowering

namespace {

using models::ModelError;
using models::OpKind;

// Read-only access to the graph by op name, checking kinds and producers.
class GraphView {
 public:
  explicit GraphView(const models::Network& net) : net_(net) {
    for (const models::Vertex v : net.execution_order())
      by_name_[net.graph[v].name] = v;
  }
  [[nodiscard]] models::Vertex find(const std::string& op, OpKind kind) const {
    const auto it = by_name_.find(op);
    if (it == by_name_.end()) throw ModelError(cat(net_.source, ": LLM graph has no op '", op, "'"));
    if (net_.graph[it->second].kind != kind) {
      throw ModelError(cat(net_.source, ": op '", op, "' is ", models::name(net_.graph[it->second].kind),
                           ", expected ", models::name(kind)));
    }
    return it->second;
  }
  [[nodiscard]] const models::Op& op(const std::string& name, OpKind kind) const {
    return net_.graph[find(name, kind)];
  }
  // The producer feeding `consumer` must be `producer`.
  void expect_edge(const std::string& producer, const std::string& consumer) const {
    const models::Vertex c = by_name_.at(consumer);
    for (auto [e, end] = boost::in_edges(c, net_.graph); e != end; ++e) {
      if (net_.graph[boost::source(*e, net_.graph)].name == producer) return;
    }
    throw ModelError(cat(net_.source, ": op '", consumer, "' does not read '", producer,
                         "' (not a Llama-structured graph)"));
  }
  [[nodiscard]] const models::Tensor& tensor(const models::Op& op, const std::string& role) const {
    const auto it = op.tensors.find(role);
    if (it == op.tensors.end()) throw ModelError(cat(net_.source, ": op '", op.name, "' has no ", role));
    return net_.tensor(it->second);
  }
  [[nodiscard]] const models::Tensor* optional_tensor(const models::Op& op, const std::string& role) const {
    const auto it = op.tensors.find(role);
    return it == op.tensors.end() ? nullptr : &net_.tensor(it->second);
  }

 private:
  const models::Network& net_;
  std::map<std::string, models::Vertex> by_name_;
};

// Values of a tensor as floats, checked finite: a view for f32, widened once for f16 / bf16.
class FloatValues {
 public:
  FloatValues(const models::Tensor& t, const std::string& file) {
    if (t.dtype == models::DType::f32) {
      view_ = t.f32();
    } else {
      owned_ = t.to_f32();
      view_ = owned_;
    }
    models::check_finite(view_, t.shape, file, "tensor '" + t.name + "'");
  }
  [[nodiscard]] std::span<const float> values() const { return view_; }
  std::vector<float> take() {
    return owned_.empty() ? std::vector<float>(view_.begin(), view_.end()) : std::move(owned_);
  }

 private:
  std::vector<float> owned_;
  std::span<const float> view_;
};

// Several row-major projections [out_i][in] sharing one input, lowered into one site: fan-out rows
// [in][sum out_i], biases concatenated (zeros for parts without one).
LinearWeights fuse(const std::string& name, const std::vector<const models::Tensor*>& weights,
                   const std::vector<const models::Tensor*>& biases, const std::string& file) {
  LinearWeights layer;
  layer.name = name;
  layer.in = weights.front()->shape[1];
  for (const auto* w : weights)
    layer.out += w->shape[0];
  const auto in = static_cast<std::size_t>(layer.in);
  const auto out = static_cast<std::size_t>(layer.out);
  layer.fanout.assign(in * out, 0.0F);
  layer.row_sum.assign(out, 0.0F);
  layer.fanout_nonzero.assign(in, 0);
  const bool any_bias = std::any_of(biases.begin(), biases.end(), [](const auto* b) { return b != nullptr; });
  if (any_bias) layer.bias.assign(out, 0.0F);
  std::size_t o0 = 0;
  for (std::size_t p = 0; p < weights.size(); ++p) {
    const FloatValues w(*weights[p], file);
    const auto rows = static_cast<std::size_t>(weights[p]->shape[0]);
    const std::span<const float> wv = w.values();
    for (std::size_t o = 0; o < rows; ++o) {
      double sum = 0.0;
      for (std::size_t j = 0; j < in; ++j) {
        const float v = wv[o * in + j];
        layer.fanout[j * out + o0 + o] = v;
        layer.fanout_nonzero[j] += v != 0.0F ? 1 : 0;
        sum += static_cast<double>(v);
      }
      layer.row_sum[o0 + o] = static_cast<float>(sum);
    }
    if (biases[p] != nullptr) {
      const FloatValues b(*biases[p], file);
      std::copy(b.values().begin(), b.values().end(), layer.bias.begin() + static_cast<std::ptrdiff_t>(o0));
    }
    o0 += rows;
  }
  return layer;
}

}  // namespace

LlmPlan lower_llm(const models::LlmModel& model) {
  const models::LlmConfig& c = model.config;
  const models::Network& net = model.network;
  const std::string& file = net.source;
  const GraphView g(net);
  LlmPlan plan;
  plan.config = c;
  plan.source = file;
  plan.storage = net.storage;

  {
    const models::Tensor& emb = g.tensor(g.op("embed", OpKind::embedding), "weight");
    g.expect_edge("tokens", "embed");
    FloatValues v(emb, file);
    if (emb.dtype == models::DType::f32) {
      plan.embedding = v.values();
    } else {
      plan.embedding_widened = v.take();
      plan.embedding = plan.embedding_widened;
    }
  }
  std::string residual = "embed";
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = cat("layers.", l, ".");
    LlmPlan::Layer layer;
    const auto& attn_norm = g.op(p + "attn_norm", OpKind::rmsnorm);
    g.expect_edge(residual, attn_norm.name);
    layer.attn_norm = FloatValues(g.tensor(attn_norm, "weight"), file).take();

    std::vector<const models::Tensor*> w;
    std::vector<const models::Tensor*> b;
    for (const char* proj : {"q_proj", "k_proj", "v_proj"}) {
      const auto& op = g.op(p + proj, OpKind::linear);
      g.expect_edge(attn_norm.name, op.name);
      w.push_back(&g.tensor(op, "weight"));
      b.push_back(g.optional_tensor(op, "bias"));
    }
    layer.site[0] = fuse(p + "attn_in", w, b, file);
    g.expect_edge(p + "q_proj", p + "q_rope");
    g.expect_edge(p + "k_proj", p + "k_rope");
    for (const char* in : {"q_rope", "k_rope", "v_proj"})
      g.expect_edge(p + in, p + "attention");
    (void)g.find(p + "attention", OpKind::attention);
    const auto& o = g.op(p + "o_proj", OpKind::linear);
    g.expect_edge(p + "attention", o.name);
    layer.site[1] = fuse(p + "attn_out", {&g.tensor(o, "weight")}, {g.optional_tensor(o, "bias")}, file);
    g.expect_edge(o.name, p + "attn_residual");
    g.expect_edge(residual, p + "attn_residual");

    const auto& mlp_norm = g.op(p + "mlp_norm", OpKind::rmsnorm);
    g.expect_edge(p + "attn_residual", mlp_norm.name);
    layer.mlp_norm = FloatValues(g.tensor(mlp_norm, "weight"), file).take();
    w.clear();
    b.clear();
    for (const char* proj : {"gate_proj", "up_proj"}) {
      const auto& op = g.op(p + proj, OpKind::linear);
      g.expect_edge(mlp_norm.name, op.name);
      w.push_back(&g.tensor(op, "weight"));
      b.push_back(g.optional_tensor(op, "bias"));
    }
    layer.site[2] = fuse(p + "mlp_in", w, b, file);
    (void)g.find(p + "swiglu", OpKind::silu_mul);
    g.expect_edge(p + "gate_proj", p + "swiglu");
    g.expect_edge(p + "up_proj", p + "swiglu");
    const auto& down = g.op(p + "down_proj", OpKind::linear);
    g.expect_edge(p + "swiglu", down.name);
    layer.site[3] = fuse(p + "mlp_out", {&g.tensor(down, "weight")}, {g.optional_tensor(down, "bias")}, file);
    g.expect_edge(down.name, p + "mlp_residual");
    g.expect_edge(p + "attn_residual", p + "mlp_residual");
    residual = p + "mlp_residual";
    plan.layers.push_back(std::move(layer));
  }
  const auto& final_norm = g.op("final_norm", OpKind::rmsnorm);
  g.expect_edge(residual, final_norm.name);
  plan.final_norm = FloatValues(g.tensor(final_norm, "weight"), file).take();
  const auto& head = g.op("lm_head", OpKind::linear);
  g.expect_edge("final_norm", "lm_head");
  plan.lm_head = fuse("lm_head", {&g.tensor(head, "weight")}, {nullptr}, file);

  // RoPE tables in double: angle = pos * theta^(-2i / head_dim).
  const auto half = static_cast<std::size_t>(c.head_dim / 2);
  const auto seq = static_cast<std::size_t>(c.seq_len);
  plan.rope_cos.resize(seq * half);
  plan.rope_sin.resize(seq * half);
  for (std::size_t i = 0; i < half; ++i) {
    const double freq =
        std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    for (std::size_t t = 0; t < seq; ++t) {
      const double angle = static_cast<double>(t) * freq;
      plan.rope_cos[t * half + i] = std::cos(angle);
      plan.rope_sin[t * half + i] = std::sin(angle);
    }
  }
  return plan;
}

LlmState::LlmState(const LlmPlan& plan)
    : key(plan.layers.size(),
          std::vector<float>(static_cast<std::size_t>(plan.config.seq_len * plan.config.kv_dim()))),
      value(plan.layers.size(),
            std::vector<float>(static_cast<std::size_t>(plan.config.seq_len * plan.config.kv_dim()))) {}

// ------------------------------------------------------------------------------------------------ records

namespace {

constexpr std::size_t records_per_layer = 9;
// Offsets within a layer's records.
enum LayerRow : std::size_t {
  row_attn_norm = 0,
  row_attn_in = 1,
  row_rope = 2,
  row_attention = 3,
  row_attn_out = 4,
  row_mlp_norm = 5,
  row_mlp_in = 6,
  row_swiglu = 7,
  row_mlp_out = 8,
};
constexpr std::array<std::size_t, llm_site_count> site_row{row_attn_in, row_attn_out, row_mlp_in,
                                                           row_mlp_out};

std::size_t layer_row(std::size_t layer, std::size_t row) {
  return 1 + layer * records_per_layer + row;
}

}  // namespace

std::vector<LayerRecord> llm_records(const LlmPlan& plan, const LlmSites& coded) {
  const models::LlmConfig& c = plan.config;
  std::vector<LayerRecord> r;
  auto add = [&r](std::string name, std::string kind, std::int64_t in, std::int64_t out, std::int64_t weights,
                  bool is_coded) {
    LayerRecord rec;
    rec.name = std::move(name);
    rec.kind = std::move(kind);
    rec.index = static_cast<std::int64_t>(r.size());
    rec.in = in;
    rec.out = out;
    rec.weights = weights;
    rec.coded = is_coded;
    r.push_back(std::move(rec));
  };
  add("embed", "embedding", c.vocab_size, c.dim, c.vocab_size * c.dim, false);
  for (std::size_t l = 0; l < plan.layers.size(); ++l) {
    const std::string p = cat("layers.", l, ".");
    const auto& site = plan.layers[l].site;
    auto add_site = [&](LlmSite s) {
      const LinearWeights& w = site.at(static_cast<std::size_t>(s));
      add(p + std::string(name(s)), "linear", w.in, w.out, w.weight_count(),
          coded.at(static_cast<std::size_t>(s)));
    };
    add(p + "attn_norm", "rmsnorm", c.dim, c.dim, c.dim, false);
    add_site(LlmSite::attn_in);
    add(p + "rope", "rope", c.q_dim() + c.kv_dim(), c.q_dim() + c.kv_dim(), 0, false);
    add(p + "attention", "attention", c.q_dim() + 2 * c.kv_dim(), c.q_dim(), 0, false);
    add_site(LlmSite::attn_out);
    add(p + "mlp_norm", "rmsnorm", c.dim, c.dim, c.dim, false);
    add_site(LlmSite::mlp_in);
    add(p + "swiglu", "silu_mul", 2 * c.hidden_dim, c.hidden_dim, 0, false);
    add_site(LlmSite::mlp_out);
  }
  add("final_norm", "rmsnorm", c.dim, c.dim, c.dim, false);
  add("lm_head", "linear", c.dim, c.vocab_size, c.dim * c.vocab_size, false);
  return r;
}

// ---------------------------------------------------------------------------------------------- forward

namespace {

// Work of an op that stays dense in both runs: MACs counted as dense and uncoded.
void count_dense(LayerRecord* rec, std::int64_t tokens, std::uint64_t macs, std::uint64_t weight_words = 0) {
  if (rec != nullptr) rec->counters.add_dense_op(static_cast<std::uint64_t>(tokens), macs, weight_words);
}

// out [n][dim] = x / sqrt(mean(x^2) + eps) * weight, accumulated in double.
void rmsnorm(std::span<const float> x, std::span<const float> weight, double eps, std::int64_t n,
             std::span<float> out) {
  const std::size_t dim = weight.size();
  for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r) {
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

// Rotates `heads` heads of one row in place at position `pos`.
void rope_row(float* v, std::int64_t heads, std::int64_t head_dim, bool interleaved, const double* cos_pos,
              const double* sin_pos) {
  const auto d = static_cast<std::size_t>(head_dim);
  const std::size_t half = d / 2;
  for (std::size_t h = 0; h < static_cast<std::size_t>(heads); ++h) {
    float* x = v + h * d;
    for (std::size_t i = 0; i < half; ++i) {
      const std::size_t a = interleaved ? 2 * i : i;
      const std::size_t b = interleaved ? 2 * i + 1 : i + half;
      const double x0 = x[a];
      const double x1 = x[b];
      x[a] = static_cast<float>(x0 * cos_pos[i] - x1 * sin_pos[i]);
      x[b] = static_cast<float>(x0 * sin_pos[i] + x1 * cos_pos[i]);
    }
  }
}

void check_tokens(const LlmPlan& plan, const LlmState& state, std::span<const std::int32_t> tokens) {
  const models::LlmConfig& c = plan.config;
  if (state.pos + static_cast<std::int64_t>(tokens.size()) > c.seq_len) {
    throw std::invalid_argument(cat(plan.source, ": ", state.pos + static_cast<std::int64_t>(tokens.size()),
                                    " tokens exceed the model's context of ", c.seq_len, " (seq_len)"));
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      throw std::invalid_argument(cat(plan.source, ": token ", i, " has id ", tokens[i],
                                      ", outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
}

}  // namespace

void llm_forward(const LlmPlan& plan, const LlmRunConfig& config, LlmState& state,
                 std::span<const std::int32_t> tokens, std::span<float> logits,
                 std::vector<LayerRecord>* records) {
  check_tokens(plan, state, tokens);
  const models::LlmConfig& c = plan.config;
  const auto n = static_cast<std::int64_t>(tokens.size());
  const auto un = static_cast<std::size_t>(n);
  const auto dim = static_cast<std::size_t>(c.dim);
  const auto q_dim = static_cast<std::size_t>(c.q_dim());
  const auto kv_dim = static_cast<std::size_t>(c.kv_dim());
  const auto hidden = static_cast<std::size_t>(c.hidden_dim);
  const auto head_dim = static_cast<std::size_t>(c.head_dim);
  const std::size_t qkv_dim = q_dim + 2 * kv_dim;
  const std::size_t half = head_dim / 2;
  const auto group = static_cast<std::size_t>(c.n_heads / c.n_kv_heads);
  if (logits.size() != un * static_cast<std::size_t>(c.vocab_size)) {
    throw std::invalid_argument(cat("llm_forward: logits buffer holds ", logits.size(), " values, expected ",
                                    un * static_cast<std::size_t>(c.vocab_size)));
  }
  if (records != nullptr && records->size() != 3 + plan.layers.size() * records_per_layer) {
    throw std::invalid_argument("llm_forward: records do not belong to this plan");
  }
  auto rec = [records](std::size_t i) { return records != nullptr ? &(*records)[i] : nullptr; };
  SiteCounters scratch;  // counters of coded sites when no records are kept

  std::vector<float> x(un * dim);          // [n][dim] residual stream
  std::vector<float> xn(un * dim);         // [n][dim] normalised
  std::vector<float> qkv(un * qkv_dim);    // [n][q_dim | kv_dim | kv_dim]
  std::vector<float> att(un * q_dim);      // [n][q_dim] attention output
  std::vector<float> proj(un * dim);       // [n][dim] o_proj / down_proj output
  std::vector<float> gu(un * 2 * hidden);  // [n][gate hidden | up hidden]
  std::vector<float> act(un * hidden);     // [n][hidden] silu(gate) * up

  for (std::size_t i = 0; i < un; ++i) {
    const float* e = plan.embedding.data() + static_cast<std::size_t>(tokens[i]) * dim;
    std::copy(e, e + dim, x.data() + i * dim);
  }
  count_dense(rec(0), n, 0, un * dim);

  auto linear = [&](const LinearWeights& w, LlmSite s, std::span<const float> in, std::span<float> out,
                    std::size_t record) {
    LayerRecord* r = rec(record);
    if (config.coded.at(static_cast<std::size_t>(s))) {
      run_coded_linear(w, in, n, config.site, out, r != nullptr ? r->counters : scratch,
                       cat(plan.source, ": ", w.name, " input"));
    } else {
      dense_forward(w, in, n, out);
      count_dense(r, n, static_cast<std::uint64_t>(n * w.in * w.out),
                  static_cast<std::uint64_t>(w.in * w.out));
      if (r != nullptr && !w.bias.empty()) r->counters.bias_adds += static_cast<std::uint64_t>(n * w.out);
    }
  };

  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  const bool interleaved = c.rope == models::RopeStyle::interleaved;
  for (std::size_t l = 0; l < plan.layers.size(); ++l) {
    const LlmPlan::Layer& layer = plan.layers[l];
    auto row = [&](std::size_t r) { return layer_row(l, r); };
    // --- attention block
    rmsnorm(x, layer.attn_norm, c.norm_eps, n, xn);
    count_dense(rec(row(row_attn_norm)), n, 2 * un * dim);
    linear(layer.site[0], LlmSite::attn_in, xn, qkv, row(row_attn_in));
    float* key = state.key[l].data();
    float* value = state.value[l].data();
    for (std::size_t i = 0; i < un; ++i) {
      const auto pos = static_cast<std::size_t>(state.pos) + i;
      float* r = qkv.data() + i * qkv_dim;
      rope_row(r, c.n_heads, c.head_dim, interleaved, &plan.rope_cos[pos * half], &plan.rope_sin[pos * half]);
      rope_row(r + q_dim, c.n_kv_heads, c.head_dim, interleaved, &plan.rope_cos[pos * half],
               &plan.rope_sin[pos * half]);
      std::copy(r + q_dim, r + q_dim + kv_dim, key + pos * kv_dim);
      std::copy(r + q_dim + kv_dim, r + qkv_dim, value + pos * kv_dim);
    }
    count_dense(rec(row(row_rope)), n, 2 * un * (q_dim + kv_dim));

    // Causal grouped-query attention in double: token i at position p attends to positions 0..p.
    const auto heads = static_cast<std::int64_t>(c.n_heads);
    const std::int64_t pairs = n * heads;
    // Threads only pay off for long contexts; a parallel region per decoded token costs more than it saves.
    const bool threaded = pairs * (state.pos + n) * c.head_dim > (std::int64_t{1} << 16);
#pragma omp parallel for schedule(static) if (threaded)
    for (std::int64_t ih = 0; ih < pairs; ++ih) {
      const auto i = static_cast<std::size_t>(ih / heads);
      const auto h = static_cast<std::size_t>(ih % heads);
      const std::size_t ctx = static_cast<std::size_t>(state.pos) + i + 1;
      const float* q = qkv.data() + i * qkv_dim + h * head_dim;
      const std::size_t kv_off = (h / group) * head_dim;
      std::vector<double> score(ctx);
      double max_score = -INFINITY;
      for (std::size_t t = 0; t < ctx; ++t) {
        const float* k = key + t * kv_dim + kv_off;
        double s = 0.0;
        for (std::size_t d = 0; d < head_dim; ++d)
          s += static_cast<double>(q[d]) * static_cast<double>(k[d]);
        score[t] = s * scale;
        max_score = std::max(max_score, score[t]);
      }
      double sum = 0.0;
      for (double& s : score) {
        s = std::exp(s - max_score);
        sum += s;
      }
      std::vector<double> o(head_dim, 0.0);
      for (std::size_t t = 0; t < ctx; ++t) {
        const float* v = value + t * kv_dim + kv_off;
        const double p = score[t] / sum;
        for (std::size_t d = 0; d < head_dim; ++d)
          o[d] += p * static_cast<double>(v[d]);
      }
      float* out = att.data() + i * q_dim + h * head_dim;
      for (std::size_t d = 0; d < head_dim; ++d)
        out[d] = static_cast<float>(o[d]);
    }
    {
      // q.k and p.v: 2 x heads x head_dim MACs per attended position.
      std::uint64_t ctx_sum = 0;
      for (std::size_t i = 0; i < un; ++i)
        ctx_sum += static_cast<std::uint64_t>(state.pos) + i + 1;
      count_dense(rec(row(row_attention)), n, 2 * q_dim * ctx_sum);
    }
    linear(layer.site[1], LlmSite::attn_out, att, proj, row(row_attn_out));
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] += proj[i];

    // --- MLP block
    rmsnorm(x, layer.mlp_norm, c.norm_eps, n, xn);
    count_dense(rec(row(row_mlp_norm)), n, 2 * un * dim);
    linear(layer.site[2], LlmSite::mlp_in, xn, gu, row(row_mlp_in));
    for (std::size_t i = 0; i < un; ++i) {
      const float* g = gu.data() + i * 2 * hidden;
      const float* u = g + hidden;
      float* a = act.data() + i * hidden;
      for (std::size_t j = 0; j < hidden; ++j) {
        const double gv = g[j];
        a[j] = static_cast<float>(gv / (1.0 + std::exp(-gv)) * static_cast<double>(u[j]));
      }
    }
    count_dense(rec(row(row_swiglu)), n, 2 * un * hidden);
    linear(layer.site[3], LlmSite::mlp_out, act, proj, row(row_mlp_out));
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] += proj[i];
  }
  state.pos += n;

  const std::size_t last = 1 + plan.layers.size() * records_per_layer;
  rmsnorm(x, plan.final_norm, c.norm_eps, n, xn);
  count_dense(rec(last), n, 2 * un * dim);
  dense_forward(plan.lm_head, xn, n, logits);
  count_dense(rec(last + 1), n, static_cast<std::uint64_t>(n * plan.lm_head.in * plan.lm_head.out),
              static_cast<std::uint64_t>(plan.lm_head.in * plan.lm_head.out));
}

std::vector<std::int32_t> llm_generate(const LlmPlan& plan, const LlmRunConfig& config,
                                       std::span<const std::int32_t> prompt, std::int64_t steps,
                                       bool stop_at_eos, std::vector<LayerRecord>* records) {
  if (prompt.empty()) throw std::invalid_argument("llm_generate: empty prompt (start with BOS)");
  const auto vocab = static_cast<std::size_t>(plan.config.vocab_size);
  std::vector<std::int32_t> tokens(prompt.begin(), prompt.end());
  LlmState state(plan);
  std::vector<float> logits(prompt.size() * vocab);
  llm_forward(plan, config, state, prompt, logits, records);
  std::span<const float> last(logits.data() + (prompt.size() - 1) * vocab, vocab);
  for (std::int64_t s = 0; s < steps && state.pos < plan.config.seq_len; ++s) {
    const auto next = static_cast<std::int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    tokens.push_back(next);
    if (stop_at_eos && (next == plan.config.bos_id || next == plan.config.eos_id)) break;
    if (s + 1 == steps || state.pos >= plan.config.seq_len) break;
    logits.resize(vocab);
    llm_forward(plan, config, state, std::span<const std::int32_t>(&tokens.back(), 1), logits, records);
    last = std::span<const float>(logits.data(), vocab);
  }
  return tokens;
}

}  // namespace spikesim::sim
