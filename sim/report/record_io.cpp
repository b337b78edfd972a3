#include "sim/report/record_io.hpp"

#include <utility>

#include "base/files.hpp"
#include "base/text.hpp"

namespace spikesim::sim {

namespace {

// Every integer counter of SiteCounters, by name (the fidelity sums are doubles, listed apart).
template <class Counters, class F>
void for_each_counter(Counters& c, F&& f) {
  f("calls", c.calls);
  f("tokens", c.tokens);
  f("elements", c.elements);
  f("element_steps", c.element_steps);
  f("steps_sum", c.steps_sum);
  f("token_steps", c.token_steps);
  f("abs_count_sum", c.abs_count_sum);
  f("saturated", c.saturated);
  f("spikes", c.spikes);
  f("spikes_graded", c.spikes_graded);
  f("sops", c.sops);
  f("effective_sops", c.effective_sops);
  f("graded_sops", c.graded_sops);
  f("graded_effective_sops", c.graded_effective_sops);
  f("weight_words_read", c.weight_words_read);
  f("neuron_updates", c.neuron_updates);
  f("post_neuron_updates", c.post_neuron_updates);
  f("post_neuron_updates_active", c.post_neuron_updates_active);
  f("rescale_muls", c.rescale_muls);
  f("zero_point_macs", c.zero_point_macs);
  f("bias_adds", c.bias_adds);
  f("uncoded_macs", c.uncoded_macs);
  f("dense_macs", c.dense_macs);
  f("dense_weight_words", c.dense_weight_words);
}

template <class Counters, class F>
void for_each_sum(Counters& c, F&& f) {
  f("input_sq_norm", c.input_sq_norm);
  f("reconstruction_sq_err", c.reconstruction_sq_err);
  f("output_sq_norm", c.output_sq_norm);
  f("output_sq_err", c.output_sq_err);
}

const Json& field(const Json& j, const char* key, const std::string& what) {
  if (!j.is_object() || !j.contains(key)) throw OutputError(cat(what, ": missing field '", key, "'"));
  return j.at(key);
}

template <class T>
T typed(const Json& j, const char* key, const std::string& what) {
  const Json& v = field(j, key, what);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw OutputError(cat(what, ": field '", key, "' is not a string"));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw OutputError(cat(what, ": field '", key, "' is not a boolean"));
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw OutputError(cat(what, ": field '", key, "' is not a number"));
  } else {
    const bool fits = v.is_number_unsigned()  ? std::in_range<T>(v.get<std::uint64_t>())
                      : v.is_number_integer() ? std::in_range<T>(v.get<std::int64_t>())
                                              : false;
    if (!fits) {
      throw OutputError(cat(what, ": field '", key, "' is not an integer in the range of its counter (found ",
                            v.dump(), ")"));
    }
  }
  return v.get<T>();
}

}  // namespace

Json counters_json(const SiteCounters& c) {
  Json j = Json::object();
  for_each_counter(c, [&](const char* key, std::uint64_t v) { j[key] = v; });
  j["steps_max"] = c.steps_max;
  j["count_histogram"] = c.count_histogram;
  for_each_sum(c, [&](const char* key, double v) { j[key] = v; });
  return j;
}

SiteCounters counters_from_json(const Json& j, const std::string& what) {
  SiteCounters c;
  for_each_counter(c, [&](const char* key, std::uint64_t& v) { v = typed<std::uint64_t>(j, key, what); });
  c.steps_max = typed<std::int32_t>(j, "steps_max", what);
  const Json& h = field(j, "count_histogram", what);
  if (!h.is_array() || h.size() != c.count_histogram.size())
    throw OutputError(cat(what, ": field 'count_histogram' must hold 4 integers"));
  for (std::size_t i = 0; i < c.count_histogram.size(); ++i) {
    if (!h[i].is_number_unsigned())
      throw OutputError(cat(what, ": field 'count_histogram' must hold 4 integers >= 0, found ", h.dump()));
    c.count_histogram[i] = h[i].get<std::uint64_t>();
  }
  for_each_sum(c, [&](const char* key, double& v) { v = typed<double>(j, key, what); });
  return c;
}

Json records_json(const std::vector<LayerRecord>& layers) {
  Json out = Json::array();
  for (const LayerRecord& l : layers) {
    out.push_back(Json{{"name", l.name},
                       {"kind", l.kind},
                       {"index", l.index},
                       {"in", l.in},
                       {"out", l.out},
                       {"weights", l.weights},
                       {"coded", l.coded},
                       {"counters", counters_json(l.counters)},
                       {"spikes_per_input", l.spikes_per_input}});
  }
  return out;
}

std::vector<LayerRecord> records_from_json(const Json& j, const std::string& what) {
  if (!j.is_array()) throw OutputError(cat(what, ": expected an array of layer records"));
  std::vector<LayerRecord> out;
  for (const Json& e : j) {
    LayerRecord l;
    l.name = typed<std::string>(e, "name", what);
    const std::string at = cat(what, ": layer '", l.name, "'");
    l.kind = typed<std::string>(e, "kind", at);
    l.index = typed<std::int64_t>(e, "index", at);
    l.in = typed<std::int64_t>(e, "in", at);
    l.out = typed<std::int64_t>(e, "out", at);
    l.weights = typed<std::int64_t>(e, "weights", at);
    l.coded = typed<bool>(e, "coded", at);
    l.counters = counters_from_json(field(e, "counters", at), at);
    const Json& spi = field(e, "spikes_per_input", at);
    if (!spi.is_array()) throw OutputError(cat(at, ": field 'spikes_per_input' is not an array"));
    l.spikes_per_input = spi.get<std::vector<std::uint64_t>>();
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace spikesim::sim
