#include "sim/kernels/linear.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <type_traits>

#include "base/text.hpp"

namespace spikesim::sim {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_size(std::string_view what, std::size_t found, std::int64_t expected) {
  if (found != static_cast<std::size_t>(expected)) {
    throw std::invalid_argument(cat(what, ": expected ", expected, " values, found ", found));
  }
}

}  // namespace

void finish_event_outputs(std::span<const float> scale, std::span<const std::int32_t> zero_point,
                          std::span<const float> correction, std::span<const float> bias, std::size_t plane,
                          std::span<float> y) {
  const std::size_t outputs = correction.size();
  for (std::size_t r = 0; r < scale.size(); ++r) {
    float* yr = y.data() + r * outputs;
    const auto zp = static_cast<float>(zero_point[r]);
    if (zp != 0.0F) {
      for (std::size_t i = 0; i < outputs; ++i)
        yr[i] -= zp * correction[i];
    }
    for (std::size_t i = 0; i < outputs; ++i)
      yr[i] *= scale[r];
    for (std::size_t m = 0; m < bias.size(); ++m) {
      for (std::size_t p = 0; p < plane; ++p)
        yr[m * plane + p] += bias[m];
    }
  }
}

LinearWeights LinearWeights::from_row_major(std::string name, std::span<const float> w, std::int64_t out,
                                            std::int64_t in, std::span<const float> bias) {
  check_size(name + " weight", w.size(), out * in);
  if (!bias.empty()) check_size(name + " bias", bias.size(), out);
  LinearWeights layer;
  layer.name = std::move(name);
  layer.in = in;
  layer.out = out;
  layer.fanout.resize(w.size());
  layer.row_sum.assign(static_cast<std::size_t>(out), 0.0F);
  layer.fanout_nonzero.assign(static_cast<std::size_t>(in), 0);
  const auto n_in = static_cast<std::size_t>(in);
  const auto n_out = static_cast<std::size_t>(out);
  for (std::size_t o = 0; o < n_out; ++o) {
    double sum = 0.0;
    for (std::size_t j = 0; j < n_in; ++j) {
      const float v = w[o * n_in + j];
      layer.fanout[j * n_out + o] = v;
      layer.fanout_nonzero[j] += v != 0.0F ? 1 : 0;
      sum += static_cast<double>(v);
    }
    layer.row_sum[o] = static_cast<float>(sum);
  }
  layer.bias.assign(bias.begin(), bias.end());
  return layer;
}

LinearWeights LinearWeights::from_stored(std::string name, const void* w, WeightType type, std::int64_t out,
                                         std::int64_t in, std::span<const float> bias,
                                         const std::function<void(std::span<const std::byte>)>& done_with) {
  if (type == WeightType::f32) {
    return from_row_major(std::move(name), {static_cast<const float*>(w), static_cast<std::size_t>(out * in)},
                          out, in, bias);
  }
  if (!bias.empty()) check_size(name + " bias", bias.size(), out);
  LinearWeights layer;
  layer.name = std::move(name);
  layer.in = in;
  layer.out = out;
  layer.type = type;
  const auto n_in = static_cast<std::size_t>(in);
  const auto n_out = static_cast<std::size_t>(out);
  layer.fanout16.resize(n_in * n_out);
  layer.row_sum.assign(n_out, 0.0F);
  layer.fanout_nonzero.assign(n_in, 0);
  const auto* src = static_cast<const std::uint16_t*>(w);
  // Transposed a block of stored rows at a time (each row's sum in input order, in double, as
  // from_row_major); every finished block is handed to done_with, so a caller can drop a mapped file's pages
  // while the rest is transposed (the peak holds one block twice, not the whole matrix).
  constexpr std::size_t block = 256;
  for (std::size_t o0 = 0; o0 < n_out; o0 += block) {
    const std::size_t o1 = std::min(n_out, o0 + block);
    std::vector<double> sum(o1 - o0, 0.0);
    for (std::size_t j = 0; j < n_in; ++j) {
      std::uint16_t* dst = layer.fanout16.data() + j * n_out;
      std::int64_t nonzero = 0;
      for (std::size_t o = o0; o < o1; ++o) {
        std::uint16_t bits = 0;
        std::memcpy(&bits, src + o * n_in + j, 2);
        dst[o] = bits;
        const float v = type == WeightType::f16 ? half_to_float(bits) : bf16_to_float(bits);
        nonzero += v != 0.0F ? 1 : 0;
        sum[o - o0] += static_cast<double>(v);
      }
      layer.fanout_nonzero[j] += nonzero;
    }
    for (std::size_t o = o0; o < o1; ++o)
      layer.row_sum[o] = static_cast<float>(sum[o - o0]);
    if (done_with) {
      done_with({reinterpret_cast<const std::byte*>(src + o0 * n_in),  // NOLINT(*-reinterpret-cast)
                 (o1 - o0) * n_in * sizeof(std::uint16_t)});
    }
  }
  layer.bias.assign(bias.begin(), bias.end());
  return layer;
}

