#include "sim/run/trace_run.hpp"

#include "coding/event_stream.hpp"

namespace spikesim::sim {

namespace {
std::string what_of(const TracePlan& plan, const TracePlan::Layer& layer) {
  return plan.source + ": layer '" + layer.name + "' input";
}
}  // namespace

TracePlan lower_trace(const models::Network& network) {
  TracePlan plan;
  plan.source = network.source;
  for (const models::Vertex v : network.execution_order()) {
    const models::Op& op = network.graph[v];
    if (op.kind != models::OpKind::linear) continue;
    // The linear op's single producer is the recorded input.
    const auto [e, end] = boost::in_edges(v, network.graph);
    if (e == end) throw models::ModelError(network.source + ": layer '" + op.name + "' has no input");
    const models::Op& input_op = network.graph[boost::source(*e, network.graph)];
    const models::Tensor& x = network.tensor(input_op.tensors.at("value"));
    const models::Tensor& w = network.tensor(op.tensors.at("weight"));
    std::span<const float> bias;
    if (op.tensors.contains("bias")) bias = network.tensor(op.tensors.at("bias")).f32();
    TracePlan::Layer layer;
    layer.name = op.name;
    layer.index = op.ints.at("index");
    layer.weights = LinearWeights::from_row_major(op.name, w.f32(), w.shape[0], w.shape[1], bias);
    layer.input = x.f32();
    layer.tokens = x.shape[0];
    plan.layers.push_back(std::move(layer));
  }
  return plan;
}

std::vector<LayerRecord> run_trace(const TracePlan& plan, const SiteConfig& config, Progress* progress) {
  if (progress != nullptr) progress->start(plan.layers.size());
  std::vector<LayerRecord> records;
  for (const TracePlan::Layer& layer : plan.layers) {
    LayerRecord rec;
    rec.name = layer.name;
    rec.index = layer.index;
    rec.in = layer.weights.in;
    rec.out = layer.weights.out;
    rec.weights = layer.weights.weight_count();
    rec.spikes_per_input.assign(static_cast<std::size_t>(layer.weights.in), 0);
    std::vector<float> y(static_cast<std::size_t>(layer.tokens * layer.weights.out));  // [tokens][out]
    run_coded_linear(layer.weights, layer.input, layer.tokens, config, y, rec.counters, what_of(plan, layer),
                     rec.spikes_per_input);
    records.push_back(std::move(rec));
    if (progress != nullptr) progress->advance(1, layer.name);
  }
  return records;
}

std::vector<models::NamedEvents> encode_trace(const TracePlan& plan, const SiteConfig& config) {
  std::vector<models::NamedEvents> out;
  for (const TracePlan::Layer& layer : plan.layers) {
    const std::string what = what_of(plan, layer);
    const auto counts = neurons::fire(config.neuron, layer.input, layer.tokens, layer.weights.in, what);
    out.push_back({layer.name, layer.index, coding::encode(coding::prepare(counts, config.coding, what))});
  }
  return out;
}

}  // namespace spikesim::sim
