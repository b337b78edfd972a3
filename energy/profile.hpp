#pragma once
// Hardware profiles: energy constants with units in their names, a low/nominal/high range and a source each,
// read from JSON files in data/hardware/ (see data/hardware/README.md for the schema).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace spikesim::energy {

class ProfileError : public UserError {
 public:
  using UserError::UserError;
};

struct Range {
  double low = 0.0;
  double nominal = 0.0;
  double high = 0.0;
  bool operator==(const Range&) const = default;
};

struct Constant {
  Range value;
  std::string source;  // where the number comes from
  std::string note;    // optional: how it was derived or what it leaves out
};

// One side of a profile: the constants that apply to the spiking run or to the dense (GPU-equivalent) run.
using Constants = std::map<std::string, Constant>;

// How a spike reaches the cores that hold its postsynaptic neurons.
enum class Routing {
  unicast,    // one packet per destination core, each travelling its own shortest path (Loihi)
  multicast,  // one packet per spike, copied at routers along a shortest-path tree
};
std::string_view name(Routing routing);

// A capacity or layout number of a chip (no range: it is a fact of the design), with its source.
struct Capacity {
  double value = 0.0;
  std::string source;
  std::string note;
};

// What a neuromorphic chip holds and how its cores are laid out, for mapping layers onto cores
// (energy/mapping.hpp). Cores sit in tiles; tiles form a tiles_x (E-W) x tiles_y (N-S) mesh per chip, and
// chips tile the plane the same way when one chip is not enough.
struct ChipSpec {
  std::int64_t cores_per_chip = 0;
  std::int64_t cores_per_tile = 1;
  std::int64_t tiles_x = 0;  // E-W
  std::int64_t tiles_y = 0;  // N-S
  std::int64_t neurons_per_core = 0;
  double synaptic_memory_bytes_per_core = 0.0;
  Routing routing = Routing::unicast;
  std::map<std::string, Capacity> entries;  // every number above with its source, for reports
};

// One measured operating point of a dense (GPU) run: the board's energy per MAC and per weight byte at one
// number of tokens per call (the M of every projection GEMM), with the spread across repeats as low/high.
struct MeasuredPoint {
  double tokens_per_call = 0;  // whole number >= 1
  Range e_mac_pj;  // energy / MACs of the call (all-in: compute, weight streaming, idle unless excluded)
  Range e_weight_byte_pj;  // the same energy / weight bytes streamed (= e_mac x tokens_per_call x 8 / bits)
  double power_w = 0;      // mean board power of the median repeat (same boundary as the energies)
  double tflops = 0;       // 2 x MACs / s of the median repeat
  double weight_tb_per_s = 0;  // weight bytes / s of the median repeat; 0: not recorded
  std::int64_t repeats = 0;    // timed repeats behind low / nominal / high
  double seconds = 0;          // total timed seconds; 0: not recorded
};

// A projection the measurement ran (one GEMM of the decoder block).
struct MeasuredShape {
  std::string name;
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;
  bool bias = false;
};

// The dense side measured on real hardware (scripts/measure_gpu_energy.py): points ascending in tokens per
// call, priced by interpolation in log(tokens per call) (energy/estimate.hpp, dense_point()).
struct DenseMeasurement {
  std::vector<MeasuredPoint> points;
  bool excludes_idle = false;  // false: whole-board energy, idle included (what a data centre pays)
  std::string source;          // covers every number of the measurement (points and idle power)
  std::string gpu;
  std::string driver;
  std::string software;
  std::string dtype;
  std::string date;
  std::string command;
  std::string model_config;
  std::string log;             // raw log of every repeat
  std::string energy_counter;  // how energy was read (e.g. NVML's total-energy counter)
  std::string note;
  std::vector<MeasuredShape> shapes;
  double idle_power_w = 0;
  std::optional<double> idle_power_after_w;
  std::optional<double> power_limit_w;
  std::optional<double> weight_copies;
  std::map<std::string, double> clocks_mhz;  // read, never set, by the measurement
};

struct HardwareProfile {
  std::string name;         // short id, e.g. "loihi"
  std::string description;  // one line for reports
  std::string file;         // where it was loaded from
  bool all_in = false;  // spiking energy is one all-in figure per synaptic event; no other term may be added
  std::optional<Constants> spiking;                // applied to the event-driven counters
  std::optional<Constants> dense;                  // applied to the dense (GPU-equivalent) counters
  std::optional<DenseMeasurement> dense_measured;  // dense side priced from measured points (dense.measured)
  double weight_bits = 32;                         // stored word size of one weight (memory terms)
  double state_bits = 32;                          // word size of one membrane potential (state memory terms)
  double activation_bits = 0;                      // word size of a dense activation; 0: same as weight_bits
  std::optional<ChipSpec> chip;                    // cores, tiles, capacities: enables the core mapping
  bool skips_zero_weights = false;                 // spiking hardware charges effective SOPs only
  bool dense_weights_per_token = false;  // dense run re-reads all weights for every token (batch-1 decode)

  // Range of a constant, or nullopt when the side or the key is absent.
  [[nodiscard]] static std::optional<Range> get(const std::optional<Constants>& side, const std::string& key);
  [[nodiscard]] double dense_activation_bits() const {
    return activation_bits > 0 ? activation_bits : weight_bits;
  }
};

// Constant keys a profile may use on each side, with their meaning (used for validation and docs).
const std::map<std::string, std::string>& spiking_keys();
const std::map<std::string, std::string>& dense_keys();
// Keys of the "chip" section.
const std::map<std::string, std::string>& chip_keys();
// Keys of a measured point (dense.measured[i]) and of dense.measurement.
const std::map<std::string, std::string>& measured_point_keys();
const std::map<std::string, std::string>& measurement_keys();

// Parses and validates a profile file; ProfileError names the file and the offending key.
HardwareProfile load_profile(const std::filesystem::path& file);

// NAME resolves to <data_dir>/hardware/NAME.json; anything with a '/' or ending in .json is a path.
HardwareProfile find_profile(const std::string& name_or_file, const std::filesystem::path& data_dir);

// Profiles the CLI uses when none is given.
std::vector<std::string> default_profile_names();

// data/ directory: $SPIKESIM_DATA_DIR, else the source tree's data/ baked in at build time.
std::filesystem::path data_dir();

}  // namespace spikesim::energy
