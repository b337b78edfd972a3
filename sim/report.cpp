#include "sim/report.hpp"

#include <cmath>
#include <sstream>

#include "energy/estimate.hpp"
#include "sim/output.hpp"

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

Json breakdown_json(const energy::Breakdown& b) {
  Json j = Json::object();
  for (const energy::Term t : energy::all_terms)
    j[std::string(energy::name(t))] = range_json(b[t]);
  j["total"] = range_json(b.total_pj);
  j["uncharged"] = b.uncharged;
  return j;
}

Json layer_json(const LayerRecord& layer, const std::vector<energy::HardwareProfile>& profiles) {
  Json j;
  j["name"] = layer.name;
  j["kind"] = layer.kind;
  j["index"] = layer.index;
  j["coded"] = layer.coded;
  j["in_features"] = layer.in;
  j["out_features"] = layer.out;
  j["weights"] = layer.weights;
  j.update(metrics_json(layer.counters));
  j["energy_pj"] = energy_json(layer.counters, profiles);
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
  for (const auto& p : profiles) {
    const energy::Estimate e = energy::estimate(c, p);
    Json pj = Json::object();
    if (e.spiking) pj["spiking"] = breakdown_json(*e.spiking);
    if (e.dense) pj["dense"] = breakdown_json(*e.dense);
    j[p.name] = pj;
  }
  return j;
}

SiteCounters total_counters(const std::vector<LayerRecord>& layers) {
  SiteCounters total;
  for (const auto& l : layers)
    total += l.counters;
  return total;
}

Json report_json(const ReportInput& input) {
  Json j;
  j["spikesim_report"] = 1;
  j["run"] = input.run;
  j["definitions"] = {
      {"zero_fraction", "share of integer spike counts equal to 0 (SpikingBrain's sparsity)"},
      {"count_histogram", "share of counts with |s| = 0, 1, 2, >= 3"},
      {"firing_rate", "spikes / (elements x T)"},
      {"spikes_per_element", "spikes / elements"},
      {"sops", "sum over spikes of fan-out (dense synapses reached)"},
      {"effective_sops", "sum over spikes of non-zero synapses reached"},
      {"graded_sops", "sops from bitwise spikes of weight 2^b, b >= 1: an accumulate plus a shift"},
      {"dense_macs", "multiply-accumulates of the same layer run densely (GPU-equivalent)"},
      {"uncoded_macs", "multiply-accumulates the spiking model still runs densely (ops not spike-coded)"},
      {"elementwise_ops",
       "element-wise operations of non-synaptic ops (activations, pooling, element-wise "
       "arithmetic, softmax), the same in the dense and the spiking run; charged as adds"},
      {"reconstruction_rel_error", "||x - x_hat|| / ||x|| with x_hat = count x V_th"},
      {"output_rel_error", "||y_spiking - y_dense|| / ||y_dense|| on the same input"},
      {"energy_pj", "per hardware profile, per run (spiking / dense) and term, low / nominal / high in pJ"},
  };
  j["hardware"] = Json::object();
  for (const auto& p : input.profiles)
    j["hardware"][p.name] = {{"description", p.description}, {"file", p.file}};
  j["layers"] = Json::array();
  for (const auto& l : input.layers)
    j["layers"].push_back(layer_json(l, input.profiles));
  const SiteCounters total = total_counters(input.layers);
  Json totals = metrics_json(total);
  totals["layers"] = input.layers.size();
  totals["energy_pj"] = energy_json(total, input.profiles);
  j["totals"] = totals;
  for (const auto& [key, value] : input.extra.items())
    j[key] = value;
  return j;
}

std::string layers_csv(const ReportInput& input) {
  std::ostringstream out;
  out.precision(9);
  out << "name,kind,index,in_features,out_features,tokens,T,zero_fraction,count_0,count_1,count_2,count_"
         "3plus,"
         "firing_rate,spikes_per_element,spikes,sops,effective_sops,graded_sops,dense_macs,"
         "reconstruction_rel_error,output_rel_error";
  for (const auto& p : input.profiles) {
    if (p.spiking) out << "," << p.name << "_spiking_pj";
    if (p.dense) out << "," << p.name << "_dense_pj";
  }
  out << "\n";
  for (const auto& l : input.layers) {
    const Json m = metrics_json(l.counters);
    out << l.name << "," << l.kind << "," << l.index << "," << l.in << "," << l.out << "," << m["tokens"]
        << "," << m["T"] << "," << m["zero_fraction"].get<double>();
    for (const auto& share : m["count_histogram"])
      out << "," << share.get<double>();
    out << "," << m["firing_rate"].get<double>() << "," << m["spikes_per_element"].get<double>() << ","
        << m["spikes"] << "," << m["sops"] << "," << m["effective_sops"] << "," << m["graded_sops"] << ","
        << m["dense_macs"] << "," << m["reconstruction_rel_error"].get<double>() << ","
        << m["output_rel_error"].get<double>();
    for (const auto& p : input.profiles) {
      const energy::Estimate e = energy::estimate(l.counters, p);
      if (e.spiking) out << "," << e.spiking->total_pj.nominal;
      if (e.dense) out << "," << e.dense->total_pj.nominal;
    }
    out << "\n";
  }
  return out.str();
}

void write_report(const std::filesystem::path& dir, const ReportInput& input) {
  write_files_atomic(dir,
                     {{"report.json", report_json(input).dump(2) + "\n"}, {"layers.csv", layers_csv(input)}});
}

}  // namespace spikesim::sim
