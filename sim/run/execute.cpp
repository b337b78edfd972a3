#include "sim/run/execute.hpp"

#include <algorithm>
#include <stdexcept>

#include "base/error.hpp"
#include "base/progress.hpp"
#include "base/text.hpp"
#include "sim/plan/cost.hpp"
#include "sim/site/site.hpp"
#include "sim/site/synapse.hpp"

namespace spikesim::sim {

namespace {

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

class Executor {
 public:
  Executor(const Plan& plan, RunState& state, const ExecOptions& options)
      : plan_(plan), state_(state), options_(options) {}

  std::span<const float> run(const PlanInput& input, std::vector<LayerRecord>* records) {
    rows_ = plan_.kind == PlanKind::tokens ? static_cast<std::int64_t>(input.tokens.size()) : plan_.batch;
    samples_ = options_.samples < 0 ? plan_.batch : options_.samples;
    if (plan_.kind == PlanKind::network && (samples_ < 0 || samples_ > plan_.batch))
      throw std::invalid_argument(
          cat(plan_.source, ": ", samples_, " samples for a plan of batch ", plan_.batch));
    if (plan_.kind == PlanKind::tokens) check_tokens(input.tokens);
    for (std::size_t i = 0; i < state_.slots.size(); ++i)
      state_.slots[i].resize(sz(rows_ * plan_.slot_size[i]));
    if (plan_.kind == PlanKind::network) set_input(input.values);

    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      const Step& s = plan_.steps[i];
      LayerRecord* rec = records != nullptr ? &(*records)[i] : nullptr;
      std::vector<std::span<const float>> ins;
      ins.reserve(s.in.size());
      for (const int id : s.in)
        ins.push_back(read(id));
      std::vector<std::span<float>> outs;
      outs.reserve(s.out.size());
      for (const int id : s.out)
        outs.push_back(write(id));
      if (options_.site != nullptr && s.kind() == StepKind::moe && s.coded) {
        run_moe_coded(s, ins, outs[0], rec);
        if (options_.progress != nullptr) options_.progress->advance(1, s.name);
        continue;
      }
      if (options_.site != nullptr && s.kind() == StepKind::attention && s.coded) {
        run_attention_coded(s, i, ins, outs[0], rec);
        if (options_.progress != nullptr) options_.progress->advance(1, s.name);
        continue;
      }
      if (options_.site != nullptr && s.coded) {
        run_coded(s, ins[0], outs, rec);
        if (options_.progress != nullptr) options_.progress->advance(1, s.name);
        continue;
      }
      run_step_dense(s, ins, outs, step_run(i, input, rec));
      if (rec != nullptr) {
        rec->counters +=
            dense_cost(plan_, s, plan_.kind == PlanKind::network ? samples_ : rows_, {state_.pos, 0});
      }
    }
    if (plan_.kind == PlanKind::tokens) state_.pos += rows_;
    return plan_.output >= 0 ? read(plan_.output) : std::span<const float>{};
  }

 private:
  static std::vector<float>* cache(std::vector<std::vector<float>>& caches, std::size_t step) {
    return step < caches.size() ? &caches[step] : nullptr;
  }
  StepRun step_run(std::size_t i, const PlanInput& input, LayerRecord* rec) {
    return {rows_,
            state_.pos,
            input.tokens,
            cache(state_.cache_key, i),
            cache(state_.cache_value, i),
            rec != nullptr ? &rec->expert_tokens : nullptr,
            i < state_.cache_first.size() ? &state_.cache_first[i] : nullptr};
  }

