#include "energy/profile.hpp"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sim/text.hpp"

namespace spikesim::energy {

namespace {

using nlohmann::json;

const std::vector<std::string>& all_in_keys() {
  static const std::vector<std::string> keys = {"e_synop_all_in_pj"};
  return keys;
}

Constants parse_side(const json& side, const std::string& where,
                     const std::map<std::string, std::string>& allowed) {
  if (!side.is_object()) throw ProfileError(cat(where, ": expected an object of constants"));
  Constants out;
  for (const auto& [key, entry] : side.items()) {
    if (!allowed.contains(key)) {
      std::string valid;
      for (const auto& [k, _] : allowed)
        valid += (valid.empty() ? "" : ", ") + k;
      throw ProfileError(cat(where, ": unknown key '", key, "' (valid keys: ", valid, ")"));
    }
    const std::string at = cat(where, ".", key);
    if (!entry.is_object()) throw ProfileError(cat(at, ": expected {\"nominal\": ..., \"source\": ...}"));
    for (const auto& [field, _] : entry.items()) {
      if (field != "nominal" && field != "low" && field != "high" && field != "source" && field != "note") {
        throw ProfileError(
            cat(at, ": unknown field '", field, "' (valid: nominal, low, high, source, note)"));
      }
    }
    if (!entry.contains("nominal") || !entry["nominal"].is_number()) {
      throw ProfileError(cat(at, ": missing numeric 'nominal'"));
    }
    if (!entry.contains("source") || !entry["source"].is_string() ||
        entry["source"].get<std::string>().empty()) {
      throw ProfileError(cat(at, ": missing 'source' (every number needs one)"));
    }
    Constant c;
    c.value.nominal = entry["nominal"].get<double>();
    for (const char* bound : {"low", "high"}) {
      if (entry.contains(bound) && !entry[bound].is_number())
        throw ProfileError(cat(at, ".", bound, ": not a number"));
    }
    c.value.low = entry.value("low", c.value.nominal);
    c.value.high = entry.value("high", c.value.nominal);
    if (!(c.value.low >= 0.0 && c.value.low <= c.value.nominal && c.value.nominal <= c.value.high)) {
      throw ProfileError(cat(at, ": need 0 <= low <= nominal <= high, found ", c.value.low, " / ",
                             c.value.nominal, " / ", c.value.high));
    }
    c.source = entry["source"].get<std::string>();
    c.note = entry.value("note", std::string{});
    out.emplace(key, std::move(c));
  }
  return out;
}

}  // namespace

std::optional<Range> HardwareProfile::get(const std::optional<Constants>& side, const std::string& key) {
  if (!side) return std::nullopt;
  const auto it = side->find(key);
  if (it == side->end()) return std::nullopt;
  return it->second.value;
}

const std::map<std::string, std::string>& spiking_keys() {
  static const std::map<std::string, std::string> keys = {
      {"e_synop_pj", "energy per synaptic operation (one event reaching one synapse), pJ"},
      {"e_synop_graded_extra_pj", "extra energy of a graded synaptic op (the shift of a bitwise spike), pJ"},
      {"e_synop_all_in_pj",
       "all-in energy per synaptic event (total chip energy / events); excludes every other term, pJ"},
      {"e_neuron_update_active_pj", "energy per neuron update in a step where the neuron is active, pJ"},
      {"e_neuron_update_inactive_pj", "energy per neuron update in a step where the neuron is idle, pJ"},
      {"e_spike_pj", "energy per spike emitted and delivered within a tile/core, pJ"},
      {"e_hop_pj", "energy per router hop travelled by a spike, pJ"},
      {"e_mac_pj",
       "energy of one multiply-accumulate (dense side work of a spiking layer: rescale, zero point), pJ"},
      {"e_add_pj", "energy of one addition (bias), pJ"},
      {"e_weight_read_pj", "energy to read one stored weight word from synaptic memory, pJ"},
      {"e_state_read_pj", "energy to read one membrane potential, pJ"},
      {"e_state_write_pj", "energy to write one membrane potential, pJ"},
      {"p_static_mw", "static (leakage) power per chip, mW"},
      {"t_step_ns", "wall time of one virtual time step, ns"},
  };
  return keys;
}

const std::map<std::string, std::string>& dense_keys() {
  static const std::map<std::string, std::string> keys = {
      {"e_mac_pj", "energy per dense multiply-accumulate, pJ"},
      {"e_add_pj", "energy of one addition (bias), pJ"},
      {"e_weight_byte_pj", "energy per byte of weights streamed from memory, pJ"},
  };
  return keys;
}

HardwareProfile load_profile(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw ProfileError(cat(file.string(), ": cannot open hardware profile"));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ProfileError(cat(file.string(), ": not valid JSON (", e.what(), ")"));
  }
  const std::string where = file.string();
  if (!doc.is_object()) throw ProfileError(cat(where, ": expected a JSON object"));
  for (const auto& [key, _] : doc.items()) {
    static const std::vector<std::string> top = {"name",
                                                 "description",
                                                 "all_in",
                                                 "spiking",
                                                 "dense",
                                                 "weight_bits",
                                                 "skips_zero_weights",
                                                 "dense_weights_per_token",
                                                 "notes"};
    if (std::find(top.begin(), top.end(), key) == top.end()) {
      throw ProfileError(cat(where, ": unknown key '", key,
                             "' (valid: name, description, all_in, spiking, dense, weight_bits, "
                             "skips_zero_weights, dense_weights_per_token, notes)"));
    }
  }
  HardwareProfile p;
  p.file = where;
  if (!doc.contains("name") || !doc["name"].is_string())
    throw ProfileError(cat(where, ": missing string 'name'"));
  p.name = doc["name"].get<std::string>();
  p.description = doc.value("description", std::string{});
  p.all_in = doc.value("all_in", false);
  p.weight_bits = doc.value("weight_bits", 32.0);
  p.skips_zero_weights = doc.value("skips_zero_weights", false);
  p.dense_weights_per_token = doc.value("dense_weights_per_token", false);
  if (!(p.weight_bits > 0.0)) throw ProfileError(cat(where, ": weight_bits must be > 0"));
  if (doc.contains("spiking")) p.spiking = parse_side(doc["spiking"], where + ": spiking", spiking_keys());
  if (doc.contains("dense")) p.dense = parse_side(doc["dense"], where + ": dense", dense_keys());
  if (!p.spiking && !p.dense) throw ProfileError(cat(where, ": needs a 'spiking' or a 'dense' section"));

