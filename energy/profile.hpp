#pragma once
// Hardware profiles: energy constants with units in their names, a low/nominal/high range and a source each,
// read from JSON files in data/hardware/ (see data/hardware/README.md for the schema).

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace spikesim::energy {

class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Range {
  double low = 0.0;
  double nominal = 0.0;
  double high = 0.0;
};

struct Constant {
  Range value;
  std::string source;  // where the number comes from
  std::string note;    // optional: how it was derived or what it leaves out
};

// One side of a profile: the constants that apply to the spiking run or to the dense (GPU-equivalent) run.
using Constants = std::map<std::string, Constant>;

struct HardwareProfile {
  std::string name;         // short id, e.g. "loihi"
  std::string description;  // one line for reports
  std::string file;         // where it was loaded from
  bool all_in = false;  // spiking energy is one all-in figure per synaptic event; no other term may be added
  std::optional<Constants> spiking;      // applied to the event-driven counters
  std::optional<Constants> dense;        // applied to the dense (GPU-equivalent) counters
  double weight_bits = 32;               // stored word size of one weight (memory terms)
  bool skips_zero_weights = false;       // spiking hardware charges effective SOPs only
  bool dense_weights_per_token = false;  // dense run re-reads all weights for every token (batch-1 decode)

  // Range of a constant, or nullopt when the side or the key is absent.
  [[nodiscard]] static std::optional<Range> get(const std::optional<Constants>& side, const std::string& key);
};

// Constant keys a profile may use on each side, with their meaning (used for validation and docs).
const std::map<std::string, std::string>& spiking_keys();
const std::map<std::string, std::string>& dense_keys();

// Parses and validates a profile file; ProfileError names the file and the offending key.
HardwareProfile load_profile(const std::filesystem::path& file);

// NAME resolves to <data_dir>/hardware/NAME.json; anything with a '/' or ending in .json is a path.
HardwareProfile find_profile(const std::string& name_or_file, const std::filesystem::path& data_dir);

// Profiles the CLI uses when none is given.
std::vector<std::string> default_profile_names();

// data/ directory: $SPIKESIM_DATA_DIR, else the source tree's data/ baked in at build time.
std::filesystem::path data_dir();

}  // namespace spikesim::energy
