#include "sim/run/net_run.hpp"

#include <algorithm>
#include <stdexcept>

#include "base/text.hpp"

namespace spikesim::sim {

namespace {

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

std::span<const float> read(const NetPlan& plan, const PlanState& state, int id) {
  const PlanValue& v = plan.values[sz(id)];
  if (v.constant) return v.data;
  return state.slots[sz(v.slot)];
}

std::span<float> write(const NetPlan& plan, PlanState& state, int id) {
  return state.slots[sz(plan.values[sz(id)].slot)];
}

void set_input(const NetPlan& plan, PlanState& state, std::span<const float> input) {
  std::span<float> in = write(plan, state, plan.input);
  if (input.size() != in.size()) {
    throw std::invalid_argument(cat(plan.source, ": input has ", input.size(), " values but the plan takes ",
                                    shape_str(plan.input_shape), " = ", in.size()));
  }
  std::copy(input.begin(), input.end(), in.begin());
}

std::vector<std::span<const float>> inputs_of(const NetPlan& plan, const PlanState& state, const Step& s) {
  std::vector<std::span<const float>> ins;
  ins.reserve(s.in.size());
  for (const int id : s.in)
    ins.push_back(read(plan, state, id));
  return ins;
}

bool synaptic(const Step& s) {
  return s.kind == StepKind::conv || s.kind == StepKind::linear;
}

// Counters of a step run densely for `samples` samples (dense ops, and synaptic sites left uncoded).
SiteCounters dense_counters(const Step& s, std::int64_t samples) {
  SiteCounters c;
  const auto n = static_cast<std::uint64_t>(samples);
  c.calls = n;
  c.uncoded_macs = static_cast<std::uint64_t>(s.macs_per_sample) * n;
  c.dense_macs = c.uncoded_macs;
  c.elementwise_ops = static_cast<std::uint64_t>(s.elementwise_per_sample) * n;
  if (synaptic(s)) {
    const bool has_bias = s.kind == StepKind::conv ? !s.conv->bias.empty() : !s.linear->bias.empty();
    c.bias_adds = has_bias ? static_cast<std::uint64_t>(s.out_per_sample) * n : 0;
    c.dense_weight_words = static_cast<std::uint64_t>(s.kind == StepKind::conv ? s.conv->weight_count()
                                                                               : s.linear->weight_count()) *
                           n;
  }
  return c;
}

}  // namespace

PlanState::PlanState(const NetPlan& plan) {
  slots.reserve(plan.slot_size.size());
  for (const auto n : plan.slot_size)
    slots.emplace_back(sz(n), 0.0F);
}

std::span<const float> run_dense(const NetPlan& plan, PlanState& state, std::span<const float> input) {
  set_input(plan, state, input);
  for (const Step& s : plan.steps)
    run_step_dense(s, inputs_of(plan, state, s), write(plan, state, s.out));
  return read(plan, state, plan.output);
}

std::span<const float> run_spiking(const NetPlan& plan, PlanState& state, std::span<const float> input,
                                   std::int64_t samples, const SiteConfig& config,
                                   std::vector<SiteCounters>& counters, std::int64_t first_sample) {
  if (samples < 0 || samples > plan.batch)
    throw std::invalid_argument(cat(plan.source, ": ", samples, " samples for a plan of batch ", plan.batch));
  counters.resize(plan.steps.size());
  set_input(plan, state, input);
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    const std::vector<std::span<const float>> ins = inputs_of(plan, state, s);
    const std::span<float> out = write(plan, state, s.out);
    if (!s.coded) {
      run_step_dense(s, ins, out);
      counters[i] += dense_counters(s, samples);
      continue;
    }
    // A coded site: each sample is coded and delivered on its own (its thresholds and T are its own).
    const std::size_t in_per = ins[0].size() / sz(plan.batch);
    const std::size_t out_per = out.size() / sz(plan.batch);
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(sz(samples) * out_per), out.end(), 0.0F);
    for (std::int64_t k = 0; k < samples; ++k) {
      const auto x = ins[0].subspan(sz(k) * in_per, in_per);
      const auto y = out.subspan(sz(k) * out_per, out_per);
      const std::string what = cat(plan.source, ": site '", s.name, "' input of sample ", first_sample + k);
      if (s.kind == StepKind::conv) {
        const std::int64_t images = static_cast<std::int64_t>(in_per) / s.conv->geometry.in_size();
        run_coded_conv(*s.conv, x, images, config, y, counters[i], what);
      } else {
        const std::int64_t rows = static_cast<std::int64_t>(in_per) / s.linear->in;
        run_coded_linear(*s.linear, x, rows, config, y, counters[i], what);
      }
    }
  }
  return read(plan, state, plan.output);
}

std::vector<LayerRecord> plan_records(const NetPlan& plan, const std::vector<SiteCounters>& counters) {
  std::vector<LayerRecord> records;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    LayerRecord r;
    r.name = s.name;
    r.kind = synaptic(s) ? std::string(name(s.kind)) : s.op;  // dense ops: the op as the model names it
    r.index = static_cast<std::int64_t>(i);
    r.in = s.in_per_sample;
    r.out = s.out_per_sample;
    r.weights = s.weights;
    r.coded = s.coded;
    if (i < counters.size()) r.counters = counters[i];
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace spikesim::sim