void dense_forward(const LinearWeights& layer, std::span<const float> x, std::int64_t tokens,
                   std::span<float> y) {
  if (layer.shape_only()) throw std::invalid_argument(cat(layer.name, ": shape-only weights cannot be run"));
  check_size(layer.name + " dense input", x.size(), tokens * layer.in);
  check_size(layer.name + " dense output", y.size(), tokens * layer.out);
  const Eigen::Map<const RowMatrix> xm(x.data(), tokens, layer.in);
  Eigen::Map<RowMatrix> ym(y.data(), tokens, layer.out);
  // Fixed blocks of output columns, each one single-threaded Eigen GEMM (Eigen's own threading is off:
  // EIGEN_DONT_PARALLELIZE), threaded over blocks. Eigen picks its blocking, and so its rounding, from the
  // number of threads; with fixed blocks the result is bit-identical for any thread count.
  constexpr Eigen::Index block = 256;
  const Eigen::Index n_blocks = (layer.out + block - 1) / block;
  const bool threaded = n_blocks > 1 && tokens * layer.in * layer.out > (std::int64_t{1} << 20);
  if (layer.type == WeightType::f32) {
    const Eigen::Map<const RowMatrix> wt(layer.fanout.data(), layer.in, layer.out);
#pragma omp parallel for schedule(static) if (threaded)
    for (Eigen::Index b = 0; b < n_blocks; ++b) {
      const Eigen::Index o0 = b * block;
      const Eigen::Index width = std::min(block, layer.out - o0);
      ym.middleCols(o0, width).noalias() = xm * wt.middleCols(o0, width);
    }
  } else {
    // 16-bit weights: each block of output columns is widened into a per-thread buffer [in][width], then
    // the same GEMM as for F32 (identical values, identical blocks: identical results).
    const auto in = static_cast<std::size_t>(layer.in);
    const auto out = static_cast<std::size_t>(layer.out);
#pragma omp parallel if (threaded)
    {
      std::vector<float> wide;
#pragma omp for schedule(static)
      for (Eigen::Index b = 0; b < n_blocks; ++b) {
        const Eigen::Index o0 = b * block;
        const Eigen::Index width = std::min(block, layer.out - o0);
        const auto w = static_cast<std::size_t>(width);
        wide.resize(in * w);
        for (std::size_t j = 0; j < in; ++j) {
          const std::uint16_t* src = layer.fanout16.data() + j * out + static_cast<std::size_t>(o0);
          float* dst = wide.data() + j * w;
          if (layer.type == WeightType::bf16) {
            for (std::size_t o = 0; o < w; ++o)
              dst[o] = bf16_to_float(src[o]);
          } else {
            for (std::size_t o = 0; o < w; ++o)
              dst[o] = half_to_float(src[o]);
          }
        }
        // The same expression as the F32 path (a column block of a row-major map): Eigen picks its GEMM
        // path, and so its rounding, from the expression, not only from the values.
        const Eigen::Map<const RowMatrix> wt(wide.data(), layer.in, width);
        ym.middleCols(o0, width).noalias() = xm * wt.middleCols(0, width);
      }
    }
  }
  if (!layer.bias.empty()) {
    const Eigen::Map<const Eigen::RowVectorXf> b(layer.bias.data(), layer.out);
    ym.rowwise() += b;
  }
}