  const bool has_all_in = p.spiking && p.spiking->contains("e_synop_all_in_pj");
  if (p.all_in != has_all_in) {
    throw ProfileError(cat(where, ": 'all_in': true and spiking.e_synop_all_in_pj go together"));
  }
  if (p.all_in) {
    for (const auto& [key, _] : *p.spiking) {
      if (key != all_in_keys().front()) {
        throw ProfileError(
            cat(where, ": spiking.", key,
                " cannot be added to an all-in figure (e_synop_all_in_pj already includes it)"));
      }
    }
  } else if (p.spiking && !p.spiking->contains("e_synop_pj")) {
    throw ProfileError(cat(where, ": spiking section needs e_synop_pj (or all_in with e_synop_all_in_pj)"));
  }
  if (p.spiking && (p.spiking->contains("p_static_mw") != p.spiking->contains("t_step_ns"))) {
    throw ProfileError(
        cat(where, ": spiking.p_static_mw needs spiking.t_step_ns (and vice versa) to charge static energy"));
  }
  if (p.dense && !p.dense->contains("e_mac_pj") && !p.dense->contains("e_weight_byte_pj")) {
    throw ProfileError(cat(where, ": dense section needs e_mac_pj or e_weight_byte_pj"));
  }
  return p;
}

HardwareProfile find_profile(const std::string& name_or_file, const std::filesystem::path& dir) {
  const bool is_path = name_or_file.find('/') != std::string::npos ||
                       (name_or_file.size() > 5 && name_or_file.ends_with(".json"));
  if (is_path) return load_profile(name_or_file);
  const auto file = dir / "hardware" / (name_or_file + ".json");
  if (!std::filesystem::exists(file)) {
    std::string known;
    if (std::filesystem::is_directory(dir / "hardware")) {
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::directory_iterator(dir / "hardware")) {
        if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
      }
      std::sort(names.begin(), names.end());
      for (const auto& n : names)
        known += (known.empty() ? "" : ", ") + n;
    }
    throw ProfileError(
        cat("unknown hardware profile '", name_or_file, "' (no ", file.string(), "; known: ", known, ")"));
  }
  return load_profile(file);
}

std::vector<std::string> default_profile_names() {
  return {"horowitz45-fp32", "horowitz45-fp16",   "horowitz45-int8", "loihi",
          "truenorth",       "h100-bf16-compute", "h100-bf16-memory"};
}

std::filesystem::path data_dir() {
  // Read once at start-up by the CLI; nothing sets the environment concurrently.
  const char* env = std::getenv("SPIKESIM_DATA_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (env != nullptr && *env != '\0') return env;
  return SPIKESIM_DATA_DIR;
}

}  // namespace spikesim::energy
