#include "energy/mapping.hpp"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/visitors.hpp>
#include <boost/property_map/property_map.hpp>
#include <cmath>
#include <memory>

#include "sim/text.hpp"

namespace spikesim::energy {

namespace {

struct MeshEdge {
  bool east_west = true;      // false: north-south
  bool crosses_chip = false;  // the two tiles sit on different chips
};

// The router mesh of all chips: one vertex per tile, an edge between E-W and N-S neighbours.
using Mesh =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, boost::no_property, MeshEdge>;
using MeshVertex = Mesh::vertex_descriptor;

struct Grid {
  std::int64_t width = 0;   // tiles E-W over all chips
  std::int64_t height = 0;  // tiles N-S over all chips
  [[nodiscard]] MeshVertex vertex(std::int64_t x, std::int64_t y) const {
    return static_cast<MeshVertex>(y * width + x);
  }
};

Mesh build_mesh(const Grid& grid, const ChipSpec& chip) {
  Mesh mesh(static_cast<std::size_t>(grid.width * grid.height));
  for (std::int64_t y = 0; y < grid.height; ++y) {
    for (std::int64_t x = 0; x < grid.width; ++x) {
      if (x + 1 < grid.width) {
        const bool crosses = (x + 1) % chip.tiles_x == 0;
        boost::add_edge(grid.vertex(x, y), grid.vertex(x + 1, y), MeshEdge{true, crosses}, mesh);
      }
      if (y + 1 < grid.height) {
        const bool crosses = (y + 1) % chip.tiles_y == 0;
        boost::add_edge(grid.vertex(x, y), grid.vertex(x, y + 1), MeshEdge{false, crosses}, mesh);
      }
    }
  }
  return mesh;
}

// Shortest-path tree of the mesh from one tile (breadth-first search: every hop costs one). The search stops
// once every target tile is reached, so its cost grows with the distance to the targets, not the mesh size.
struct ShortestPaths {
  std::vector<MeshVertex> parent;  // [tiles] predecessor on a shortest path from the source
  MeshVertex source = 0;
};

struct AllTargetsReached {};

class StopAtTargets : public boost::default_bfs_visitor {
 public:
  StopAtTargets(std::vector<MeshVertex>* parent, const std::vector<char>* is_target, std::size_t targets)
      : parent_(parent), is_target_(is_target), left_(std::make_shared<std::size_t>(targets)) {}
  void tree_edge(const Mesh::edge_descriptor& e, const Mesh& g) const {
    (*parent_)[boost::target(e, g)] = boost::source(e, g);
  }
  void discover_vertex(MeshVertex v, const Mesh& /*g*/) const {
    if ((*is_target_)[v] != 0 && --*left_ == 0) throw AllTargetsReached{};
  }

 private:
  std::vector<MeshVertex>* parent_;
  const std::vector<char>* is_target_;
  std::shared_ptr<std::size_t> left_;  // the visitor is copied by value inside the search
};

ShortestPaths bfs_from(const Mesh& mesh, MeshVertex source, const std::vector<char>& is_target,
                       std::size_t targets) {
  ShortestPaths sp;
  sp.source = source;
  sp.parent.resize(boost::num_vertices(mesh));
  for (std::size_t v = 0; v < sp.parent.size(); ++v)
    sp.parent[v] = v;
  std::vector<boost::default_color_type> color(boost::num_vertices(mesh), boost::white_color);  // [tiles]
  try {
    boost::breadth_first_search(mesh, source,
                                boost::visitor(StopAtTargets(&sp.parent, &is_target, targets))
                                    .color_map(boost::make_iterator_property_map(
                                        color.begin(), boost::get(boost::vertex_index, mesh))));
  } catch (const AllTargetsReached&) {
    // every target has its shortest path
  }
  return sp;
}

struct PathCounts {
  double ew = 0;
  double ns = 0;
  double crossings = 0;
};

// Adds the edges from `target` back towards the source to `counts`, stopping at a tile already reached
// (`reached` may be null: every path counted in full).
void add_path(const Mesh& mesh, const ShortestPaths& sp, MeshVertex target, PathCounts& counts,
              std::vector<char>* reached) {
  MeshVertex v = target;
  while (v != sp.source) {
    if (reached != nullptr) {
      if ((*reached)[v] != 0) return;
      (*reached)[v] = 1;
    }
    const MeshVertex u = sp.parent[v];
    const auto [edge, exists] = boost::edge(u, v, mesh);
    if (!exists) throw ProfileError("core mapping: broken shortest-path tree (internal error)");
    const MeshEdge& info = mesh[edge];
    (info.east_west ? counts.ew : counts.ns) += 1.0;
    if (info.crosses_chip) counts.crossings += 1.0;
    v = u;
  }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

TilePosition tile_of(std::int64_t core, const ChipSpec& chip, std::int64_t chips_x) {
  const std::int64_t k = core / chip.cores_per_chip;
  const std::int64_t tile = (core % chip.cores_per_chip) / chip.cores_per_tile;
  const std::int64_t ly = tile / chip.tiles_x;
  const std::int64_t lx = ly % 2 == 0 ? tile % chip.tiles_x : chip.tiles_x - 1 - tile % chip.tiles_x;
  const std::int64_t cy = k / chips_x;
  const std::int64_t cx = cy % 2 == 0 ? k % chips_x : chips_x - 1 - k % chips_x;
  return {cx * chip.tiles_x + lx, cy * chip.tiles_y + ly, k};
}

NetworkMapping map_network(const std::vector<MeshLayer>& layers, const ChipSpec& chip, double weight_bits) {
  NetworkMapping m;
  m.routing = chip.routing;
  const auto npc = chip.neurons_per_core;
  const double syn_bytes = chip.synaptic_memory_bytes_per_core;
  // 1. Placement: consecutive cores in execution order.
  std::int64_t next = 0;
  for (const MeshLayer& l : layers) {
    LayerPlacement p;
    if (l.coded && l.in > 0 && l.out > 0) {
      const double bytes_per_neuron = static_cast<double>(l.in) * weight_bits / 8.0;
      if (bytes_per_neuron > syn_bytes) {
        throw ProfileError(cat("core mapping: layer '", l.name, "': one postsynaptic neuron's ", l.in,
                               " synapses need ", bytes_per_neuron,
                               " bytes, more than a core's synaptic memory (", syn_bytes,
                               " bytes); split the layer's fan-in"));
      }
      const auto by_memory = static_cast<std::int64_t>(std::floor(syn_bytes / bytes_per_neuron));
      p.neurons_per_target_core = std::min(npc, by_memory);
      p.placed = true;
      p.first_source_core = next;
      p.source_cores = ceil_div(l.in, npc);
      p.first_target_core = next + p.source_cores;
      p.target_cores = ceil_div(l.out, p.neurons_per_target_core);
      p.synaptic_bytes = static_cast<double>(l.weights) * weight_bits / 8.0;
      next = p.first_target_core + p.target_cores;
      m.synaptic_bytes += p.synaptic_bytes;
    }
    m.layers.push_back(std::move(p));
  }
  m.cores = next;
  m.chips = std::max<std::int64_t>(1, ceil_div(m.cores, chip.cores_per_chip));
  m.chips_x = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(m.chips))));
  m.chips_y = ceil_div(m.chips, m.chips_x);
  if (m.cores == 0) return m;

