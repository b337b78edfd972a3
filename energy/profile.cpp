#include "energy/profile.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/json.hpp"
#include "base/text.hpp"

namespace spikesim::energy {

namespace {

using nlohmann::json;

// Any number of a profile (pJ, mW, ns, bytes per core, counts) beyond this is a typo or an attack, not a
// chip: 1e12 pJ is a joule per operation. Energies multiply counters of up to ~1e18, so the product stays
// finite.
constexpr double max_profile_value = 1e12;

// A profile number: finite, 0 <= v <= max_profile_value; ProfileError naming `at` otherwise.
double profile_number(const json& v, const std::string& at) {
  if (!v.is_number()) throw ProfileError(cat(at, ": not a number (found ", v.dump(), ")"));
  const auto x = v.get<double>();
  if (!std::isfinite(x) || x < 0.0 || x > max_profile_value) {
    throw ProfileError(cat(at, ": ", v.dump(), " is outside [0, ", max_profile_value,
                           "] (a finite, non-negative number in the key's unit)"));
  }
  return x;
}

std::string optional_string(const json& entry, const char* key, const std::string& at) {
  if (!entry.contains(key)) return {};
  if (!entry[key].is_string())
    throw ProfileError(cat(at, ".", key, ": expected a string, found ", entry[key].dump()));
  return entry[key].get<std::string>();
}

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
    c.value.nominal = profile_number(entry["nominal"], at + ".nominal");
    c.value.low = entry.contains("low") ? profile_number(entry["low"], at + ".low") : c.value.nominal;
    c.value.high = entry.contains("high") ? profile_number(entry["high"], at + ".high") : c.value.nominal;
    if (!(c.value.low >= 0.0 && c.value.low <= c.value.nominal && c.value.nominal <= c.value.high)) {
      throw ProfileError(cat(at, ": need 0 <= low <= nominal <= high, found ", c.value.low, " / ",
                             c.value.nominal, " / ", c.value.high));
    }
    c.source = entry["source"].get<std::string>();
    c.note = optional_string(entry, "note", at);
    out.emplace(key, std::move(c));
  }
  return out;
}

std::string key_list(const std::map<std::string, std::string>& keys) {
  std::string valid;
  for (const auto& [k, _] : keys)
    valid += (valid.empty() ? "" : ", ") + k;
  return valid;
}

ChipSpec parse_chip(const json& chip, const std::string& where) {
  if (!chip.is_object()) throw ProfileError(cat(where, ": expected an object"));
  ChipSpec spec;
  for (const auto& [key, entry] : chip.items()) {
    if (!chip_keys().contains(key)) {
      throw ProfileError(cat(where, ": unknown key '", key, "' (valid keys: ", key_list(chip_keys()), ")"));
    }
    const std::string at = cat(where, ".", key);
    if (key == "routing") {
      if (!entry.is_string() || (entry != "unicast" && entry != "multicast"))
        throw ProfileError(cat(at, ": expected \"unicast\" or \"multicast\""));
      spec.routing = entry == "unicast" ? Routing::unicast : Routing::multicast;
      continue;
    }
    if (!entry.is_object()) throw ProfileError(cat(at, ": expected {\"value\": ..., \"source\": ...}"));
    for (const auto& [field, _] : entry.items()) {
      if (field != "value" && field != "source" && field != "note") {
        throw ProfileError(cat(at, ": unknown field '", field,
                               "' (valid: value, source, note; capacities take no low/high range)"));
      }
    }
    if (!entry.contains("value") || !entry["value"].is_number() || !(entry["value"].get<double>() > 0.0))
      throw ProfileError(cat(at, ": missing positive numeric 'value'"));
    (void)profile_number(entry["value"], at + ".value");
    if (!entry.contains("source") || !entry["source"].is_string() ||
        entry["source"].get<std::string>().empty()) {
      throw ProfileError(cat(at, ": missing 'source' (every number needs one)"));
    }
    Capacity c{entry["value"].get<double>(), entry["source"].get<std::string>(),
               optional_string(entry, "note", at)};
    if (key != "synaptic_memory_bytes_per_core" && c.value != std::floor(c.value))
      throw ProfileError(cat(at, ": expected a whole number, found ", c.value));
    spec.entries.emplace(key, std::move(c));
  }
  for (const auto& [key, _] : chip_keys()) {
    if (key != "routing" && key != "cores_per_tile" && !spec.entries.contains(key))
      throw ProfileError(cat(where, ": missing '", key, "'"));
  }
  const auto whole = [&](const std::string& key) {
    return static_cast<std::int64_t>(spec.entries.at(key).value);
  };
  spec.cores_per_chip = whole("cores_per_chip");
  spec.cores_per_tile = spec.entries.contains("cores_per_tile") ? whole("cores_per_tile") : 1;
  spec.tiles_x = whole("tiles_x");
  spec.tiles_y = whole("tiles_y");
  spec.neurons_per_core = whole("neurons_per_core");
  spec.synaptic_memory_bytes_per_core = spec.entries.at("synaptic_memory_bytes_per_core").value;
  if (spec.cores_per_tile * spec.tiles_x * spec.tiles_y != spec.cores_per_chip) {
    throw ProfileError(cat(
        where, ": cores_per_tile x tiles_x x tiles_y = ", spec.cores_per_tile * spec.tiles_x * spec.tiles_y,
        " but cores_per_chip = ", spec.cores_per_chip));
  }
  return spec;
}

