#include "energy/profile.hpp"

#include <algorithm>
#include <array>
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

void reject_unknown(const json& object, const std::string& where,
                    const std::map<std::string, std::string>& allowed) {
  for (const auto& [key, _] : object.items()) {
    if (!allowed.contains(key))
      throw ProfileError(cat(where, ": unknown key '", key, "' (valid keys: ", key_list(allowed), ")"));
  }
}

// A finite number in [lo, hi] (or (lo, hi] when `lo_open`), else an error naming the key, expected vs found.
double number_in(const json& object, const std::string& key, const std::string& where, double lo, double hi,
                 bool lo_open) {
  const std::string at = cat(where, ".", key);
  if (!object.contains(key)) throw ProfileError(cat(at, ": missing (a number is required)"));
  const json& v = object.at(key);
  if (!v.is_number()) throw ProfileError(cat(at, ": expected a number, found ", v.dump()));
  const auto x = v.get<double>();
  if (!std::isfinite(x) || (lo_open ? !(x > lo) : !(x >= lo)) || !(x <= hi)) {
    throw ProfileError(
        cat(at, ": expected a finite number in ", lo_open ? "(" : "[", lo, ", ", hi, "], found ", v.dump()));
  }
  return x;
}

double whole_in(const json& object, const std::string& key, const std::string& where, double lo, double hi) {
  const double x = number_in(object, key, where, lo, hi, false);
  if (x != std::floor(x)) throw ProfileError(cat(where, ".", key, ": expected a whole number, found ", x));
  return x;
}

std::string text_of(const json& object, const std::string& key, const std::string& where, bool required) {
  if (!object.contains(key)) {
    if (required) throw ProfileError(cat(where, ".", key, ": missing (a non-empty string is required)"));
    return {};
  }
  const json& v = object.at(key);
  if (!v.is_string() || (required && v.get<std::string>().empty()))
    throw ProfileError(cat(where, ".", key, ": expected a non-empty string, found ", v.dump()));
  return v.get<std::string>();
}

// {"low", "nominal", "high"} of a measured point: finite, 0 < low <= nominal <= high <= hi.
Range measured_range(const json& point, const std::string& key, const std::string& where, double hi) {
  const std::string at = cat(where, ".", key);
  if (!point.contains(key) || !point.at(key).is_object())
    throw ProfileError(cat(at, ": expected {\"low\": ..., \"nominal\": ..., \"high\": ...}"));
  const json& r = point.at(key);
  static const std::map<std::string, std::string> fields = {
      {"low", "least of the repeats"}, {"nominal", "the median repeat"}, {"high", "most of the repeats"}};
  reject_unknown(r, at, fields);
  Range out{number_in(r, "low", at, 0.0, hi, true), number_in(r, "nominal", at, 0.0, hi, true),
            number_in(r, "high", at, 0.0, hi, true)};
  if (!(out.low <= out.nominal && out.nominal <= out.high)) {
    throw ProfileError(
        cat(at, ": need low <= nominal <= high, found ", out.low, " / ", out.nominal, " / ", out.high));
  }
  return out;
}

bool close_to(double found, double expected, double rel) {
  return std::abs(found - expected) <= rel * std::abs(expected);
}

