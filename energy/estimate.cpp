#include "energy/estimate.hpp"

#include <algorithm>
#include <array>

namespace spikesim::energy {

namespace {

Range scaled(const Range& r, double count) {
  return {r.low * count, r.nominal * count, r.high * count};
}

Range& operator+=(Range& a, const Range& b) {
  a.low += b.low;
  a.nominal += b.nominal;
  a.high += b.high;
  return a;
}

class Accumulator {
 public:
  Accumulator(const Constants& side, Breakdown& out) : side_(side), out_(out) {}
  // Adds count x constant to `term`; a non-zero count with no constant is recorded as uncharged.
  void charge(Term term, const std::string& key, double count, std::string_view what) {
    if (count == 0.0) return;
    const auto it = side_.find(key);
    if (it == side_.end()) {
      const std::string entry = std::string(what) + " (no " + key + ")";
      if (std::find(out_.uncharged.begin(), out_.uncharged.end(), entry) == out_.uncharged.end()) {
        out_.uncharged.push_back(entry);
      }
      return;
    }
    out_.term_pj.at(static_cast<std::size_t>(term)) += scaled(it->second.value, count);
  }
  [[nodiscard]] bool has(const std::string& key) const { return side_.contains(key); }

 private:
  const Constants& side_;
  Breakdown& out_;
};

void finish(Breakdown& b) {
  b.total_pj = {};
  for (const Range& r : b.term_pj)
    b.total_pj += r;
}

Breakdown spiking_energy(const sim::SiteCounters& c, const HardwareProfile& p, const MappingCounts& mapping) {
  Breakdown b;
  Accumulator acc(*p.spiking, b);
  const auto sops = static_cast<double>(p.skips_zero_weights ? c.effective_sops : c.sops);
  if (p.all_in) {
    acc.charge(Term::compute, "e_synop_all_in_pj", sops, "synaptic ops");
    finish(b);
    return b;
  }
  const auto graded = static_cast<double>(p.skips_zero_weights ? c.graded_effective_sops : c.graded_sops);
  acc.charge(Term::compute, "e_synop_pj", sops, "synaptic ops");
  if (acc.has("e_synop_graded_extra_pj"))
    acc.charge(Term::compute, "e_synop_graded_extra_pj", graded, "graded ops");

  const auto pre_active = static_cast<double>(c.spikes);  // a coding neuron fires at most once per step
  const double pre_idle = static_cast<double>(c.neuron_updates) - pre_active;
  const auto post_active = static_cast<double>(c.post_neuron_updates_active);
  const double post_idle = static_cast<double>(c.post_neuron_updates) - post_active;
  if (acc.has("e_neuron_update_active_pj") || acc.has("e_neuron_update_inactive_pj")) {
    acc.charge(Term::compute, "e_neuron_update_active_pj", pre_active + post_active, "active neuron updates");
    acc.charge(Term::compute, "e_neuron_update_inactive_pj", pre_idle + post_idle, "idle neuron updates");
  }
  acc.charge(Term::compute, "e_mac_pj", static_cast<double>(c.rescale_muls + c.zero_point_macs),
             "output rescale and zero-point MACs");
  acc.charge(Term::compute, "e_mac_pj", static_cast<double>(c.uncoded_macs), "MACs of ops left dense");
  acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.bias_adds), "bias adds");
  acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.elementwise_ops), "element-wise ops");

  if (acc.has("e_weight_read_pj")) {
    const auto words = static_cast<double>(p.skips_zero_weights ? c.effective_sops : c.sops);
    acc.charge(Term::weight_memory, "e_weight_read_pj", words, "weight reads");
  }
  if (acc.has("e_state_read_pj") || acc.has("e_state_write_pj")) {
    const double accesses = sops + static_cast<double>(c.post_neuron_updates);
    acc.charge(Term::state_memory, "e_state_read_pj", accesses, "membrane reads");
    acc.charge(Term::state_memory, "e_state_write_pj", accesses, "membrane writes");
  }
  if (acc.has("e_spike_pj")) acc.charge(Term::routing, "e_spike_pj", static_cast<double>(c.spikes), "spikes");
  if (acc.has("e_hop_pj")) {
    if (mapping.mapped) {
      acc.charge(Term::routing, "e_hop_pj", static_cast<double>(mapping.spike_hops), "spike hops");
    } else if (c.spikes > 0) {
      b.uncharged.emplace_back("router hops (layers not mapped onto cores)");
    }
  }
  if (acc.has("p_static_mw")) {
    // mW x ns = 1e-12 J = 1 pJ
    const Range t = *HardwareProfile::get(p.spiking, "t_step_ns");
    const Range power = *HardwareProfile::get(p.spiking, "p_static_mw");
    const auto steps = static_cast<double>(c.steps_sum);
    b.term_pj[static_cast<std::size_t>(Term::static_power)] +=
        Range{power.low * t.low * steps, power.nominal * t.nominal * steps, power.high * t.high * steps};
  }
  finish(b);
  return b;
}

Breakdown dense_energy(const sim::SiteCounters& c, const HardwareProfile& p) {
  Breakdown b;
  Accumulator acc(*p.dense, b);
  if (acc.has("e_mac_pj"))
    acc.charge(Term::compute, "e_mac_pj", static_cast<double>(c.dense_macs), "dense MACs");
  if (acc.has("e_mac_pj"))
    acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.bias_adds), "bias adds");
  acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.elementwise_ops), "element-wise ops");
  if (acc.has("e_weight_byte_pj")) {
    // Per token: every token streams every weight (dense_macs = tokens x weights); else once per call.
    const auto words = static_cast<double>(p.dense_weights_per_token ? c.dense_macs : c.dense_weight_words);
    acc.charge(Term::weight_memory, "e_weight_byte_pj", words * p.weight_bits / 8.0, "weight bytes");
  }
  finish(b);
  return b;
}

}  // namespace

std::string_view name(Term term) {
  static constexpr std::array<std::string_view, 5> names = {"compute", "weight_memory", "state_memory",
                                                            "routing", "static"};
  return names.at(static_cast<std::size_t>(term));
}

Estimate estimate(const sim::SiteCounters& counters, const HardwareProfile& profile,
                  const MappingCounts& mapping) {
  Estimate e;
  if (profile.spiking) e.spiking = spiking_energy(counters, profile, mapping);
  if (profile.dense) e.dense = dense_energy(counters, profile);
  return e;
}

Breakdown& operator+=(Breakdown& a, const Breakdown& b) {
  for (std::size_t i = 0; i < a.term_pj.size(); ++i)
    a.term_pj[i] += b.term_pj[i];
  a.total_pj += b.total_pj;
  for (const auto& u : b.uncharged) {
    if (std::find(a.uncharged.begin(), a.uncharged.end(), u) == a.uncharged.end()) a.uncharged.push_back(u);
  }
  return a;
}

}  // namespace spikesim::energy
