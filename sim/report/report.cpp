#include "sim/report/report.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include "base/csv.hpp"
#include "base/files.hpp"
#include "base/text.hpp"
#include "coding/scheme.hpp"
#include "energy/break_even.hpp"
#include "energy/estimate.hpp"
#include "energy/network_estimate.hpp"

namespace spikesim::sim {

namespace {

double ratio(double num, double den) {
  return den > 0.0 ? num / den : 0.0;
}
double ratio(std::uint64_t num, std::uint64_t den) {
  return ratio(static_cast<double>(num), static_cast<double>(den));
}

Json range_json(const energy::Range& r) {
  return Json{{"low", r.low}, {"nominal", r.nominal}, {"high", r.high}};
}

Json optional_json(const std::optional<double>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json breakdown_json(const energy::Breakdown& b, bool with_latency) {
  Json j = Json::object();
  for (const energy::Term t : energy::all_terms)
    j[std::string(energy::name(t))] = range_json(b[t]);
  j["total"] = range_json(b.total_pj);
  if (with_latency) j["latency_ns"] = range_json(b.latency_ns);
  j["uncharged"] = b.uncharged;
  if (!b.dense_points.empty()) {  // measured dense profiles only: the point(s) the dense side was priced at
    Json points = Json::array();
    for (const energy::DensePoint& d : b.dense_points) {
      points.push_back(Json{{"tokens_per_call", d.tokens_per_call},
                            {"basis", d.basis},
                            {"measured_between", Json::array({d.measured_below, d.measured_above})},
                            {"clamped", d.clamped},
                            {"e_mac_pj", range_json(d.e_mac_pj)},
                            {"e_weight_byte_pj", range_json(d.e_weight_byte_pj)}});
    }
    j["dense_point"] = points;
  }
  return j;
}

Json estimate_json(const energy::Estimate& e) {
  Json pj = Json::object();
  if (e.spiking) pj["spiking"] = breakdown_json(*e.spiking, true);
  if (e.dense) pj["dense"] = breakdown_json(*e.dense, false);
  return pj;
}

Json constants_json(const energy::Constants& side) {
  Json j = Json::object();
  for (const auto& [key, c] : side) {
    Json e{{"low", c.value.low}, {"nominal", c.value.nominal}, {"high", c.value.high}, {"source", c.source}};
    if (!c.note.empty()) e["note"] = c.note;
    j[key] = e;
  }
  return j;
}

// SOPs per dense MAC = spikes per synapse per inference (energy/break_even.hpp).
double spikes_per_synapse(const SiteCounters& c) {
  return ratio(c.sops, c.dense_macs);
}

// Everything report_json() derives from the layers and one profile.
struct ProfileResult {
  const energy::HardwareProfile* profile = nullptr;
  energy::NetworkEstimate net;
};

std::vector<ProfileResult> estimate_all(const ReportInput& input) {
  std::vector<energy::LayerActivity> activity;
  activity.reserve(input.layers.size());
  for (const LayerRecord& l : input.layers) {
    energy::LayerActivity a;
    a.name = l.name;
    a.counters = &l.counters;
    a.shape = {l.in, l.out, l.weights};
    a.coded = l.coded;
    a.spikes_per_input = l.spikes_per_input;
    activity.push_back(a);
  }
  // How the run called the dense projections (profiles measured per tokens per call price by it); stored in
  // the run object, so a re-rendered stored run (compare cells) is priced the same.
  energy::DenseContext dense;
  if (const auto it = input.run.find("tokens_per_call"); it != input.run.end() && it->is_number())
    dense.tokens_per_call = it->get<double>();
  std::vector<ProfileResult> out;
  out.reserve(input.profiles.size());
  for (const auto& p : input.profiles)
    out.push_back({&p, energy::estimate_network(activity, p, dense)});
  return out;
}

const ProfileResult& result_of(const std::vector<ProfileResult>& results, const std::string& name) {
  for (const auto& r : results) {
    if (r.profile->name == name) return r;
  }
  throw std::logic_error("report: no result for profile " + name);
}

Json break_even_entry(double s, const energy::Breakdown& spiking, const energy::Breakdown& fixed,
                      const energy::Breakdown& dense) {
  const energy::BreakEven b = energy::break_even(s, spiking.total_pj, fixed.total_pj, dense.total_pj);
  return Json{{"s_measured", b.s_measured},
              {"s_star", Json{{"low", optional_json(b.s_low)},
                              {"nominal", optional_json(b.s_nominal)},
                              {"high", optional_json(b.s_high)}}},
              {"spiking_pj", range_json(b.spiking_pj)},
              {"spiking_fixed_pj", range_json(b.spiking_fixed_pj)},
              {"dense_pj", range_json(b.dense_pj)},
              {"spiking_cheaper", b.spiking_cheaper()}};
}

Json break_even_json(const ReportInput& input, const std::vector<ProfileResult>& results) {
  Json pairs = Json::array();
  SiteCounters coded_total;
  for (const auto& l : input.layers) {
    if (l.coded) coded_total += l.counters;
  }
  for (const auto& [spiking_name, dense_name] : break_even_pairs(input.profiles)) {
    const ProfileResult& sp = result_of(results, spiking_name);
    const ProfileResult& de = result_of(results, dense_name);
    Json pair{{"spiking", spiking_name}, {"dense", dense_name}};
    if (!sp.net.total.spiking || !de.net.total.dense) continue;
    pair["total"] = break_even_entry(spikes_per_synapse(coded_total), *sp.net.total.spiking,
                                     *sp.net.total_fixed.spiking, *de.net.total.dense);
    Json layers = Json::array();
    for (std::size_t i = 0; i < input.layers.size(); ++i) {
      const LayerRecord& l = input.layers[i];
      if (!l.coded) continue;
      Json e = break_even_entry(spikes_per_synapse(l.counters), *sp.net.layers[i].spiking,
                                *sp.net.layers_fixed[i].spiking, *de.net.layers[i].dense);
      e["name"] = l.name;
      layers.push_back(e);
    }
    pair["layers"] = layers;
    pairs.push_back(pair);
  }
  return Json{
      {"definition",
       "s = spikes per synapse per inference = SOPs / dense MACs (for a fully connected layer: spikes per "
       "presynaptic neuron per token). s_star: the s at which the spiking estimate equals the dense one, "
       "scaling every spike-driven counter (spikes, SOPs, weight reads, active updates, packets, hops, "
       "per-core work) by s / s_measured and holding the rest (idle updates, step synchronisation, dense "
       "side work). 0: the spiking side costs more even without spikes; null: undefined (no spikes or no "
       "spike-driven energy). low pairs spiking-high with dense-low, high spiking-low with dense-high."},
      {"pairs", pairs}};
}

Json layer_mapping_json(const energy::MappingCounts& mc, const energy::LayerPlacement& p,
                        std::uint64_t spikes) {
  if (!p.placed) return Json{{"placed", false}};
  return Json{{"placed", true},
              {"first_source_core", p.first_source_core},
              {"source_cores", p.source_cores},
              {"first_target_core", p.first_target_core},
              {"target_cores", p.target_cores},
              {"neurons_per_target_core", p.neurons_per_target_core},
              {"synaptic_bytes", p.synaptic_bytes},
              {"spike_packets", mc.spike_packets},
              {"hops_ew", mc.hops_ew},
              {"hops_ns", mc.hops_ns},
              {"chip_crossings", mc.chip_crossings},
              {"hops_per_spike", ratio(mc.hops(), static_cast<double>(spikes))}};
}

Json network_mapping_json(const energy::NetworkMapping& m, const energy::ChipSpec& chip) {
  return Json{{"routing", energy::name(m.routing)},
              {"cores", m.cores},
              {"cores_per_chip", chip.cores_per_chip},
              {"chips", m.chips},
              {"chip_grid", Json::array({m.chips_x, m.chips_y})},
              {"fits_on_one_chip", m.chips == 1},
              {"synaptic_bytes", m.synaptic_bytes},
              {"synaptic_bytes_per_chip",
               chip.synaptic_memory_bytes_per_core * static_cast<double>(chip.cores_per_chip)}};
}

Json layer_json(const LayerRecord& layer, std::size_t index, const std::vector<ProfileResult>& results) {
  Json j;
  j["name"] = layer.name;
  j["kind"] = layer.kind;
  j["index"] = layer.index;
  j["coded"] = layer.coded;
  j["in_features"] = layer.in;
  j["out_features"] = layer.out;
  j["weights"] = layer.weights;
  if (!layer.expert_tokens.empty()) j["expert_tokens"] = layer.expert_tokens;  // MoE: per-expert load
  j.update(metrics_json(layer.counters));
  Json energy_pj = Json::object();
  Json mapping = Json::object();
  for (const auto& r : results) {
    energy_pj[r.profile->name] = estimate_json(r.net.layers[index]);
    if (r.net.mapping) {
      mapping[r.profile->name] =
          layer_mapping_json(r.net.layer_mapping[index], r.net.mapping->layers[index], layer.counters.spikes);
    }
  }
  j["energy_pj"] = energy_pj;
  if (!mapping.empty()) j["mapping"] = mapping;
  return j;
}

}  // namespace

Json metrics_json(const SiteCounters& c) {
  Json j;
  const auto elements = static_cast<double>(c.elements);
  j["tokens"] = c.tokens;
  j["calls"] = c.calls;
  j["elements"] = c.elements;
  j["T"] = c.steps_max;
  j["T_mean"] = ratio(c.steps_sum, c.calls);
  j["token_steps"] = c.token_steps;
  j["zero_fraction"] = ratio(static_cast<double>(c.count_histogram[0]), elements);
  j["count_histogram"] = Json::array();
  for (const auto n : c.count_histogram)
    j["count_histogram"].push_back(ratio(static_cast<double>(n), elements));
  j["mean_abs_count"] = ratio(static_cast<double>(c.abs_count_sum), elements);
  j["spikes"] = c.spikes;
  j["spikes_graded"] = c.spikes_graded;
  j["spikes_per_element"] = ratio(static_cast<double>(c.spikes), elements);
  j["firing_rate"] = ratio(c.spikes, c.element_steps);
  j["sops"] = c.sops;
  j["effective_sops"] = c.effective_sops;
  j["ac_sops"] = c.sops - c.graded_sops;
  j["graded_sops"] = c.graded_sops;
  j["dense_macs"] = c.dense_macs;
  j["sops_per_dense_mac"] = ratio(c.sops, c.dense_macs);
  j["spikes_per_synapse"] = spikes_per_synapse(c);
  j["neuron_updates"] = c.neuron_updates;
  j["post_neuron_updates"] = c.post_neuron_updates;
  j["post_neuron_updates_active"] = c.post_neuron_updates_active;
  j["weight_words_read"] = c.weight_words_read;
  j["dense_weight_words"] = c.dense_weight_words;
  j["rescale_muls"] = c.rescale_muls;
  j["zero_point_macs"] = c.zero_point_macs;
  j["bias_adds"] = c.bias_adds;
  j["uncoded_macs"] = c.uncoded_macs;
  j["elementwise_ops"] = c.elementwise_ops;
  j["saturated"] = c.saturated;
  j["reconstruction_rel_error"] = std::sqrt(ratio(c.reconstruction_sq_err, c.input_sq_norm));
  j["output_rel_error"] = std::sqrt(ratio(c.output_sq_err, c.output_sq_norm));
  return j;
}

Json energy_json(const SiteCounters& c, const std::vector<energy::HardwareProfile>& profiles) {
  Json j = Json::object();
  for (const auto& p : profiles)
    j[p.name] = estimate_json(energy::estimate(c, p));
  return j;
}

Json profile_json(const energy::HardwareProfile& p) {
  Json j{{"description", p.description},
         {"file", p.file},
         {"all_in", p.all_in},
         {"weight_bits", p.weight_bits},
         {"state_bits", p.state_bits},
         {"activation_bits", p.dense_activation_bits()},
         {"skips_zero_weights", p.skips_zero_weights},
         {"dense_weights_per_token", p.dense_weights_per_token}};
  if (p.spiking) j["spiking"] = constants_json(*p.spiking);
  if (p.dense) j["dense"] = constants_json(*p.dense);
  if (p.dense_measured) {
    const energy::DenseMeasurement& m = *p.dense_measured;
    Json points = Json::array();
    for (const energy::MeasuredPoint& pt : m.points) {
      points.push_back(Json{{"tokens_per_call", pt.tokens_per_call},
                            {"e_mac_pj", range_json(pt.e_mac_pj)},
                            {"e_weight_byte_pj", range_json(pt.e_weight_byte_pj)},
                            {"power_w", pt.power_w},
                            {"tflops", pt.tflops},
                            {"repeats", pt.repeats}});
    }
    j["dense_measured"] = Json{{"points", points},
                               {"excludes_idle", m.excludes_idle},
                               {"idle_power_w", m.idle_power_w},
                               {"gpu", m.gpu},
                               {"date", m.date},
                               {"command", m.command},
                               {"log", m.log},
                               {"source", m.source}};
  }
  if (p.chip) {
    Json chip{{"routing", energy::name(p.chip->routing)}};
    for (const auto& [key, c] : p.chip->entries) {
      Json e{{"value", c.value}, {"source", c.source}};
      if (!c.note.empty()) e["note"] = c.note;
      chip[key] = e;
    }
    j["chip"] = chip;
  }
  return j;
}

std::vector<std::pair<std::string, std::string>> break_even_pairs(
    const std::vector<energy::HardwareProfile>& profiles) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& s : profiles) {
    if (!s.spiking) continue;
    if (s.dense) {
      pairs.emplace_back(s.name, s.name);  // same silicon, same process node
      continue;
    }
    for (const auto& d : profiles) {
      if (d.dense && !d.spiking) pairs.emplace_back(s.name, d.name);  // a chip against every GPU profile
    }
  }
  return pairs;
}

