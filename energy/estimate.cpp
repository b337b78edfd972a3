#include "energy/estimate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "base/text.hpp"

namespace spikesim::energy {

namespace {

Range scaled(const Range& r, double count) {
  return {r.low * count, r.nominal * count, r.high * count};
}

Range product(const Range& a, const Range& b) {
  return {a.low * b.low, a.nominal * b.nominal, a.high * b.high};
}

Range& operator+=(Range& a, const Range& b) {
  a.low += b.low;
  a.nominal += b.nominal;
  a.high += b.high;
  return a;
}

void add_unique(std::vector<std::string>& list, const std::string& entry) {
  if (std::find(list.begin(), list.end(), entry) == list.end()) list.push_back(entry);
}

class Accumulator {
 public:
  Accumulator(const Constants& side, Breakdown& out) : side_(side), out_(out) {}
  // Adds count x constant to `term`; a non-zero count with no constant is recorded as uncharged.
  void charge(Term term, const std::string& key, double count, std::string_view what) {
    if (count == 0.0) return;
    const auto it = side_.find(key);
    if (it == side_.end()) {
      uncharged(std::string(what) + " (no " + key + ")");
      return;
    }
    charge(term, it->second.value, count);
  }
  // Adds count x an energy computed from several constants (the SRAM model).
  void charge(Term term, const Range& per_unit, double count) {
    out_.term_pj.at(static_cast<std::size_t>(term)) += scaled(per_unit, count);
  }
  void uncharged(const std::string& entry) { add_unique(out_.uncharged, entry); }
  [[nodiscard]] bool has(const std::string& key) const { return side_.contains(key); }
  [[nodiscard]] Range at(const std::string& key) const { return side_.at(key).value; }

