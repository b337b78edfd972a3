#include "energy/network_estimate.hpp"

namespace spikesim::energy {

namespace {

void add(std::optional<Breakdown>& sum, const std::optional<Breakdown>& part) {
  if (!part) return;
  if (!sum) {
    sum = *part;
  } else {
    *sum += *part;
  }
}

void add(Estimate& sum, const Estimate& part) {
  add(sum.spiking, part.spiking);
  add(sum.dense, part.dense);
}

}  // namespace

SiteCounters without_spikes(const SiteCounters& counters) {
  SiteCounters c = counters;
  c.spikes = 0;
  c.spikes_graded = 0;
  c.sops = 0;
  c.effective_sops = 0;
  c.graded_sops = 0;
  c.graded_effective_sops = 0;
  c.weight_words_read = 0;
  c.post_neuron_updates_active = 0;
  return c;
}

MappingCounts without_spikes(const MappingCounts& mapping) {
  MappingCounts m = mapping;
  m.spike_packets = 0;
  m.hops_ew = 0;
  m.hops_ns = 0;
  m.chip_crossings = 0;
  return m;
}

NetworkEstimate estimate_network(const std::vector<LayerActivity>& layers, const HardwareProfile& profile,
                                 const DenseContext& dense) {
  NetworkEstimate net;
  if (profile.chip) {
    std::vector<MeshLayer> mesh;
    mesh.reserve(layers.size());
    for (const LayerActivity& l : layers)
      mesh.push_back({l.name, l.shape.in, l.shape.out, l.shape.weights, l.coded});
    net.mapping = map_network(mesh, *profile.chip, profile.weight_bits);
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerActivity& l = layers[i];
    const MappingCounts mc = net.mapping
                                 ? mapping_counts(*net.mapping, i, l.counters->spikes, l.spikes_per_input)
                                 : MappingCounts{};
    net.layer_mapping.push_back(mc);
    net.layers.push_back(estimate(*l.counters, profile, mc, l.shape, dense));
    net.layers_fixed.push_back(
        estimate(without_spikes(*l.counters), profile, without_spikes(mc), l.shape, dense));
    add(net.total, net.layers.back());
    add(net.total_fixed, net.layers_fixed.back());
  }
  return net;
}

}  // namespace spikesim::energy