MeasuredPoint parse_point(const json& j, const std::string& at, double weight_bits, bool excludes_idle) {
  if (!j.is_object()) throw ProfileError(cat(at, ": expected an object"));
  reject_unknown(j, at, measured_point_keys());
  MeasuredPoint p;
  p.tokens_per_call = whole_in(j, "tokens_per_call", at, 1.0, 1e9);
  p.e_mac_pj = measured_range(j, "e_mac_pj", at, 1e5);
  p.e_weight_byte_pj = measured_range(j, "e_weight_byte_pj", at, 1e6);
  p.power_w = number_in(j, "power_w", at, 0.0, 1e4, true);
  p.tflops = number_in(j, "tflops", at, 0.0, 1e5, true);
  if (j.contains("weight_tb_per_s")) p.weight_tb_per_s = number_in(j, "weight_tb_per_s", at, 0.0, 1e3, true);
  p.repeats = static_cast<std::int64_t>(whole_in(j, "repeats", at, 1.0, 1e6));
  if (j.contains("seconds")) p.seconds = number_in(j, "seconds", at, 0.0, 1e7, true);
  // Both energies divide the same joules: per weight byte = per MAC x MACs per weight byte.
  const double bytes_per_mac = weight_bits / 8.0 / p.tokens_per_call;
  const std::array<std::pair<const char*, double>, 3> bounds = {
      {{"low", p.e_mac_pj.low}, {"nominal", p.e_mac_pj.nominal}, {"high", p.e_mac_pj.high}}};
  const std::array<double, 3> per_byte = {p.e_weight_byte_pj.low, p.e_weight_byte_pj.nominal,
                                          p.e_weight_byte_pj.high};
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const double expected = bounds[i].second / bytes_per_mac;
    if (!close_to(per_byte[i], expected, 0.01)) {
      throw ProfileError(cat(at, ".e_weight_byte_pj.", bounds[i].first,
                             ": expected e_mac_pj x tokens_per_call x 8 / ", weight_bits, " = ", expected,
                             " (within 1 %), found ", per_byte[i]));
    }
  }
  // Power = energy per MAC x MACs per second (pJ x TFLOP/s / 2 = W), for the median repeat.
  if (const double expected = p.e_mac_pj.nominal * p.tflops / 2.0; !close_to(p.power_w, expected, 0.02)) {
    throw ProfileError(cat(at, ".power_w: expected e_mac_pj.nominal x tflops / 2 = ", expected,
                           excludes_idle ? " (net of idle)" : "", " (within 2 %), found ", p.power_w));
  }
  return p;
}

DenseMeasurement parse_measurement(const json& dense, const std::string& where, double weight_bits) {
  DenseMeasurement m;
  if (dense.contains("excludes_idle")) {
    if (!dense.at("excludes_idle").is_boolean())
      throw ProfileError(cat(where, ".excludes_idle: expected true or false"));
    m.excludes_idle = dense.at("excludes_idle").get<bool>();
  }
  const json& points = dense.at("measured");
  if (!points.is_array() || points.empty())
    throw ProfileError(cat(where, ".measured: expected a non-empty list of measured points"));
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::string at = cat(where, ".measured[", i, "]");
    m.points.push_back(parse_point(points[i], at, weight_bits, m.excludes_idle));
    if (i > 0 && !(m.points[i].tokens_per_call > m.points[i - 1].tokens_per_call)) {
      throw ProfileError(cat(at, ".tokens_per_call: expected more than the previous point's ",
                             m.points[i - 1].tokens_per_call, " (points ascending), found ",
                             m.points[i].tokens_per_call));
    }
  }
  const std::string at = where + ".measurement";
  if (!dense.contains("measurement") || !dense.at("measurement").is_object())
    throw ProfileError(
        cat(at, ": missing (measured points need the measurement's source, GPU, date, command)"));
  const json& j = dense.at("measurement");
  reject_unknown(j, at, measurement_keys());
  m.source = text_of(j, "source", at, true);
  m.gpu = text_of(j, "gpu", at, true);
  m.driver = text_of(j, "driver", at, true);
  m.dtype = text_of(j, "dtype", at, true);
  m.date = text_of(j, "date", at, true);
  m.command = text_of(j, "command", at, true);
  m.software = text_of(j, "software", at, false);
  m.model_config = text_of(j, "model_config", at, false);
  m.log = text_of(j, "log", at, false);
  m.energy_counter = text_of(j, "energy_counter", at, false);
  m.note = text_of(j, "note", at, false);
  m.idle_power_w = number_in(j, "idle_power_w", at, 0.0, 1e4, false);
  if (j.contains("idle_power_after_w"))
    m.idle_power_after_w = number_in(j, "idle_power_after_w", at, 0.0, 1e4, false);
  if (j.contains("power_limit_w")) m.power_limit_w = number_in(j, "power_limit_w", at, 0.0, 1e4, true);
  if (j.contains("weight_copies")) m.weight_copies = whole_in(j, "weight_copies", at, 1.0, 1e6);
  if (j.contains("clocks_mhz")) {
    const json& clocks = j.at("clocks_mhz");
    if (!clocks.is_object()) throw ProfileError(cat(at, ".clocks_mhz: expected an object of clock -> MHz"));
    for (const auto& [key, _] : clocks.items())
      m.clocks_mhz[key] = number_in(clocks, key, at + ".clocks_mhz", 0.0, 1e5, true);
  }
  if (!j.contains("shapes") || !j.at("shapes").is_array() || j.at("shapes").empty())
    throw ProfileError(
        cat(at, ".shapes: expected a non-empty list of {name, in_features, out_features, bias}"));
  static const std::map<std::string, std::string> shape_keys = {
      {"name", "projection"}, {"in_features", "GEMM K"}, {"out_features", "GEMM N"}, {"bias", "bias added"}};
  for (std::size_t i = 0; i < j.at("shapes").size(); ++i) {
    const json& s = j.at("shapes")[i];
    const std::string sat = cat(at, ".shapes[", i, "]");
    if (!s.is_object()) throw ProfileError(cat(sat, ": expected an object"));
    reject_unknown(s, sat, shape_keys);
    MeasuredShape shape;
    shape.name = text_of(s, "name", sat, true);
    shape.in_features = static_cast<std::int64_t>(whole_in(s, "in_features", sat, 1.0, 1e9));
    shape.out_features = static_cast<std::int64_t>(whole_in(s, "out_features", sat, 1.0, 1e9));
    if (s.contains("bias")) {
      if (!s.at("bias").is_boolean()) throw ProfileError(cat(sat, ".bias: expected true or false"));
      shape.bias = s.at("bias").get<bool>();
    }
    m.shapes.push_back(std::move(shape));
  }
  return m;
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