void event_forward_reference(const LinearWeights& layer, const coding::EventStream& events,
                             std::span<float> y) {
  if (events.cols != layer.in) {
    throw std::invalid_argument(
        cat(layer.name, ": event stream has ", events.cols, " presynaptic neurons, layer has ", layer.in));
  }
  check_size(layer.name + " event output", y.size(), events.rows * layer.out);
  std::fill(y.begin(), y.end(), 0.0F);
  const auto out = static_cast<std::size_t>(layer.out);
  const auto cols = static_cast<std::uint32_t>(events.cols);
  for (std::int32_t t = 0; t < events.steps; ++t) {
    const auto w_t = static_cast<float>(coding::step_weight(events.scheme, events.steps, t));
    for (auto e = events.step_offset[static_cast<std::size_t>(t)];
         e < events.step_offset[static_cast<std::size_t>(t) + 1]; ++e) {
      const std::uint32_t r = events.neuron[e] / cols;
      const std::uint32_t j = events.neuron[e] % cols;
      const float a = w_t * static_cast<float>(events.sign[e]);
      float* yr = y.data() + r * out;
      for (std::size_t o = 0; o < out; ++o)
        yr[o] += a * layer.weight(j, o);
    }
  }
  finish_event_outputs(events.scale, events.zero_point, layer.row_sum, layer.bias, 1, y);
}

