#include "sim/run/trace_run.hpp"

#include "coding/event_stream.hpp"
#include "sim/run/execute.hpp"

namespace spikesim::sim {

std::vector<LayerRecord> run_trace(const Plan& plan, const SiteConfig& config, Progress* progress,
                                   const SiteObserver& observer) {
  if (progress != nullptr) progress->start(plan.sites(true).size());
  std::vector<LayerRecord> records = plan_records(plan);
  RunState state(plan);
  ExecOptions options;
  options.site = &config;
  options.progress = progress;
  options.observer = observer;
  execute(plan, state, {}, options, &records);
  return records;
}

std::vector<models::NamedEvents> encode_trace(const Plan& plan, const SiteConfig& config) {
  std::vector<models::NamedEvents> out;
  for (const Step& s : plan.steps) {
    if (!s.coded) continue;
    const LinearStep& l = s.as<LinearStep>();
    const std::span<const float> x = plan.values[static_cast<std::size_t>(s.in[0])].recorded;
    const std::string what = plan.source + ": layer '" + s.name + "' input";
    const auto counts = neurons::fire(config.neuron, x, l.rows, l.weights->in, what);
    out.push_back({s.name, s.index, coding::encode(coding::prepare(counts, config.coding, what))});
  }
  return out;
}

}  // namespace spikesim::sim
