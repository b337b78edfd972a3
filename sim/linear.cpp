#include "sim/linear.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <stdexcept>

#include "sim/text.hpp"

namespace spikesim::sim {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_size(std::string_view what, std::size_t found, std::int64_t expected) {
  if (found != static_cast<std::size_t>(expected)) {
    throw std::invalid_argument(cat(what, ": expected ", expected, " values, found ", found));
  }
}

// y[r][o] = scale[r] * (acc[r][o] - zero_point[r] * row_sum[o]) + bias[o]
void finish_outputs(const LinearWeights& layer, std::span<const float> scale,
                    std::span<const std::int32_t> zero_point, std::span<float> y) {
  const auto out = static_cast<std::size_t>(layer.out);
  for (std::size_t r = 0; r < scale.size(); ++r) {
    float* yr = y.data() + r * out;
    const auto zp = static_cast<float>(zero_point[r]);
    if (zp != 0.0F) {
      for (std::size_t o = 0; o < out; ++o)
        yr[o] -= zp * layer.row_sum[o];
    }
    for (std::size_t o = 0; o < out; ++o)
      yr[o] *= scale[r];
    if (!layer.bias.empty()) {
      for (std::size_t o = 0; o < out; ++o)
        yr[o] += layer.bias[o];
    }
  }
}

}  // namespace

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

void dense_forward(const LinearWeights& layer, std::span<const float> x, std::int64_t tokens,
                   std::span<float> y) {
  check_size(layer.name + " dense input", x.size(), tokens * layer.in);
  check_size(layer.name + " dense output", y.size(), tokens * layer.out);
  const Eigen::Map<const RowMatrix> xm(x.data(), tokens, layer.in);
  const Eigen::Map<const RowMatrix> wt(layer.fanout.data(), layer.in, layer.out);
  Eigen::Map<RowMatrix> ym(y.data(), tokens, layer.out);
  // Fixed blocks of output columns, each one single-threaded Eigen GEMM (Eigen's own threading is off:
  // EIGEN_DONT_PARALLELIZE), threaded over blocks. Eigen picks its blocking, and so its rounding, from the
  // number of threads; with fixed blocks the result is bit-identical for any thread count.
  constexpr Eigen::Index block = 256;
  const Eigen::Index n_blocks = (layer.out + block - 1) / block;
  const bool threaded = n_blocks > 1 && tokens * layer.in * layer.out > (std::int64_t{1} << 20);
#pragma omp parallel for schedule(static) if (threaded)
  for (Eigen::Index b = 0; b < n_blocks; ++b) {
    const Eigen::Index o0 = b * block;
    const Eigen::Index width = std::min(block, layer.out - o0);
    ym.middleCols(o0, width).noalias() = xm * wt.middleCols(o0, width);
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
      const float* wj = layer.fanout.data() + j * out;
      float* yr = y.data() + r * out;
      for (std::size_t o = 0; o < out; ++o)
        yr[o] += a * wj[o];
    }
  }
  finish_outputs(layer, events.scale, events.zero_point, y);
}

void event_forward(const LinearWeights& layer, const coding::CodedTensor& coded, std::span<float> y) {
  if (coded.cols != layer.in) {
    throw std::invalid_argument(
        cat(layer.name, ": coded input has ", coded.cols, " presynaptic neurons, layer has ", layer.in));
  }
  check_size(layer.name + " event output", y.size(), coded.rows * layer.out);
  const auto rows = static_cast<std::size_t>(coded.rows);
  const auto in = static_cast<std::size_t>(layer.in);
  const auto out = static_cast<std::size_t>(layer.out);

  // Events batched by presynaptic neuron: for neuron j, the tokens that spiked on it and the summed step
  // weights of their spikes (the coded value). CSC layout: col_start [in + 1], token/value [non-zero values].
  std::vector<std::size_t> col_start(in + 1, 0);
  for (std::size_t i = 0; i < coded.value.size(); ++i)
    col_start[i % in + 1] += coded.value[i] != 0 ? 1U : 0U;
  for (std::size_t j = 0; j < in; ++j)
    col_start[j + 1] += col_start[j];
  std::vector<std::uint32_t> token(col_start[in]);
  std::vector<float> weight_of(col_start[in]);
  std::vector<std::size_t> fill(col_start.begin(), col_start.end() - 1);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < in; ++j) {
      const std::int32_t v = coded.value[r * in + j];
      if (v != 0) {
        token[fill[j]] = static_cast<std::uint32_t>(r);
        weight_of[fill[j]++] = static_cast<float>(v);
      }
    }
  }

  std::fill(y.begin(), y.end(), 0.0F);
  // Output neurons are split into fixed blocks; each block sums every event in the same order whatever the
  // thread count, so results are bit-identical across thread counts.
  constexpr std::size_t block = 64;
  const auto n_blocks = static_cast<std::int64_t>((out + block - 1) / block);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    const std::size_t o0 = static_cast<std::size_t>(b) * block;
    const std::size_t o1 = std::min(out, o0 + block);
    for (std::size_t j = 0; j < in; ++j) {
      const float* wj = layer.fanout.data() + j * out;
      for (std::size_t e = col_start[j]; e < col_start[j + 1]; ++e) {
        float* yr = y.data() + static_cast<std::size_t>(token[e]) * out;
        const float a = weight_of[e];
        for (std::size_t o = o0; o < o1; ++o)
          yr[o] += a * wj[o];
      }
    }
  }
  finish_outputs(layer, coded.scale, coded.zero_point, y);
}

}  // namespace spikesim::sim