namespace {

// 16 floats: one AVX-512 register (GCC/Clang vector extension; narrower targets split it).
using Vec16 = float __attribute__((vector_size(64)));
constexpr std::size_t lanes = 16;

inline Vec16 load16(const float* p) {
  Vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, Vec16 v) {
  std::memcpy(p, &v, sizeof v);
}

// 16 consecutive stored weights as floats (exact widening).
template <WeightType type>
inline Vec16 load_weights16(const void* p) {
  if constexpr (type == WeightType::f32) {
    return load16(static_cast<const float*>(p));
  } else if constexpr (type == WeightType::bf16) {
    using U16 = std::uint16_t __attribute__((vector_size(32)));
    using U32 = std::uint32_t __attribute__((vector_size(64)));
    U16 h;
    std::memcpy(&h, p, sizeof h);
    const U32 bits = __builtin_convertvector(h, U32) << 16U;
    Vec16 v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  } else {
    Vec16 v;
    const auto* h = static_cast<const std::uint16_t*>(p);
    for (std::size_t i = 0; i < lanes; ++i)
      v[i] = half_to_float(h[i]);
    return v;
  }
}

// One event batch entry: presynaptic neuron j fired with coded value `value` (the exact sum of its spikes'
// step weights) for the token whose list holds it.
struct Event {
  std::uint32_t j;
  float value;
};

// Events of every token, sorted by presynaptic neuron, cut into blocks of `block_in` presynaptic neurons:
// row r's events of input block kb are events[cut[r * (n_blocks + 1) + kb] .. cut[r * (n_blocks + 1) + kb +
// 1]).
struct EventPlan {
  std::size_t block_in = 0;
  std::size_t n_blocks = 0;
  std::vector<Event> events;         // [non-zero values] token-major, j ascending
  std::vector<std::size_t> cut;      // [rows][n_blocks + 1] positions in events
  std::vector<std::uint8_t> active;  // [in] 1 when any token's value at j is non-zero
};

EventPlan plan_events(const coding::CodedTensor& coded, std::size_t block_in) {
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto in = static_cast<std::size_t>(coded.cols);
  EventPlan plan;
  plan.block_in = block_in;
  plan.n_blocks = std::max<std::size_t>(1, (in + block_in - 1) / block_in);
  const std::size_t stride = plan.n_blocks + 1;
  std::vector<std::size_t> row_start(rows + 1, 0);  // [rows + 1]
  const auto n_rows = static_cast<std::int64_t>(rows);
  const bool threaded = rows * in > 65536;
#pragma omp parallel for schedule(static) if (threaded)
  for (std::int64_t ri = 0; ri < n_rows; ++ri) {
    const auto r = static_cast<std::size_t>(ri);
    const std::int32_t* v = coded.value.data() + r * in;
    std::size_t nnz = 0;
    for (std::size_t j = 0; j < in; ++j)
      nnz += v[j] != 0 ? 1U : 0U;
    row_start[r + 1] = nnz;
  }
  for (std::size_t r = 0; r < rows; ++r)
    row_start[r + 1] += row_start[r];
  plan.events.resize(row_start[rows]);
  plan.cut.resize(rows * stride);
#pragma omp parallel for schedule(static) if (threaded)
  for (std::int64_t ri = 0; ri < n_rows; ++ri) {
    const auto r = static_cast<std::size_t>(ri);
    const std::int32_t* v = coded.value.data() + r * in;
    std::size_t e = row_start[r];
    std::size_t* cut = plan.cut.data() + r * stride;
    for (std::size_t kb = 0; kb < plan.n_blocks; ++kb) {
      cut[kb] = e;
      const std::size_t j1 = std::min(in, (kb + 1) * block_in);
      for (std::size_t j = kb * block_in; j < j1; ++j) {
        if (v[j] != 0) plan.events[e++] = Event{static_cast<std::uint32_t>(j), static_cast<float>(v[j])};
      }
    }
    cut[plan.n_blocks] = e;
  }
  plan.active.assign(in, 0);
  for (const Event& ev : plan.events)
    plan.active[ev.j] = 1;
  return plan;
}

// Tokens with fewer rows than this read weight rows in place; more rows copy each block's active weight
// rows (block_in x tile width) into a contiguous per-thread buffer first, so the rows every token re-reads
// sit in L1/L2 without TLB misses (the fan-out rows themselves are `out` floats apart).
constexpr std::size_t pack_min_rows = 8;

// y = V_th * (acc - zero_point * row_sum) + bias on n registers of accumulators. One out-of-line function
// for every tile shape and weight dtype, so the compiler contracts these multiply-adds the same way for all
// of them (results do not depend on the stored dtype).
__attribute__((noinline)) void finish_accumulators(Vec16* acc, std::size_t n, float zp, float scale,
                                                   const float* row_sum, const float* bias) {
  for (std::size_t i = 0; i < n; ++i) {
    if (zp != 0.0F) acc[i] -= zp * load16(row_sum + i * lanes);
    acc[i] *= scale;
    if (bias != nullptr) acc[i] += load16(bias + i * lanes);
  }
}

// The stored weights of a layer as an array of their element type.
template <WeightType type>
using Elem = std::conditional_t<type == WeightType::f32, float, std::uint16_t>;
template <WeightType type>
const Elem<type>* stored(const LinearWeights& layer) {
  if constexpr (type == WeightType::f32) {
    return layer.fanout.data();
  } else {
    return layer.fanout16.data();
  }
}

// acc += value * (weight row of j) over a token's events; rows are `fixed_stride` elements apart when that
// is non-zero (packed: a constant, so the address is a shift), else `stride`.
template <std::size_t nv, std::size_t fixed_stride, WeightType type>
inline void accumulate(Vec16* acc, const Event* first, const Event* last, const Elem<type>* base,
                       std::size_t stride, std::size_t j0) {
  const std::size_t row_stride = fixed_stride != 0 ? fixed_stride : stride;
  for (const Event* e = first; e != last; ++e) {
    const Elem<type>* w = base + (static_cast<std::size_t>(e->j) - j0) * row_stride;
    const float value = e->value;
    for (std::size_t i = 0; i < nv; ++i)
      acc[i] += value * load_weights16<type>(w + i * lanes);
  }
}

// Output neurons o0 .. o0 + 16 * nv - 1 of every token. For each block of presynaptic neurons, its weight
// rows stay in cache while every token's events of that block are delivered; each token's accumulators stay
// in registers while its events are summed. Summation order per output: j ascending, whatever the block
// size, packing, thread count or stored dtype (16-bit weights are widened exactly as they are read).
template <std::size_t nv, WeightType type>
void deliver_tile(const LinearWeights& layer, const EventPlan& plan, const coding::CodedTensor& coded,
                  std::size_t o0, float* y, std::vector<float>& pack, bool prefetch) {
  const auto rows = static_cast<std::size_t>(coded.rows);
  constexpr std::size_t width = nv * lanes;
  const auto out = static_cast<std::size_t>(layer.out);
  const auto in = static_cast<std::size_t>(layer.in);
  const std::size_t stride = plan.n_blocks + 1;
  const bool packed = rows >= pack_min_rows;
  const Elem<type>* weights = stored<type>(layer);
  if (packed) pack.resize(plan.block_in * width);
  for (std::size_t kb = 0; kb < plan.n_blocks; ++kb) {
    const std::size_t j0 = kb * plan.block_in;
    const std::size_t j1 = std::min(in, j0 + plan.block_in);
    if (packed) {
      // The active weight rows of this block, widened, in a contiguous buffer [block_in][width].
      for (std::size_t j = j0; j < j1; ++j) {
        if (plan.active[j] == 0) continue;  // no token spiked on j: its weights are never read
        const Elem<type>* src = weights + j * out + o0;
        float* dst = pack.data() + (j - j0) * width;
        for (std::size_t i = 0; i < nv; ++i)
          store16(dst + i * lanes, load_weights16<type>(src + i * lanes));
      }
    }
    // While this block's tokens are served, prefetch the next block's active weight rows from memory (the
    // rows are `out` elements apart, a stride hardware prefetchers do not follow), a few cache lines per
    // token.
    const std::size_t next0 = j1;
    const std::size_t next1 = std::min(in, j1 + plan.block_in);
    std::size_t prefetch_j = next0;
    const std::size_t lines_per_row = packed && prefetch ? (next1 - next0 + rows - 1) / rows : 0;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t n = 0; n < lines_per_row && prefetch_j < next1; ++prefetch_j) {
        if (plan.active[prefetch_j] == 0) continue;
        const Elem<type>* src = weights + prefetch_j * out + o0;
        for (std::size_t i = 0; i < nv; i += (type == WeightType::f32 ? 1 : 2))
          __builtin_prefetch(src + i * lanes);
        ++n;
      }
      float* yr = y + r * out + o0;
      Vec16 acc[nv];
      for (std::size_t i = 0; i < nv; ++i)
        acc[i] = kb == 0 ? Vec16{} : load16(yr + i * lanes);
      const std::size_t* cut = plan.cut.data() + r * stride + kb;
      const Event* first = plan.events.data() + cut[0];
      const Event* last = plan.events.data() + cut[1];
      if (packed) {
        accumulate<nv, width, WeightType::f32>(acc, first, last, pack.data(), width, j0);
      } else {
        accumulate<nv, 0, type>(acc, first, last, weights + o0, out, 0);
      }
      if (kb + 1 == plan.n_blocks) {  // last block: y = V_th * (acc - zero_point * row_sum) + bias
        finish_accumulators(acc, nv, static_cast<float>(coded.zero_point[r]), coded.scale[r],
                            layer.row_sum.data() + o0, layer.bias.empty() ? nullptr : layer.bias.data() + o0);
      }
      for (std::size_t i = 0; i < nv; ++i)
        store16(yr + i * lanes, acc[i]);
    }
  }
}