 private:
  const Constants& side_;
  Breakdown& out_;
};

void finish(Breakdown& b) {
  b.total_pj = {};
  for (const Range& r : b.term_pj)
    b.total_pj += r;
}

// Time cost of `count` operations with constant `key` (0 when the profile has no such constant).
Range time_of(const Accumulator& acc, const std::string& key, double count) {
  return acc.has(key) ? scaled(acc.at(key), count) : Range{};
}

Breakdown spiking_energy(const SiteCounters& c, const HardwareProfile& p, const MappingCounts& m,
                         const LayerShape& shape) {
  Breakdown b;
  Accumulator acc(*p.spiking, b);
  const auto sops = static_cast<double>(p.skips_zero_weights ? c.effective_sops : c.sops);
  if (p.all_in) {
    acc.charge(Term::compute, "e_synop_all_in_pj", sops, "synaptic ops");
    finish(b);
    return b;
  }
  // --- compute ---
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

  // --- weight memory: one word per synaptic op (and per uncoded MAC of a stored weight, per bias add) ---
  const bool sram = acc.has("e_sram_base_pj");
  if (acc.has("e_weight_read_pj")) {
    acc.charge(Term::weight_memory, "e_weight_read_pj", sops, "weight reads");
  } else if (sram) {
    if (shape.weights > 0) {
      const auto weight_bits = static_cast<double>(shape.weights) * p.weight_bits;
      const Range e_word = *sram_access_pj(*p.spiking, weight_bits);
      acc.charge(Term::weight_memory, e_word, sops + static_cast<double>(c.uncoded_macs));
      if (shape.out > 0) {
        acc.charge(Term::weight_memory,
                   *sram_access_pj(*p.spiking, static_cast<double>(shape.out) * p.weight_bits),
                   static_cast<double>(c.bias_adds));
      }
    } else if (sops > 0) {
      acc.uncharged("weight reads (layer shape unknown: the SRAM model needs the memory size)");
    }
  }
  // --- state memory: membrane read-modify-write per synaptic event and per postsynaptic update ---
  const double state_accesses = sops + static_cast<double>(c.post_neuron_updates);
  if (acc.has("e_state_read_pj") || acc.has("e_state_write_pj")) {
    acc.charge(Term::state_memory, "e_state_read_pj", state_accesses, "membrane reads");
    acc.charge(Term::state_memory, "e_state_write_pj", state_accesses, "membrane writes");
  } else if (sram && state_accesses > 0) {
    if (shape.out > 0) {
      const Range e_state = *sram_access_pj(*p.spiking, static_cast<double>(shape.out) * p.state_bits);
      acc.charge(Term::state_memory, e_state, 2.0 * state_accesses);  // read + write
    } else {
      acc.uncharged("membrane reads and writes (layer shape unknown: the SRAM model needs the memory size)");
    }
  }
  // --- routing: packets, hops, chip crossings ---
  const auto spikes = static_cast<double>(c.spikes);
  if (acc.has("e_spike_pj"))
    acc.charge(Term::routing, "e_spike_pj", m.mapped ? m.spike_packets : spikes, "spike packets");
  const bool hop_model = acc.has("e_hop_pj") || acc.has("e_hop_ew_pj") || acc.has("e_chip_hop_pj");
  if (hop_model && !m.mapped && spikes > 0) {
    acc.uncharged("router hops (layers not mapped onto cores: the profile has no chip section)");
  } else if (m.mapped) {
    if (acc.has("e_hop_pj")) acc.charge(Term::routing, "e_hop_pj", m.hops(), "router hops");
    if (acc.has("e_hop_ew_pj")) {
      acc.charge(Term::routing, "e_hop_ew_pj", m.hops_ew, "east-west hops");
      acc.charge(Term::routing, "e_hop_ns_pj", m.hops_ns, "north-south hops");
    }
    if (acc.has("e_chip_hop_pj")) {
      acc.charge(Term::routing, "e_chip_hop_pj", m.chip_crossings, "chip-to-chip hops");
    } else if (m.chip_crossings > 0 && hop_model) {
      acc.uncharged("chip-to-chip links (no e_chip_hop_pj: chip crossings are charged as tile hops only)");
    }
  }
  // --- latency and static power ---
  if (acc.has("t_step_ns")) b.latency_ns += scaled(acc.at("t_step_ns"), static_cast<double>(c.token_steps));
  const bool work_model =
      acc.has("t_synop_ns") || acc.has("t_neuron_update_active_ns") || acc.has("t_neuron_update_inactive_ns");
  if (work_model && m.mapped && m.target_cores > 0) {
    // Work is spread evenly over the cores that hold the layer; each core runs its share serially.
    Range target = time_of(acc, "t_synop_ns", sops);
    target += time_of(acc, "t_neuron_update_active_ns", post_active);
    target += time_of(acc, "t_neuron_update_inactive_ns", post_idle);
    Range source = time_of(acc, "t_neuron_update_active_ns", pre_active);
    source += time_of(acc, "t_neuron_update_inactive_ns", pre_idle);
    b.latency_ns += scaled(target, 1.0 / static_cast<double>(m.target_cores));
    b.latency_ns += scaled(source, 1.0 / static_cast<double>(std::max<std::int64_t>(m.source_cores, 1)));
  } else if (work_model && sops > 0) {
    acc.uncharged("per-core work time (layers not mapped onto cores: latency counts t_step_ns only)");
  }
  if (acc.has("p_static_mw")) {
    if (c.token_steps == 0 && c.steps_sum > 0) {
      acc.uncharged("static power (no token_steps counter: latency unknown)");
    } else {
      // mW x ns = 1e-12 J = 1 pJ; every chip of the network leaks while the layer runs.
      const double chips = m.mapped && m.chips > 0 ? static_cast<double>(m.chips) : 1.0;
      b.term_pj[static_cast<std::size_t>(Term::static_power)] +=
          scaled(product(acc.at("p_static_mw"), b.latency_ns), chips);
    }
  }
  finish(b);
  return b;
}

// Dense side of a measured profile: every dense MAC at the measured all-in energy per MAC of the run's point.
Breakdown measured_dense_energy(const SiteCounters& c, const HardwareProfile& p,
                                const DenseContext& context) {
  Breakdown b;
  Accumulator acc(*p.dense, b);
  acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.elementwise_ops), "element-wise ops");
  if (c.dense_macs > 0) {
    double tokens = context.tokens_per_call;
    std::string basis = "run";
    if (!(tokens > 0) && c.calls > 0) {
      tokens = static_cast<double>(c.tokens) / static_cast<double>(c.calls);
      basis = "counters";
    }
    if (tokens > 0) {
      DensePoint point = dense_point(*p.dense_measured, tokens);
      point.basis = basis;
      acc.charge(Term::compute, point.e_mac_pj, static_cast<double>(c.dense_macs));
      b.dense_points.push_back(point);
    } else {
      acc.uncharged("dense MACs (measured profile: tokens per call not known, and no calls counted)");
    }
  }
  finish(b);
  return b;
}