  // 2. Routes: a breadth-first search over the tile mesh from every source tile.
  const Grid grid{m.chips_x * chip.tiles_x, m.chips_y * chip.tiles_y};
  const Mesh mesh = build_mesh(grid, chip);
  const auto vertex_of = [&](std::int64_t core) {
    const TilePosition t = tile_of(core, chip, m.chips_x);
    return grid.vertex(t.x, t.y);
  };
  for (std::size_t i = 0; i < layers.size(); ++i) {
    LayerPlacement& p = m.layers[i];
    if (!p.placed) continue;
    // Target tiles with how many target cores each holds.
    std::vector<std::pair<MeshVertex, double>> targets;
    for (std::int64_t c = p.first_target_core; c < p.first_target_core + p.target_cores; ++c) {
      const MeshVertex v = vertex_of(c);
      if (!targets.empty() && targets.back().first == v) {
        targets.back().second += 1.0;
      } else {
        targets.emplace_back(v, 1.0);
      }
    }
    std::vector<char> is_target(boost::num_vertices(mesh), 0);
    for (const auto& [v, cores] : targets)
      is_target[v] = 1;
    for (std::int64_t s = 0; s < p.source_cores; ++s) {
      SourceRoute r;
      r.core = p.first_source_core + s;
      r.neurons = std::min(npc, layers[i].in - s * npc);
      const ShortestPaths sp = bfs_from(mesh, vertex_of(r.core), is_target, targets.size());
      PathCounts counts;
      if (chip.routing == Routing::unicast) {
        for (const auto& [v, cores] : targets) {
          PathCounts one;
          add_path(mesh, sp, v, one, nullptr);
          counts.ew += cores * one.ew;
          counts.ns += cores * one.ns;
          counts.crossings += cores * one.crossings;
        }
        r.packets = static_cast<double>(p.target_cores);
      } else {
        std::vector<char> reached(boost::num_vertices(mesh), 0);
        for (const auto& [v, cores] : targets)
          add_path(mesh, sp, v, counts, &reached);
        r.packets = 1.0;
      }
      r.hops_ew = counts.ew;
      r.hops_ns = counts.ns;
      r.chip_crossings = counts.crossings;
      p.sources.push_back(r);
    }
  }
  return m;
}

MappingCounts mapping_counts(const NetworkMapping& mapping, std::size_t index, std::uint64_t spikes,
                             std::span<const std::uint64_t> spikes_per_input) {
  MappingCounts mc;
  const LayerPlacement& p = mapping.layers.at(index);
  if (!p.placed) return mc;
  mc.mapped = true;
  mc.source_cores = p.source_cores;
  mc.target_cores = p.target_cores;
  mc.chips = mapping.chips;
  std::int64_t total_in = 0;
  for (const SourceRoute& r : p.sources)
    total_in += r.neurons;
  const bool exact =
      !spikes_per_input.empty() && static_cast<std::int64_t>(spikes_per_input.size()) == total_in;
  std::int64_t first = 0;
  for (const SourceRoute& r : p.sources) {
    double from_core = 0;
    if (exact) {
      for (std::int64_t j = first; j < first + r.neurons; ++j)
        from_core += static_cast<double>(spikes_per_input[static_cast<std::size_t>(j)]);
    } else {
      from_core =
          static_cast<double>(spikes) * static_cast<double>(r.neurons) / static_cast<double>(total_in);
    }
    first += r.neurons;
    mc.spike_packets += from_core * r.packets;
    mc.hops_ew += from_core * r.hops_ew;
    mc.hops_ns += from_core * r.hops_ns;
    mc.chip_crossings += from_core * r.chip_crossings;
  }
  return mc;
}

}  // namespace spikesim::energy