void require_pair(const std::optional<Constants>& side, const std::string& where, const char* a,
                  const char* b) {
  if (side && side->contains(a) != side->contains(b))
    throw ProfileError(cat(where, ".", a, " and ", b, " go together (one is missing)"));
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
      {"e_hop_ew_pj", "energy per east-west router hop (with e_hop_ns_pj, instead of e_hop_pj), pJ"},
      {"e_hop_ns_pj", "energy per north-south router hop (with e_hop_ew_pj, instead of e_hop_pj), pJ"},
      {"e_chip_hop_pj", "extra energy of a hop that crosses a chip boundary (chip-to-chip link), pJ"},
      {"e_sram_base_pj",
       "SRAM access energy model, intercept: E(access) = e_sram_base_pj + e_sram_per_bit_pj x memory bits, "
       "pJ"},
      {"e_sram_per_bit_pj", "SRAM access energy model, slope per bit of memory capacity, pJ/bit"},
      {"e_dram_access_pj", "energy of one DRAM access: the cap of the SRAM model for memories too large, pJ"},
      {"p_static_mw", "static (leakage) power per chip, mW"},
      {"t_step_ns", "wall time of one virtual time step (synchronisation floor), ns"},
      {"t_synop_ns", "time a core spends on one synaptic op, ns"},
      {"t_neuron_update_active_ns", "time a core spends on one active neuron update, ns"},
      {"t_neuron_update_inactive_ns", "time a core spends on one idle neuron update, ns"},
  };
  return keys;
}

const std::map<std::string, std::string>& dense_keys() {
  static const std::map<std::string, std::string> keys = {
      {"e_mac_pj", "energy per dense multiply-accumulate, pJ"},
      {"e_add_pj", "energy of one addition (bias), pJ"},
      {"e_weight_byte_pj", "energy per byte of weights streamed from memory, pJ"},
      {"e_sram_base_pj",
       "SRAM access energy model, intercept: E(access) = e_sram_base_pj + e_sram_per_bit_pj x memory bits, "
       "pJ"},
      {"e_sram_per_bit_pj", "SRAM access energy model, slope per bit of memory capacity, pJ/bit"},
      {"e_dram_access_pj", "energy of one DRAM access: the cap of the SRAM model for memories too large, pJ"},
  };
  return keys;
}

const std::map<std::string, std::string>& chip_keys() {
  static const std::map<std::string, std::string> keys = {
      {"cores_per_chip", "neuromorphic cores per chip"},
      {"cores_per_tile", "cores sharing one router (a spike between them travels no hop)"},
      {"tiles_x", "tiles per chip, east-west"},
      {"tiles_y", "tiles per chip, north-south"},
      {"neurons_per_core", "neurons (compartments) one core holds"},
      {"synaptic_memory_bytes_per_core", "synaptic memory of one core, bytes"},
      {"routing", "\"unicast\" (one packet per destination core) or \"multicast\" (one packet, tree)"},
  };
  return keys;
}

std::string_view name(Routing routing) {
  return routing == Routing::unicast ? "unicast" : "multicast";
}