double log_interpolate(double x0, double y0, double x1, double y1, double x) {
  const double f = (std::log(x) - std::log(x0)) / (std::log(x1) - std::log(x0));
  return std::exp(std::log(y0) + f * (std::log(y1) - std::log(y0)));
}

Range log_interpolate(double x0, const Range& y0, double x1, const Range& y1, double x) {
  return {log_interpolate(x0, y0.low, x1, y1.low, x), log_interpolate(x0, y0.nominal, x1, y1.nominal, x),
          log_interpolate(x0, y0.high, x1, y1.high, x)};
}

Breakdown dense_energy(const SiteCounters& c, const HardwareProfile& p, const LayerShape& shape) {
  Breakdown b;
  Accumulator acc(*p.dense, b);
  if (acc.has("e_mac_pj")) {
    acc.charge(Term::compute, "e_mac_pj", static_cast<double>(c.dense_macs), "dense MACs");
    acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.bias_adds), "bias adds");
  }
  acc.charge(Term::compute, "e_add_pj", static_cast<double>(c.elementwise_ops), "element-wise ops");
  if (acc.has("e_weight_byte_pj")) {
    // Per token: every token streams every weight (dense_macs = tokens x weights); else once per call.
    const auto words = static_cast<double>(p.dense_weights_per_token ? c.dense_macs : c.dense_weight_words);
    acc.charge(Term::weight_memory, "e_weight_byte_pj", words * p.weight_bits / 8.0, "weight bytes");
  }
  if (acc.has("e_sram_base_pj") && c.dense_macs > 0) {
    if (shape.weights > 0 && shape.in > 0 && shape.out > 0) {
      const auto in = static_cast<double>(shape.in);
      const auto out = static_cast<double>(shape.out);
      const auto tokens = static_cast<double>(c.tokens);
      const double act_bits = p.dense_activation_bits();
      acc.charge(Term::weight_memory,
                 *sram_access_pj(*p.dense, static_cast<double>(shape.weights) * p.weight_bits),
                 static_cast<double>(c.dense_macs));
      acc.charge(Term::weight_memory, *sram_access_pj(*p.dense, out * p.weight_bits),
                 static_cast<double>(c.bias_adds));
      acc.charge(Term::state_memory, *sram_access_pj(*p.dense, in * act_bits), tokens * in);
      acc.charge(Term::state_memory, *sram_access_pj(*p.dense, out * act_bits), tokens * out);
    } else {
      acc.uncharged(
          "weight and activation reads (layer shape unknown: the SRAM model needs the memory size)");
    }
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

std::optional<Range> sram_access_pj(const Constants& side, double bits) {
  const auto base = side.find("e_sram_base_pj");
  const auto slope = side.find("e_sram_per_bit_pj");
  if (base == side.end() || slope == side.end()) return std::nullopt;
  Range e = base->second.value;
  e += scaled(slope->second.value, bits);
  if (const auto dram = side.find("e_dram_access_pj"); dram != side.end()) {
    e.low = std::min(e.low, dram->second.value.low);
    e.nominal = std::min(e.nominal, dram->second.value.nominal);
    e.high = std::min(e.high, dram->second.value.high);
  }
  return e;
}

DensePoint dense_point(const DenseMeasurement& measured, double tokens_per_call) {
  const std::vector<MeasuredPoint>& pts = measured.points;
  if (pts.empty()) throw InternalError("dense_point: a measurement without points");
  if (!(tokens_per_call > 0) || !std::isfinite(tokens_per_call))
    throw InternalError(cat("dense_point: tokens per call must be > 0, found ", tokens_per_call));
  DensePoint d;
  d.tokens_per_call = tokens_per_call;
  const auto at = [&](const MeasuredPoint& m, bool clamped) {
    d.measured_below = d.measured_above = m.tokens_per_call;
    d.clamped = clamped;
    d.e_mac_pj = m.e_mac_pj;
    d.e_weight_byte_pj = m.e_weight_byte_pj;
    if (clamped) {  // the same energy per MAC; per weight byte scales with the MACs each byte serves
      d.e_weight_byte_pj = scaled(m.e_weight_byte_pj, tokens_per_call / m.tokens_per_call);
    }
    return d;
  };
  if (tokens_per_call <= pts.front().tokens_per_call)
    return at(pts.front(), tokens_per_call < pts.front().tokens_per_call);
  if (tokens_per_call >= pts.back().tokens_per_call)
    return at(pts.back(), tokens_per_call > pts.back().tokens_per_call);
  const auto hi = std::find_if(pts.begin(), pts.end(),
                               [&](const MeasuredPoint& m) { return m.tokens_per_call >= tokens_per_call; });
  if (hi->tokens_per_call == tokens_per_call) return at(*hi, false);
  const MeasuredPoint& lo = *(hi - 1);
  d.measured_below = lo.tokens_per_call;
  d.measured_above = hi->tokens_per_call;
  d.e_mac_pj =
      log_interpolate(lo.tokens_per_call, lo.e_mac_pj, hi->tokens_per_call, hi->e_mac_pj, tokens_per_call);
  d.e_weight_byte_pj = log_interpolate(lo.tokens_per_call, lo.e_weight_byte_pj, hi->tokens_per_call,
                                       hi->e_weight_byte_pj, tokens_per_call);
  return d;
}

double tokens_per_call(RunKind kind, std::uint64_t tokens, std::uint64_t calls, std::uint64_t batch) {
  switch (kind) {
    case RunKind::run:
      if (tokens == 0) throw std::invalid_argument("tokens_per_call: a run needs tokens > 0");
      return static_cast<double>(tokens) / static_cast<double>(std::max<std::uint64_t>(calls, 1));
    case RunKind::generate:
      return 1.0;
    case RunKind::eval:
      if (batch == 0)
        throw std::invalid_argument("tokens_per_call: eval needs its batch (images per call) > 0");
      return static_cast<double>(batch);
    case RunKind::account:
      if (batch == 0)
        throw std::invalid_argument("tokens_per_call: account needs its chunk (tokens per call) > 0");
      return static_cast<double>(tokens > 0 ? std::min(batch, tokens) : batch);
  }
  throw std::invalid_argument("tokens_per_call: unknown run kind");
}

Estimate estimate(const SiteCounters& counters, const HardwareProfile& profile, const MappingCounts& mapping,
                  const LayerShape& shape, const DenseContext& dense) {
  Estimate e;
  if (profile.spiking) e.spiking = spiking_energy(counters, profile, mapping, shape);
  if (profile.dense) {
    e.dense = profile.dense_measured ? measured_dense_energy(counters, profile, dense)
                                     : dense_energy(counters, profile, shape);
  }
  return e;
}

Breakdown& operator+=(Breakdown& a, const Breakdown& b) {
  for (std::size_t i = 0; i < a.term_pj.size(); ++i)
    a.term_pj[i] += b.term_pj[i];
  a.total_pj += b.total_pj;
  a.latency_ns += b.latency_ns;
  for (const auto& u : b.uncharged)
    add_unique(a.uncharged, u);
  for (const auto& d : b.dense_points) {
    if (std::find(a.dense_points.begin(), a.dense_points.end(), d) == a.dense_points.end())
      a.dense_points.push_back(d);
  }
  return a;
}

}  // namespace spikesim::energy
