#include "models/events_file.hpp"

#include <algorithm>

#include "base/checked.hpp"
#include "base/text.hpp"
#include "models/hdf5_file.hpp"

namespace spikesim::models {

void write_events(const std::filesystem::path& file, const std::vector<NamedEvents>& layers,
                  const std::string& source) {
  H5Writer h5(file);
  h5.write_attribute("/", "format", std::string("spikesim-events"));
  h5.write_attribute("/", "version", std::int64_t{1});
  h5.write_attribute("/", "source", source);
  if (!layers.empty())
    h5.write_attribute("/", "coding", std::string(coding::name(layers.front().events.scheme)));
  h5.create_group("/layers");
  for (const NamedEvents& l : layers) {
    const std::string g = "/layers/" + l.name;
    const coding::EventStream& e = l.events;
    h5.create_group(g);
    h5.write_attribute(g, "index", l.index);
    h5.write_attribute(g, "steps", std::int64_t{e.steps});
    h5.write_attribute(g, "rows", e.rows);
    h5.write_attribute(g, "cols", e.cols);
    h5.write_attribute(g, "coding", std::string(coding::name(e.scheme)));
    const auto n = static_cast<std::int64_t>(e.events());
    h5.write(g + "/step_offset", e.step_offset, {static_cast<std::int64_t>(e.step_offset.size())});
    h5.write(g + "/neuron", e.neuron, {n});
    h5.write(g + "/sign", e.sign, {n});
    h5.write(g + "/scale", e.scale, {e.rows});
    h5.write(g + "/zero_point", e.zero_point, {e.rows});
  }
  h5.commit();
}

std::vector<NamedEvents> read_events(const std::filesystem::path& file) {
  const H5Reader h5(file);
  const std::string& f = h5.file();
  if (!h5.has_attribute("/", "format") || h5.read_string_attribute("/", "format") != "spikesim-events") {
    throw ModelError(cat(f, ": not a spikesim event file (root attribute format != \"spikesim-events\")"));
  }
  std::vector<NamedEvents> out;
  for (const std::string& name : h5.children("/layers")) {
    const std::string g = "/layers/" + name;
    NamedEvents l;
    l.name = name;
    l.index = h5.read_int_attribute(g, "index");
    coding::EventStream& e = l.events;
    try {
      e.scheme = coding::parse_scheme(h5.read_string_attribute(g, "coding"));
    } catch (const coding::CodingError& err) {
      throw ModelError(cat(f, ": layer '", name, "': ", err.what()));
    }
    e.steps = static_cast<std::int32_t>(h5.read_int_attribute(g, "steps"));
    e.rows = h5.read_int_attribute(g, "rows");
    e.cols = h5.read_int_attribute(g, "cols");
    e.step_offset = h5.read<std::uint64_t>(g + "/step_offset");
    e.neuron = h5.read<std::uint32_t>(g + "/neuron");
    e.sign = h5.read<std::int8_t>(g + "/sign");
    e.scale = h5.read<float>(g + "/scale");
    e.zero_point = h5.read<std::int32_t>(g + "/zero_point");
    // The streams must agree with the attributes before anyone indexes them.
    const std::string what = cat(f, ": layer '", name, "'");
    if (e.steps < 0 || e.rows < 0 || e.cols < 0)
      throw ModelError(
          cat(what, ": negative steps, rows or cols (", e.steps, ", ", e.rows, ", ", e.cols, ")"));
    const std::uint64_t neurons = checked_mul<ModelError>(
        static_cast<std::uint64_t>(e.rows), static_cast<std::uint64_t>(e.cols), what + " rows x cols");
    if (e.step_offset.size() != static_cast<std::size_t>(e.steps) + 1 || e.step_offset.front() != 0 ||
        e.step_offset.back() != e.neuron.size() ||
        !std::is_sorted(e.step_offset.begin(), e.step_offset.end())) {
      throw ModelError(cat(what, ": step_offset must hold steps + 1 = ", e.steps + 1,
                           " non-decreasing offsets from 0 to the ", e.neuron.size(), " events"));
    }
    if (e.sign.size() != e.neuron.size() || e.scale.size() != static_cast<std::size_t>(e.rows) ||
        e.zero_point.size() != static_cast<std::size_t>(e.rows)) {
      throw ModelError(cat(what, ": ", e.neuron.size(), " neurons, ", e.sign.size(), " signs, ",
                           e.scale.size(), " scales and ", e.zero_point.size(), " zero points for ", e.rows,
                           " rows"));
    }
    for (std::size_t i = 0; i < e.neuron.size(); ++i) {
      if (e.neuron[i] >= neurons || (e.sign[i] != 1 && e.sign[i] != -1)) {
        throw ModelError(cat(what, ": event ", i, " has neuron ", e.neuron[i], " (", neurons,
                             " neurons) and sign ", static_cast<int>(e.sign[i]), " (expected +1 or -1)"));
      }
    }
    out.push_back(std::move(l));
  }
  std::sort(out.begin(), out.end(),
            [](const NamedEvents& a, const NamedEvents& b) { return a.index < b.index; });
  return out;
}

}  // namespace spikesim::models