HardwareProfile load_profile(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file))
    throw ProfileError(cat(file.string(), ": cannot open hardware profile"));
  const json doc = parse_json_file<ProfileError>(file);
  const std::string where = file.string();
  if (!doc.is_object()) throw ProfileError(cat(where, ": expected a JSON object"));
  for (const auto& [key, _] : doc.items()) {
    static const std::vector<std::string> top = {"name",
                                                 "description",
                                                 "all_in",
                                                 "spiking",
                                                 "dense",
                                                 "chip",
                                                 "weight_bits",
                                                 "state_bits",
                                                 "activation_bits",
                                                 "skips_zero_weights",
                                                 "dense_weights_per_token",
                                                 "notes"};
    if (std::find(top.begin(), top.end(), key) == top.end()) {
      std::string valid;
      for (const auto& k : top)
        valid += (valid.empty() ? "" : ", ") + k;
      throw ProfileError(cat(where, ": unknown key '", key, "' (valid: ", valid, ")"));
    }
  }
  HardwareProfile p;
  p.file = where;
  if (!doc.contains("name") || !doc["name"].is_string())
    throw ProfileError(cat(where, ": missing string 'name'"));
  p.name = doc["name"].get<std::string>();
  for (const char* flag : {"all_in", "skips_zero_weights", "dense_weights_per_token"}) {
    if (doc.contains(flag) && !doc[flag].is_boolean())
      throw ProfileError(cat(where, ": ", flag, ": expected true or false"));
  }
  for (const char* bits : {"weight_bits", "state_bits", "activation_bits"}) {
    if (doc.contains(bits) &&
        (!doc[bits].is_number() || !(doc[bits].get<double>() > 0.0) || !(doc[bits].get<double>() <= 4096.0)))
      throw ProfileError(
          cat(where, ": ", bits, ": expected a number > 0 and <= 4096, found ", doc[bits].dump()));
  }
  if (doc.contains("description") && !doc["description"].is_string())
    throw ProfileError(cat(where, ": description: expected a string"));
  if (doc.contains("notes") && !doc["notes"].is_string())
    throw ProfileError(cat(where, ": notes: expected a string"));
  if (p.name.empty()) throw ProfileError(cat(where, ": name: must not be empty"));
  p.description = doc.value("description", std::string{});
  p.all_in = doc.value("all_in", false);
  p.weight_bits = doc.value("weight_bits", 32.0);
  p.state_bits = doc.value("state_bits", 32.0);
  p.activation_bits = doc.value("activation_bits", 0.0);
  p.skips_zero_weights = doc.value("skips_zero_weights", false);
  p.dense_weights_per_token = doc.value("dense_weights_per_token", false);
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
  require_pair(p.spiking, where + ": spiking", "e_sram_base_pj", "e_sram_per_bit_pj");
  require_pair(p.dense, where + ": dense", "e_sram_base_pj", "e_sram_per_bit_pj");
  require_pair(p.spiking, where + ": spiking", "e_hop_ew_pj", "e_hop_ns_pj");
  if (p.spiking && p.spiking->contains("e_hop_pj") && p.spiking->contains("e_hop_ew_pj")) {
    throw ProfileError(
        cat(where, ": spiking.e_hop_pj and spiking.e_hop_ew_pj/e_hop_ns_pj both set: give one hop model"));
  }
  for (const auto* side : {&p.spiking, &p.dense}) {
    if (*side && (*side)->contains("e_dram_access_pj") && !(*side)->contains("e_sram_base_pj")) {
      throw ProfileError(
          cat(where, ": ", side == &p.spiking ? "spiking" : "dense",
              ".e_dram_access_pj caps the SRAM model: it needs e_sram_base_pj and e_sram_per_bit_pj"));
    }
  }
  if (doc.contains("chip")) {
    if (!p.spiking) throw ProfileError(cat(where, ": chip: a chip layout needs a 'spiking' section"));
    p.chip = parse_chip(doc["chip"], where + ": chip");
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
  return {"horowitz45-fp32", "horowitz45-fp16", "horowitz45-int8",   "horowitz45-memory-int8",
          "loihi",           "truenorth",       "h100-bf16-compute", "h100-bf16-memory"};
}

std::filesystem::path data_dir() {
  // Read once at start-up by the CLI; nothing sets the environment concurrently.
  const char* env = std::getenv("SPIKESIM_DATA_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (env != nullptr && *env != '\0') return env;
  return SPIKESIM_DATA_DIR;
}

}  // namespace spikesim::energy