template <WeightType type>
void deliver_tile(std::size_t width, const LinearWeights& layer, const EventPlan& plan,
                  const coding::CodedTensor& coded, std::size_t o0, float* y, std::vector<float>& pack,
                  bool prefetch) {
  switch (width) {
    case 128:
      deliver_tile<8, type>(layer, plan, coded, o0, y, pack, prefetch);
      return;
    case 64:
      deliver_tile<4, type>(layer, plan, coded, o0, y, pack, prefetch);
      return;
    case 32:
      deliver_tile<2, type>(layer, plan, coded, o0, y, pack, prefetch);
      return;
    default:
      deliver_tile<1, type>(layer, plan, coded, o0, y, pack, prefetch);
  }
}

// Outputs o0 .. o1 - 1 (fewer than 16), one at a time, in the same summation order.
void deliver_tail(const LinearWeights& layer, const EventPlan& plan, const coding::CodedTensor& coded,
                  std::size_t o0, std::size_t o1, float* y) {
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto out = static_cast<std::size_t>(layer.out);
  const std::size_t stride = plan.n_blocks + 1;
  for (std::size_t r = 0; r < rows; ++r) {
    float* yr = y + r * out;
    for (std::size_t o = o0; o < o1; ++o)
      yr[o] = 0.0F;
    const std::size_t* cut = plan.cut.data() + r * stride;
    for (std::size_t e = cut[0]; e < cut[plan.n_blocks]; ++e) {
      const Event ev = plan.events[e];
      for (std::size_t o = o0; o < o1; ++o)
        yr[o] += ev.value * layer.weight(ev.j, o);
    }
    const auto zp = static_cast<float>(coded.zero_point[r]);
    for (std::size_t o = o0; o < o1; ++o) {
      if (zp != 0.0F) yr[o] -= zp * layer.row_sum[o];
      yr[o] *= coded.scale[r];
      if (!layer.bias.empty()) yr[o] += layer.bias[o];
    }
  }
}

}  // namespace