  void check_tokens(std::span<const std::int32_t> tokens) const {
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (state_.pos + n > plan_.context) {
      throw std::invalid_argument(cat(plan_.source, ": ", state_.pos + n,
                                      " tokens exceed the model's context of ", plan_.context, " (seq_len)"));
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] < 0 || tokens[i] >= plan_.vocab) {
        throw std::invalid_argument(cat(plan_.source, ": token ", i, " has id ", tokens[i],
                                        ", outside the vocabulary [0, ", plan_.vocab, ")"));
      }
    }
  }

  void set_input(std::span<const float> input) {
    std::span<float> in = write(plan_.input);
    if (input.size() != in.size()) {
      throw std::invalid_argument(cat(plan_.source, ": input has ", input.size(),
                                      " values but the plan takes ", shape_str(plan_.input_shape), " = ",
                                      in.size()));
    }
    std::copy(input.begin(), input.end(), in.begin());
  }

  [[nodiscard]] std::span<const float> read(int id) const {
    const PlanValue& v = plan_.values[sz(id)];
    if (v.constant) return v.data;
    if (v.slot < 0) return v.recorded;
    return state_.slots[sz(v.slot)];
  }
  std::span<float> write(int id) { return state_.slots[sz(plan_.values[sz(id)].slot)]; }

  // A coded synaptic site: network plans code each sample on its own (its thresholds and T are its own);
  // token plans code the call's tokens together; a trace codes the recorded tensor at once.
  void run_coded(const Step& s, std::span<const float> x, const std::vector<std::span<float>>& outs,
                 LayerRecord* rec) {
    const bool linear = s.kind() == StepKind::linear;
    const Synapses synapses{linear ? s.as<LinearStep>().weights.get() : nullptr,
                            linear ? nullptr : s.as<ConvStep>().weights.get()};
    const std::int64_t in = synapses.in();
    const std::int64_t out = synapses.out();
    // The fused output [rows][out]: written in place when the site has one output, else split after.
    std::vector<float> fused;
    std::span<float> y = outs[0];
    if (outs.size() > 1) {
      fused.resize(x.size() / sz(in) * sz(out));
      y = fused;
    }
    SiteCounters scratch;
    SiteCounters& counters = rec != nullptr ? rec->counters : scratch;
    std::span<std::uint64_t> spikes_per_input;
    if (rec != nullptr) {  // every coded site: the events of each presynaptic neuron (core mapping)
      rec->spikes_per_input.resize(sz(in), 0);
      spikes_per_input = rec->spikes_per_input;
    }
    if (plan_.kind == PlanKind::network) {
      const std::size_t in_per = x.size() / sz(plan_.batch);
      const std::size_t out_per = y.size() / sz(plan_.batch);
      const auto rows_per = static_cast<std::int64_t>(in_per) / in;
      std::fill(y.begin() + static_cast<std::ptrdiff_t>(sz(samples_) * out_per), y.end(), 0.0F);
      for (std::int64_t k = 0; k < samples_; ++k) {
        const auto xs = x.subspan(sz(k) * in_per, in_per);
        if (options_.observer) options_.observer(s, xs, rows_per, (options_.first_sample + k) * rows_per);
        const std::string what =
            cat(plan_.source, ": site '", s.name, "' input of sample ", options_.first_sample + k);
        run_site(synapses, xs, rows_per, *options_.site, y.subspan(sz(k) * out_per, out_per), counters,
                 {s.name, what, (options_.first_sample + k) * rows_per, spikes_per_input});
      }
    } else {
      const auto rows = static_cast<std::int64_t>(x.size()) / in;
      if (options_.observer) options_.observer(s, x, rows, plan_.kind == PlanKind::tokens ? state_.pos : 0);
      const std::string what = plan_.kind == PlanKind::trace
                                   ? cat(plan_.source, ": layer '", s.name, "' input")
                                   : cat(plan_.source, ": ", s.name, " input");
      run_site(synapses, x, rows, *options_.site, y, counters,
               {s.name, what, plan_.kind == PlanKind::tokens ? state_.pos : 0, spikes_per_input});
    }
    if (outs.size() > 1) split_columns(y, s.as<LinearStep>().out_widths, outs);
  }

  // A mixture-of-experts step in the spiking run: x coded once (its neurons and spikes counted once); each
  // token's events delivered to the synapses of its routed experts only (and the shared expert's), so SOPs
  // are over the routed fan-out; the experts' down projections and the combination run densely.
  void run_moe_coded(const Step& s, const std::vector<std::span<const float>>& ins, std::span<float> out,
                     LayerRecord* rec) {
    const MoeStep& m = s.as<MoeStep>();
    const SiteConfig& config = *options_.site;
    const std::span<const float> x = ins[0];
    const auto dim = sz(m.dim);
    const std::size_t rows = x.size() / dim;
    const auto n_rows = static_cast<std::int64_t>(rows);
    if (options_.observer) options_.observer(s, x, n_rows, state_.pos);
    const std::vector<std::int64_t> none(dim, 0);
    const CodedSite site =
        code_site(config, x, n_rows, m.dim, none, none, 0, cat(plan_.source, ": ", s.name, " input"));
    SiteCounters c = site.counters;
    if (rec != nullptr) {
      rec->spikes_per_input.resize(dim, 0);
      add_spikes_per_input(site.coded, rec->spikes_per_input);
      rec->expert_tokens.resize(sz(m.experts), 0);
    }
    // The synapse side of delivering `coded` into `w`: SOPs over w's fan-out, postsynaptic updates, the
    // dense run's MACs and weights.
    const auto deliver = [&](const coding::CodedTensor& coded, const LinearWeights& w, std::span<float> y) {
      const std::vector<std::int64_t> fanout(dim, w.out);
      add_synapse_side(c, count_coded(coded, fanout, w.fanout_nonzero, w.out));
      c.dense_macs += static_cast<std::uint64_t>(coded.rows * w.in * w.out);
      c.dense_weight_words += static_cast<std::uint64_t>(w.weight_count());
      event_forward(w, coded, y);
    };
    const auto dense_down = [&](const LinearWeights& w, std::span<const float> a, std::int64_t n,
                                std::span<float> y) {
      dense_forward(w, a, n, y);
      const auto macs = static_cast<std::uint64_t>(n * w.in * w.out);
      c.dense_macs += macs;
      c.uncoded_macs += macs;
      c.dense_weight_words += static_cast<std::uint64_t>(w.weight_count());
      c.elementwise_ops += static_cast<std::uint64_t>(n * (2 * w.in + w.out));  // SwiGLU, weighted add
    };
    const ops::Routing routing = ops::moe_route(ins[1], m.experts, m.top_k, m.norm_topk_prob);
    const auto by_expert = rows_of_experts(routing, m.experts);
    std::fill(out.begin(), out.end(), 0.0F);
    coding::CodedTensor sub;
    for (std::int64_t e = 0; e < m.experts; ++e) {
      const auto& rs = by_expert[sz(e)];
      if (rec != nullptr) rec->expert_tokens[sz(e)] += rs.size();
      if (rs.empty()) continue;
      // The coded rows of the tokens routed to e.
      sub.scheme = site.coded.scheme;
      sub.steps = site.coded.steps;
      sub.rows = static_cast<std::int64_t>(rs.size());
      sub.cols = m.dim;
      sub.saturated = 0;
      sub.value.resize(rs.size() * dim);
      sub.scale.resize(rs.size());
      sub.zero_point.resize(rs.size());
      for (std::size_t i = 0; i < rs.size(); ++i) {
        const auto r = sz(rs[i]);
        std::copy_n(site.coded.value.data() + r * dim, dim, sub.value.data() + i * dim);
        sub.scale[i] = site.coded.scale[r];
        sub.zero_point[i] = site.coded.zero_point[r];
      }
      const LinearWeights& gu = *m.gate_up[sz(e)];
      std::vector<float> h(rs.size() * sz(gu.out));
      deliver(sub, gu, h);
      const std::vector<float> a = swiglu_of(h, m.hidden, sz(gu.out));
      std::vector<float> y(rs.size() * dim);
      dense_down(*m.down[sz(e)], a, sub.rows, y);
      moe_combine(m, e, routing, rs, y, out);
    }
    if (m.shared_hidden > 0) {
      std::vector<float> h(rows * sz(m.shared_gate_up->out));
      deliver(site.coded, *m.shared_gate_up, h);
      const std::vector<float> a = swiglu_of(h, m.shared_hidden, sz(m.shared_gate_up->out));
      std::vector<float> y(rows * dim);
      dense_down(*m.shared_down, a, n_rows, y);
      moe_shared_combine(m, h, y, out);
    }
    if (config.measure_output_error) {
      std::vector<float> y_dense(out.size());
      moe_dense(m, x, ins[1], y_dense);
      add_output_error(out, y_dense, c);
    }
    c.elementwise_ops += static_cast<std::uint64_t>(n_rows * 3 * m.experts);  // the router's softmax
    if (rec != nullptr) rec->counters += c;
  }

  // SpikingBrain's SWA in the spiking run: the query (after RoPE) is coded per token and head; each event of
  // head h's feature d reaches that feature of every key the token attends (SOPs over the attended keys, one
  // postsynaptic score neuron per key); keys and values are INT8 fake-quantised as they enter the cache.
  // The query-key product's dense MACs are the site's dense work; the probability-value product, softmax and
  // quantisation stay dense (uncoded MACs, element-wise ops).
  void run_attention_coded(const Step& s, std::size_t i, const std::vector<std::span<const float>>& ins,
                           std::span<float> out, LayerRecord* rec) {
    const AttentionStep& a = s.as<AttentionStep>();
    const SiteConfig& config = *options_.site;
    const std::span<const float> q = ins[0];
    const std::int64_t q_dim = a.heads * a.head_dim;
    const std::int64_t rows = static_cast<std::int64_t>(q.size()) / q_dim;
    if (options_.observer) options_.observer(s, q, rows, state_.pos);
    const std::vector<std::int64_t> none(sz(a.head_dim), 0);
    const CodedSite site = code_site(config, q, rows * a.heads, a.head_dim, none, none, 0,
                                     cat(plan_.source, ": ", s.name, " input (query per head)"));
    SiteCounters c = site.counters;
    c.tokens = static_cast<std::uint64_t>(rows);  // coded rows are tokens x heads; the site counts tokens
    c.token_steps = c.tokens * static_cast<std::uint64_t>(site.coded.steps);
    // x̂ = count x V_th, per token and head.
    std::vector<float> q_hat(q.size());
    const coding::CodedTensor& coded = site.coded;
    for (std::int64_t r = 0; r < coded.rows; ++r) {
      for (std::int64_t d = 0; d < coded.cols; ++d)
        q_hat[sz(r * coded.cols + d)] = static_cast<float>(coded.count(r, d)) * coded.scale[sz(r)];
    }
    // Events of token t reach the attended keys of its position.
    add_synapse_side(c,
                     count_query_events(coded, a.heads, attended_per_row({state_.pos, 0}, rows, a.window)));
    if (rec != nullptr) {
      rec->spikes_per_input.resize(sz(a.head_dim), 0);
      add_spikes_per_input(coded, rec->spikes_per_input);
    }
    StepRun run = step_run(i, PlanInput{}, rec);
    run.int8_kv = a.kv_int8;
    run_step_dense(s, {q_hat, ins[1], ins[2]}, {out}, run);
    c += coded_attention_cost(a, rows, {state_.pos, 0});
    if (config.measure_output_error) {
      // The same attention with the exact query and the same (quantised) cache.
      std::vector<float> y_dense(out.size());
      ops::causal_attention(q, state_.cache_key[i], state_.cache_value[i], a.heads, a.kv_heads, a.head_dim,
                            state_.pos, y_dense, a.window, state_.cache_first[i]);
      add_output_error(out, y_dense, c);
    }
    if (rec != nullptr) rec->counters += c;
  }

  const Plan& plan_;
  RunState& state_;
  const ExecOptions& options_;
  std::int64_t rows_ = 0;
  std::int64_t samples_ = 0;
};

}  // namespace

