#include "sim/report/record_io.hpp"

#include <algorithm>
#include <utility>

#include "base/files.hpp"
#include "base/text.hpp"

namespace spikesim::sim {

namespace {

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
  for_each_counter_field([&](const char* key, auto member, Merge) { j[key] = c.*member; });
  return j;
}

SiteCounters counters_from_json(const Json& j, const std::string& what) {
  SiteCounters c;
  for_each_counter_field([&](const char* key, auto member, Merge) {
    auto& v = c.*member;
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_arithmetic_v<T>) {
      v = typed<T>(j, key, what);
    } else {
      const Json& h = field(j, key, what);
      if (!h.is_array() || h.size() != v.size())
        throw OutputError(cat(what, ": field '", key, "' must hold ", v.size(), " integers"));
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!h[i].is_number_unsigned())
          throw OutputError(
              cat(what, ": field '", key, "' must hold ", v.size(), " integers >= 0, found ", h.dump()));
        v[i] = h[i].get<typename T::value_type>();
      }
    }
  });
  return c;
}

Json records_json(const std::vector<LayerRecord>& layers) {
  Json out = Json::array();
  for (const LayerRecord& l : layers) {
    Json r{{"name", l.name},
           {"kind", l.kind},
           {"index", l.index},
           {"in", l.in},
           {"out", l.out},
           {"weights", l.weights},
           {"coded", l.coded},
           {"counters", counters_json(l.counters)},
           {"spikes_per_input", l.spikes_per_input}};
    if (!l.expert_tokens.empty()) r["expert_tokens"] = l.expert_tokens;
    out.push_back(std::move(r));
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
    if (e.contains("expert_tokens")) {
      const Json& load = e.at("expert_tokens");
      if (!load.is_array() ||
          !std::all_of(load.begin(), load.end(), [](const Json& v) { return v.is_number_unsigned(); }))
        throw OutputError(cat(at, ": field 'expert_tokens' must be an array of integers >= 0"));
      l.expert_tokens = load.get<std::vector<std::uint64_t>>();
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace spikesim::sim
