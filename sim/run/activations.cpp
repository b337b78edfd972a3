#include "sim/run/activations.hpp"

#include <algorithm>

#include "models/hdf5_file.hpp"

namespace spikesim::sim {

SiteObserver ActivationRecorder::observer() {
  return [this](const Step& step, std::span<const float> x, std::int64_t rows, std::int64_t first_row) {
    const std::lock_guard<std::mutex> lock(mutex_);
    auto [it, added] = sites_.try_emplace(step.name);
    Site& site = it->second;
    if (added) {
      site.index = next_index_++;
      site.in = rows > 0 ? static_cast<std::int64_t>(x.size()) / rows : 0;
    }
    site.rows = std::max(site.rows, first_row + rows);
    site.x.resize(static_cast<std::size_t>(site.rows * site.in));
    std::copy(x.begin(), x.end(), site.x.begin() + static_cast<std::ptrdiff_t>(first_row * site.in));
  };
}

void ActivationRecorder::write(const std::filesystem::path& file, const std::string& source) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  models::H5Writer h5(file);
  h5.create_group("/layers");
  h5.write_attribute("/", "spikesim_activations_of", source);
  for (const auto& [name, site] : sites_) {
    const std::string group = "/layers/" + name;
    h5.create_group(group);
    h5.write_attribute(group, "index", site.index);
    h5.write(group + "/input", site.x, {site.rows, site.in});
  }
  h5.commit();
}

}  // namespace spikesim::sim