Json raster_json(const Raster& r) {
  return Json{{"site", r.site},
              {"token", r.token},
              {"scheme", coding::name(r.scheme)},
              {"T", r.steps},
              {"neurons", r.neurons},
              {"v_th", r.v_th},
              {"zero_point", r.zero_point},
              {"events", r.step.size()},
              {"count", r.count},
              {"step", r.step},
              {"neuron", r.neuron},
              {"sign", r.sign}};
}

SiteCounters total_counters(const std::vector<LayerRecord>& layers) {
  SiteCounters total;
  for (const auto& l : layers)
    total += l.counters;
  return total;
}

namespace {

Json report_json(const ReportInput& input, const std::vector<ProfileResult>& results) {
  Json j;
  j["spikesim_report"] = 3;
  j["run"] = input.run;
  j["definitions"] = {
      {"zero_fraction", "share of integer spike counts equal to 0 (SpikingBrain's sparsity)"},
      {"count_histogram", "share of counts with |s| = 0, 1, 2, >= 3"},
      {"firing_rate", "spikes / (elements x T)"},
      {"spikes_per_element", "spikes / elements"},
      {"spikes_per_synapse", "SOPs / dense MACs: spikes per synapse per inference (break-even variable s)"},
      {"sops", "sum over spikes of fan-out (dense synapses reached)"},
      {"effective_sops", "sum over spikes of non-zero synapses reached"},
      {"graded_sops", "sops from bitwise spikes of weight 2^b, b >= 1: an accumulate plus a shift"},
      {"dense_macs", "multiply-accumulates of the same layer run densely (GPU-equivalent)"},
      {"uncoded_macs", "multiply-accumulates the spiking model still runs densely (ops not spike-coded)"},
      {"elementwise_ops",
       "element-wise operations of non-synaptic ops (activations, pooling, element-wise "
       "arithmetic, softmax), the same in the dense and the spiking run; charged as adds"},
      {"token_steps", "sum over calls of tokens x T: virtual steps when tokens run one after another"},
      {"reconstruction_rel_error", "||x - x_hat|| / ||x|| with x_hat = count x V_th"},
      {"output_rel_error", "||y_spiking - y_dense|| / ||y_dense|| on the same input"},
      {"energy_pj",
       "per hardware profile, per run (spiking / dense) and term, low / nominal / high in pJ; totals are "
       "sums "
       "over layers"},
      {"latency_ns",
       "spiking run: token_steps x t_step + per-core work (SOPs x t_synop + neuron updates x "
       "t_neuron_update) / cores holding the layer; static energy = p_static x chips x latency"},
      {"mapping",
       "per profile with a chip layout: cores holding each layer, spike packets, router hops (E-W, N-S) and "
       "chip crossings; totals: cores and chips needed"},
  };
  j["hardware"] = Json::object();
  for (const auto& p : input.profiles)
    j["hardware"][p.name] = profile_json(p);
  j["layers"] = Json::array();
  for (std::size_t i = 0; i < input.layers.size(); ++i)
    j["layers"].push_back(layer_json(input.layers[i], i, results));
  const SiteCounters total = total_counters(input.layers);
  Json totals = metrics_json(total);
  totals["layers"] = input.layers.size();
  Json energy_pj = Json::object();
  Json mapping = Json::object();
  for (const auto& r : results) {
    energy_pj[r.profile->name] = estimate_json(r.net.total);
    if (r.net.mapping) mapping[r.profile->name] = network_mapping_json(*r.net.mapping, *r.profile->chip);
  }
  totals["energy_pj"] = energy_pj;
  if (!mapping.empty()) totals["mapping"] = mapping;
  j["totals"] = totals;
  j["break_even"] = break_even_json(input, results);
  for (const auto& [key, value] : input.extra.items())
    j[key] = value;
  return j;
}

std::string layers_csv(const ReportInput& input, const std::vector<ProfileResult>& results) {
  const auto pairs = break_even_pairs(input.profiles);
  std::ostringstream out;
  out.precision(9);
  out << "name,kind,index,in_features,out_features,tokens,T,zero_fraction,count_0,count_1,count_2,count_"
         "3plus,"
         "firing_rate,spikes_per_element,spikes_per_synapse,spikes,sops,effective_sops,graded_sops,dense_"
         "macs,"
         "reconstruction_rel_error,output_rel_error";
  for (const auto& p : input.profiles) {
    if (p.spiking) out << "," << csv_field(p.name + "_spiking_pj");
    if (p.dense) out << "," << csv_field(p.name + "_dense_pj");
  }
  for (const auto& [s, d] : pairs)
    out << "," << csv_field(cat("s_star_", s, "_vs_", d));
  out << "\n";
  for (std::size_t i = 0; i < input.layers.size(); ++i) {
    const LayerRecord& l = input.layers[i];
    const Json m = metrics_json(l.counters);
    out << csv_field(l.name) << "," << csv_field(l.kind) << "," << l.index << "," << l.in << "," << l.out
        << "," << m["tokens"] << "," << m["T"] << "," << m["zero_fraction"].get<double>();
    for (const auto& share : m["count_histogram"])
      out << "," << share.get<double>();
    out << "," << m["firing_rate"].get<double>() << "," << m["spikes_per_element"].get<double>() << ","
        << m["spikes_per_synapse"].get<double>() << "," << m["spikes"] << "," << m["sops"] << ","
        << m["effective_sops"] << "," << m["graded_sops"] << "," << m["dense_macs"] << ","
        << m["reconstruction_rel_error"].get<double>() << "," << m["output_rel_error"].get<double>();
    for (const auto& r : results) {
      const energy::Estimate& e = r.net.layers[i];
      if (e.spiking) out << "," << e.spiking->total_pj.nominal;
      if (e.dense) out << "," << e.dense->total_pj.nominal;
    }
    for (const auto& [s, d] : pairs) {
      const ProfileResult& sp = result_of(results, s);
      const ProfileResult& de = result_of(results, d);
      out << ",";
      if (!l.coded) continue;
      const energy::BreakEven b =
          energy::break_even(spikes_per_synapse(l.counters), sp.net.layers[i].spiking->total_pj,
                             sp.net.layers_fixed[i].spiking->total_pj, de.net.layers[i].dense->total_pj);
      if (b.s_nominal) out << *b.s_nominal;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace

Json report_json(const ReportInput& input) {
  return report_json(input, estimate_all(input));
}

std::string layers_csv(const ReportInput& input) {
  return layers_csv(input, estimate_all(input));
}

RenderedReport render_report(const ReportInput& input) {
  const std::vector<ProfileResult> results = estimate_all(input);  // the core mapping runs once
  return {report_json(input, results), layers_csv(input, results)};
}

void write_report(const std::filesystem::path& dir, const ReportInput& input,
                  const std::vector<std::pair<std::string, std::string>>& extra_files) {
  const RenderedReport r = render_report(input);
  std::vector<std::pair<std::string, std::string>> files = {{"report.json", r.json.dump(2) + "\n"},
                                                            {"layers.csv", r.csv}};
  if (input.raster) files.emplace_back("raster.json", raster_json(*input.raster).dump() + "\n");
  files.insert(files.end(), extra_files.begin(), extra_files.end());
  write_files_atomic(dir, files);
  if (!input.raster) {
    std::error_code ec;  // a raster left by an earlier run into the same directory is not this run's
    std::filesystem::remove(dir / "raster.json", ec);
  }
}

}  // namespace spikesim::sim