const std::map<std::string, std::string>& measured_point_keys() {
  static const std::map<std::string, std::string> keys = {
      {"tokens_per_call", "tokens (GEMM rows) per call of the measured block, a whole number >= 1"},
      {"e_mac_pj",
       "board energy / MACs, {low, nominal, high}: spread across repeats, nominal the median, pJ"},
      {"e_weight_byte_pj", "the same energy / weight bytes streamed, {low, nominal, high}, pJ"},
      {"power_w", "mean board power of the median repeat, W"},
      {"tflops", "2 x MACs per second of the median repeat, TFLOP/s"},
      {"weight_tb_per_s", "weight bytes streamed per second of the median repeat, TB/s"},
      {"repeats", "timed repeats behind low / nominal / high"},
      {"seconds", "total timed seconds of the point"},
  };
  return keys;
}

const std::map<std::string, std::string>& measurement_keys() {
  static const std::map<std::string, std::string> keys = {
      {"source", "where the numbers come from (covers every point and the idle power), with its tag"},
      {"gpu", "the board measured"},
      {"driver", "driver version"},
      {"software", "framework and library versions"},
      {"dtype", "weight and activation type of the GEMMs"},
      {"date", "date of the measurement"},
      {"command", "the command that measured it"},
      {"model_config", "config.json the shapes come from"},
      {"shapes", "the projections of the block: [{name, in_features, out_features, bias}]"},
      {"weight_copies",
       "copies of the weights used in turn (so batch-1 calls stream from memory, not cache)"},
      {"idle_power_w", "board power with nothing running, measured before the points, W"},
      {"idle_power_after_w", "the same after the points, W"},
      {"power_limit_w", "enforced power limit (read, not set), W"},
      {"clocks_mhz", "maximum and application clocks (read, not set), MHz"},
      {"energy_counter", "how energy was read"},
      {"log", "raw log of every repeat"},
      {"note", "free text"},
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
  if (doc.contains("dense")) {
    json dense = doc["dense"];
    if (dense.is_object() &&
        (dense.contains("measured") || dense.contains("measurement") || dense.contains("excludes_idle"))) {
      if (!dense.contains("measured"))
        throw ProfileError(cat(where, ": dense: 'measurement' and 'excludes_idle' need 'measured' points"));
      p.dense_measured = parse_measurement(dense, where + ": dense", p.weight_bits);
      for (const char* key : {"measured", "measurement", "excludes_idle"})
        dense.erase(key);
      for (const auto& [key, _] : dense.items()) {
        if (key != "e_add_pj") {
          throw ProfileError(cat(where, ": dense.", key,
                                 " cannot be combined with measured points (they already price every dense "
                                 "MAC and weight byte; only e_add_pj may be added, for element-wise ops)"));
        }
      }
    }
    p.dense = parse_side(dense, where + ": dense", dense_keys());
  }
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
  if (p.dense && !p.dense_measured && !p.dense->contains("e_mac_pj") &&
      !p.dense->contains("e_weight_byte_pj")) {
    throw ProfileError(cat(where, ": dense section needs e_mac_pj, e_weight_byte_pj or measured points"));
  }
  if (p.dense_measured && p.dense_weights_per_token) {
    throw ProfileError(cat(where,
                           ": dense_weights_per_token: must be false with measured points (the point "
                           "for the run's tokens per call already holds its weight streaming)"));
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