RunState::RunState(const Plan& plan) : slots(plan.slot_size.size()) {
  if (plan.shape_only)
    throw InternalError(cat(plan.source, ": a shape-only plan (no weights) can be counted, not run"));
  // KV caches grow with the positions a sequence reaches (a 7B model's full context would be gigabytes).
  cache_key.resize(plan.steps.size());
  cache_value.resize(plan.steps.size());
  cache_first.resize(plan.steps.size(), 0);
}

std::vector<LayerRecord> plan_records(const Plan& plan) {
  std::vector<LayerRecord> records;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    LayerRecord r;
    r.name = s.name;
    r.kind = s.synaptic() ? std::string(name(s.kind())) : s.op;  // dense ops: the op as the model names it
    r.index = s.index >= 0 ? s.index : static_cast<std::int64_t>(records.size());
    r.in = s.in_per_row;
    r.out = s.out_per_row;
    r.weights = s.weights;
    r.coded = s.coded;
    records.push_back(std::move(r));
  }
  return records;
}

std::span<const float> execute(const Plan& plan, RunState& state, const PlanInput& input,
                               const ExecOptions& options, std::vector<LayerRecord>* records) {
  if (records != nullptr && records->size() != plan.steps.size())
    throw std::invalid_argument("execute: records do not belong to this plan");
  return Executor(plan, state, options).run(input, records);
}

void merge_records(std::vector<LayerRecord>& into, const std::vector<LayerRecord>& from) {
  for (std::size_t i = 0; i < from.size(); ++i) {
    into[i].counters += from[i].counters;
    const auto& load = from[i].expert_tokens;
    into[i].expert_tokens.resize(std::max(into[i].expert_tokens.size(), load.size()), 0);
    for (std::size_t e = 0; e < load.size(); ++e)
      into[i].expert_tokens[e] += load[e];
    const auto& spi = from[i].spikes_per_input;
    if (spi.empty()) continue;
    into[i].spikes_per_input.resize(spi.size(), 0);
    for (std::size_t j = 0; j < spi.size(); ++j)
      into[i].spikes_per_input[j] += spi[j];
  }
}

}  // namespace spikesim::sim