void event_forward(const LinearWeights& layer, const coding::CodedTensor& coded, std::span<float> y) {
  event_forward(layer, coded, y, EventForwardOptions{});
}

void event_forward(const LinearWeights& layer, const coding::CodedTensor& coded, std::span<float> y,
                   const EventForwardOptions& options) {
  if (coded.cols != layer.in) {
    throw std::invalid_argument(
        cat(layer.name, ": coded input has ", coded.cols, " presynaptic neurons, layer has ", layer.in));
  }
  check_size(layer.name + " event output", y.size(), coded.rows * layer.out);
  if (options.block_inputs < 1) {
    throw std::invalid_argument(cat(layer.name, ": block_inputs must be >= 1, got ", options.block_inputs));
  }
  const auto out = static_cast<std::size_t>(layer.out);
  const EventPlan plan = plan_events(coded, static_cast<std::size_t>(options.block_inputs));

  // Tiles of output neurons: 128 wide (8 registers of accumulators), the remainder in 64/32/16-wide tiles,
  // then fewer than 16 one by one. The tiling depends only on `out`, so the sums do not depend on threads.
  struct Tile {
    std::size_t o0;
    std::size_t width;
  };
  std::vector<Tile> tiles;
  std::size_t o = 0;
  for (; o + 128 <= out; o += 128)
    tiles.push_back({o, 128});
  for (const std::size_t width : {std::size_t{64}, std::size_t{32}, std::size_t{16}}) {
    if (o + width <= out) {
      tiles.push_back({o, width});
      o += width;
    }
  }
  if (o < out) tiles.push_back({o, out - o});

  const auto n_tiles = static_cast<std::int64_t>(tiles.size());
  const std::size_t work = plan.events.size() * out;
#pragma omp parallel if (work > 262144)
  {
    std::vector<float> pack;  // per-thread copy of one block's active weight rows [block_in][tile width]
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t t = 0; t < n_tiles; ++t) {
      const Tile tile = tiles[static_cast<std::size_t>(t)];
      if (tile.width < lanes) {
        deliver_tail(layer, plan, coded, tile.o0, tile.o0 + tile.width, y.data());
      } else if (layer.type == WeightType::f32) {
        deliver_tile<WeightType::f32>(tile.width, layer, plan, coded, tile.o0, y.data(), pack,
                                      options.prefetch);
      } else if (layer.type == WeightType::bf16) {
        deliver_tile<WeightType::bf16>(tile.width, layer, plan, coded, tile.o0, y.data(), pack,
                                       options.prefetch);
      } else {
        deliver_tile<WeightType::f16>(tile.width, layer, plan, coded, tile.o0, y.data(), pack,
                                      options.prefetch);
      }
    }
  }
}

}  // namespace spikesim::sim
