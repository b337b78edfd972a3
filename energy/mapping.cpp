#include "energy/mapping.hpp"

#include <algorithm>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/visitors.hpp>
#include <boost/pending/queue.hpp>
#include <boost/property_map/property_map.hpp>
#include <cmath>
#include <memory>

#include "base/text.hpp"

namespace spikesim::energy {

namespace {

struct MeshEdge {
  bool east_west = true;      // false: north-south
  bool crosses_chip = false;  // the two tiles sit on different chips
};

// The router mesh of all chips: one vertex per tile, links both ways between E-W and N-S neighbours. Built
// once and never changed, so it is a compressed sparse row graph: every tile's links and their properties sit
// in contiguous arrays, which keeps the breadth-first searches cache-friendly on meshes of 100k+ tiles.
using Mesh = boost::compressed_sparse_row_graph<boost::directedS, boost::no_property, MeshEdge>;
using MeshVertex = Mesh::vertex_descriptor;

struct Grid {
  std::int64_t width = 0;   // tiles E-W over all chips
  std::int64_t height = 0;  // tiles N-S over all chips
  [[nodiscard]] MeshVertex vertex(std::int64_t x, std::int64_t y) const {
    return static_cast<MeshVertex>(y * width + x);
  }
};

Mesh build_mesh(const Grid& grid, const ChipSpec& chip) {
  std::vector<std::pair<MeshVertex, MeshVertex>> links;  // sorted by source tile, as the CSR graph needs
  std::vector<MeshEdge> info;
  links.reserve(static_cast<std::size_t>(4 * grid.width * grid.height));
  info.reserve(links.capacity());
  for (std::int64_t y = 0; y < grid.height; ++y) {
    for (std::int64_t x = 0; x < grid.width; ++x) {
      const MeshVertex here = grid.vertex(x, y);
      const auto link = [&](std::int64_t nx, std::int64_t ny, bool east_west) {
        if (nx < 0 || ny < 0 || nx >= grid.width || ny >= grid.height) return;
        const bool crosses =
            east_west ? (std::max(x, nx) % chip.tiles_x == 0) : (std::max(y, ny) % chip.tiles_y == 0);
        links.emplace_back(here, grid.vertex(nx, ny));
        info.push_back({east_west, crosses});
      };
      link(x + 1, y, true);
      link(x - 1, y, true);
      link(x, y + 1, false);
      link(x, y - 1, false);
    }
  }
  return {boost::edges_are_sorted, links.begin(), links.end(), info.begin(),
          static_cast<std::size_t>(grid.width * grid.height)};
}

struct PathCounts {
  double ew = 0;         // east-west hops
  double ns = 0;         // north-south hops
  double crossings = 0;  // hops across a chip boundary
};

struct AllTargetsReached {};

// Breadth-first search over the mesh from one source tile (every hop costs one), giving each reached tile its
// shortest-path predecessor and the E-W / N-S / chip-crossing hops of its tree path. The search stops once
// every target tile is reached, and buffers are reset only where it went, so one search costs what the ball
// around the source costs, not the whole mesh.
class MeshSearch {
 public:
  explicit MeshSearch(const Mesh& mesh)
      : mesh_(mesh),
        color_(boost::num_vertices(mesh), boost::white_color),
        parent_(boost::num_vertices(mesh)),
        counts_(boost::num_vertices(mesh)),
        is_target_(boost::num_vertices(mesh), 0),
        reached_(boost::num_vertices(mesh), 0) {}

  // Marks the target tiles of a layer (replacing the previous layer's).
  void set_targets(const std::vector<MeshVertex>& targets) {
    for (const MeshVertex v : targets_)
      is_target_[v] = 0;
    targets_.clear();
    for (const MeshVertex v : targets) {
      if (is_target_[v] == 0) targets_.push_back(v);  // distinct tiles: the search counts them down
      is_target_[v] = 1;
    }
  }

  void run(MeshVertex source) {
    for (const MeshVertex v : touched_)
      color_[v] = boost::white_color;
    touched_.clear();
    source_ = source;
    parent_[source] = source;
    counts_[source] = {};
    left_ = targets_.size();
    boost::queue<MeshVertex> queue;
    try {
      boost::breadth_first_visit(
          mesh_, source, queue, Visitor{this},
          boost::make_iterator_property_map(color_.begin(), boost::get(boost::vertex_index, mesh_)));
    } catch (const AllTargetsReached&) {
      // every target has its shortest path
    }
  }

  [[nodiscard]] const PathCounts& counts(MeshVertex v) const { return counts_[v]; }

  // Edges of the union of the tree paths to every target (a multicast tree).
  [[nodiscard]] PathCounts tree_union() {
    PathCounts total;
    std::vector<MeshVertex> marked;
    for (const MeshVertex target : targets_) {
      for (MeshVertex v = target; v != source_ && reached_[v] == 0; v = parent_[v]) {
        reached_[v] = 1;
        marked.push_back(v);
        const PathCounts& here = counts_[v];
        const PathCounts& up = counts_[parent_[v]];
        total.ew += here.ew - up.ew;
        total.ns += here.ns - up.ns;
        total.crossings += here.crossings - up.crossings;
      }
    }
    for (const MeshVertex v : marked)
      reached_[v] = 0;
    return total;
  }

 private:
  struct Visitor : boost::default_bfs_visitor {
    MeshSearch* search;
    explicit Visitor(MeshSearch* s) : search(s) {}
    void discover_vertex(MeshVertex v, const Mesh& /*g*/) const {
      search->touched_.push_back(v);
      if (search->is_target_[v] != 0 && --search->left_ == 0) throw AllTargetsReached{};
    }
    void tree_edge(const Mesh::edge_descriptor& e, const Mesh& g) const {
      const MeshVertex u = boost::source(e, g);
      const MeshVertex v = boost::target(e, g);
      const MeshEdge& info = g[e];
      PathCounts c = search->counts_[u];
      (info.east_west ? c.ew : c.ns) += 1.0;
      if (info.crosses_chip) c.crossings += 1.0;
      search->counts_[v] = c;
      search->parent_[v] = u;
    }
  };

  const Mesh& mesh_;
  std::vector<boost::default_color_type> color_;  // [tiles] BFS colours, white outside `touched_`
  std::vector<MeshVertex> parent_;                // [tiles] predecessor on the tree path
  std::vector<PathCounts> counts_;                // [tiles] hops of the tree path from the source
  std::vector<char> is_target_;                   // [tiles]
  std::vector<char> reached_;                     // [tiles] scratch for tree_union()
  std::vector<MeshVertex> targets_;
  std::vector<MeshVertex> touched_;
  MeshVertex source_ = 0;
  std::size_t left_ = 0;
};

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
  MeshSearch search(mesh);
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
    std::vector<MeshVertex> target_tiles;
    target_tiles.reserve(targets.size());
    for (const auto& [v, cores] : targets)
      target_tiles.push_back(v);
    search.set_targets(target_tiles);
    for (std::int64_t s = 0; s < p.source_cores; ++s) {
      SourceRoute r;
      r.core = p.first_source_core + s;
      r.neurons = std::min(npc, layers[i].in - s * npc);
      search.run(vertex_of(r.core));
      PathCounts counts;
      if (chip.routing == Routing::unicast) {
        for (const auto& [v, cores] : targets) {
          const PathCounts& one = search.counts(v);
          counts.ew += cores * one.ew;
          counts.ns += cores * one.ns;
          counts.crossings += cores * one.crossings;
        }
        r.packets = static_cast<double>(p.target_cores);
      } else {
        counts = search.tree_union();
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
