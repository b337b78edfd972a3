#include "sim/kernels/conv.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <stdexcept>

#include "base/text.hpp"
#include "sim/kernels/linear.hpp"

namespace spikesim::sim {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_size(std::string_view what, std::size_t found, std::int64_t expected) {
  if (found != static_cast<std::size_t>(expected)) {
    throw std::invalid_argument(cat(what, ": expected ", expected, " values, found ", found));
  }
}

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

// y[r][m][p] = scale[r] * (acc[r][m][p] - zero_point[r] * window_sum[m][p]) + bias[m]
void finish_outputs(const ConvWeights& conv, std::span<const float> scale,
                    std::span<const std::int32_t> zero_point, std::span<float> y) {
  const ConvGeometry& g = conv.geometry;
  finish_event_outputs(scale, zero_point, conv.window_sum, conv.bias, sz(g.out_h * g.out_w), y);
}

}  // namespace

void ConvGeometry::finish(const std::string& what) {
  auto bad = [&](const std::string& why) { throw std::invalid_argument(cat(what, ": ", why)); };
  if (in_channels <= 0 || in_h <= 0 || in_w <= 0 || out_channels <= 0)
    bad(cat("empty convolution (input ", in_channels, "x", in_h, "x", in_w, ", ", out_channels,
            " output channels)"));
  if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0) {
    bad(cat("group = ", groups, " must divide the ", in_channels, " input and ", out_channels,
            " output channels"));
  }
  if (kernel_h <= 0 || kernel_w <= 0 || stride_h <= 0 || stride_w <= 0 || dilation_h <= 0 || dilation_w <= 0)
    bad("kernel, strides and dilations must be >= 1");
  if (pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0) bad("pads must be >= 0");
  const std::int64_t span_h = dilation_h * (kernel_h - 1) + 1;
  const std::int64_t span_w = dilation_w * (kernel_w - 1) + 1;
  const std::int64_t padded_h = in_h + pad_top + pad_bottom;
  const std::int64_t padded_w = in_w + pad_left + pad_right;
  if (span_h > padded_h || span_w > padded_w) {
    bad(cat("kernel footprint ", span_h, "x", span_w, " is larger than the padded input ", padded_h, "x",
            padded_w));
  }
  out_h = (padded_h - span_h) / stride_h + 1;
  out_w = (padded_w - span_w) / stride_w + 1;
}

AxisTaps axis_taps(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                   std::int64_t pad_begin, std::int64_t dilation) {
  AxisTaps t;
  t.start.assign(sz(in) + 1, 0);
  for (std::int64_t i = 0; i < in; ++i) {
    for (std::int64_t k = 0; k < kernel; ++k) {
      // Output o reads input o * stride - pad_begin + k * dilation.
      const std::int64_t num = i + pad_begin - k * dilation;
      if (num < 0 || num % stride != 0 || num / stride >= out) continue;
      t.kernel.push_back(k);
      t.output.push_back(num / stride);
    }
    t.start[sz(i) + 1] = static_cast<std::int64_t>(t.kernel.size());
  }
  return t;
}

ConvWeights ConvWeights::lower(std::string name, const ConvGeometry& geometry, std::span<const float> w,
                               std::span<const float> bias) {
  const ConvGeometry& g = geometry;
  check_size(name + " weight", w.size(), g.weight_count());
  if (!bias.empty()) check_size(name + " bias", bias.size(), g.out_channels);
  ConvWeights conv;
  conv.name = std::move(name);
  conv.geometry = g;
  conv.weight.assign(w.begin(), w.end());
  conv.bias.assign(bias.begin(), bias.end());
  const std::size_t cg = sz(g.in_per_group());
  const std::size_t mg = sz(g.out_per_group());
  const std::size_t kh = sz(g.kernel_h);
  const std::size_t kw = sz(g.kernel_w);

  // fanout [C][kh][kw][M/G]; nonzero_per_tap [C][kh][kw]
  conv.fanout.assign(sz(g.in_channels) * kh * kw * mg, 0.0F);
  std::vector<std::int64_t> nonzero_per_tap(sz(g.in_channels) * kh * kw, 0);
  for (std::size_t m = 0; m < sz(g.out_channels); ++m) {
    const std::size_t group = m / mg;
    for (std::size_t cl = 0; cl < cg; ++cl) {
      const std::size_t c = group * cg + cl;
      for (std::size_t k = 0; k < kh * kw; ++k) {
        const float v = w[(m * cg + cl) * kh * kw + k];
        conv.fanout[(c * kh * kw + k) * mg + (m - group * mg)] = v;
        nonzero_per_tap[c * kh * kw + k] += v != 0.0F ? 1 : 0;
      }
    }
  }

  conv.taps_h = axis_taps(g.in_h, g.out_h, g.kernel_h, g.stride_h, g.pad_top, g.dilation_h);
  conv.taps_w = axis_taps(g.in_w, g.out_w, g.kernel_w, g.stride_w, g.pad_left, g.dilation_w);
  conv.fanout_count.assign(sz(g.in_size()), 0);
  conv.fanout_nonzero.assign(sz(g.in_size()), 0);
  for (std::size_t c = 0; c < sz(g.in_channels); ++c) {
    for (std::int64_t iy = 0; iy < g.in_h; ++iy) {
      for (std::int64_t ix = 0; ix < g.in_w; ++ix) {
        const std::size_t j = (c * sz(g.in_h) + sz(iy)) * sz(g.in_w) + sz(ix);
        conv.fanout_count[j] = static_cast<std::int64_t>(mg) * conv.taps_h.count(iy) * conv.taps_w.count(ix);
        std::int64_t nz = 0;
        for (auto a = conv.taps_h.start[sz(iy)]; a < conv.taps_h.start[sz(iy) + 1]; ++a) {
          for (auto b = conv.taps_w.start[sz(ix)]; b < conv.taps_w.start[sz(ix) + 1]; ++b) {
            nz += nonzero_per_tap[(c * kh + sz(conv.taps_h.kernel[sz(a)])) * kw +
                                  sz(conv.taps_w.kernel[sz(b)])];
          }
        }
        conv.fanout_nonzero[j] = nz;
      }
    }
  }

  // window_sum = conv(ones) without bias: the zero-point correction of each output position.
  ConvWeights unbiased = conv;
  unbiased.bias.clear();
  const std::vector<float> ones(sz(g.in_size()), 1.0F);
  conv.window_sum.assign(sz(g.out_size()), 0.0F);
  conv_dense_forward(unbiased, ones, 1, conv.window_sum);
  return conv;
}

void conv_dense_forward(const ConvWeights& conv, std::span<const float> x, std::int64_t samples,
                        std::span<float> y) {
  const ConvGeometry& g = conv.geometry;
  check_size(conv.name + " dense input", x.size(), samples * g.in_size());
  check_size(conv.name + " dense output", y.size(), samples * g.out_size());
  const std::int64_t cg = g.in_per_group();
  const std::int64_t mg = g.out_per_group();
  const std::int64_t patch = cg * g.kernel_h * g.kernel_w;  // rows of the im2col matrix
  const std::int64_t positions = g.out_h * g.out_w;
  std::vector<float> cols(sz(patch * positions));  // [patch][positions] im2col of one group
  for (std::int64_t n = 0; n < samples; ++n) {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      // im2col: cols[(cl, ky, kx)][(oy, ox)] = x[n][grp*cg + cl][oy*s - pad + ky*d][ox*s - pad + kx*d] or 0
      for (std::int64_t cl = 0; cl < cg; ++cl) {
        const float* xc = x.data() + sz((n * g.in_channels + grp * cg + cl) * g.in_h * g.in_w);
        for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
          for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
            float* row = cols.data() + sz(((cl * g.kernel_h + ky) * g.kernel_w + kx) * positions);
            for (std::int64_t oy = 0; oy < g.out_h; ++oy) {
              const std::int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
              float* out_row = row + sz(oy * g.out_w);
              if (iy < 0 || iy >= g.in_h) {
                std::fill(out_row, out_row + g.out_w, 0.0F);
                continue;
              }
              for (std::int64_t ox = 0; ox < g.out_w; ++ox) {
                const std::int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
                out_row[ox] = (ix >= 0 && ix < g.in_w) ? xc[iy * g.in_w + ix] : 0.0F;
              }
            }
          }
        }
      }
      const Eigen::Map<const RowMatrix> wm(conv.weight.data() + sz(grp * mg * patch), mg, patch);
      const Eigen::Map<const RowMatrix> cm(cols.data(), patch, positions);
      Eigen::Map<RowMatrix> ym(y.data() + sz((n * g.out_channels + grp * mg) * positions), mg, positions);
      ym.noalias() = wm * cm;
    }
    if (!conv.bias.empty()) {
      for (std::int64_t m = 0; m < g.out_channels; ++m) {
        float* ym = y.data() + sz((n * g.out_channels + m) * positions);
        for (std::int64_t p = 0; p < positions; ++p)
          ym[p] += conv.bias[sz(m)];
      }
    }
  }
}

void conv_event_forward_reference(const ConvWeights& conv, const coding::EventStream& events,
                                  std::span<float> y) {
  const ConvGeometry& g = conv.geometry;
  if (events.cols != g.in_size()) {
    throw std::invalid_argument(cat(conv.name, ": event stream has ", events.cols,
                                    " presynaptic neurons, the layer has ", g.in_size()));
  }
  check_size(conv.name + " event output", y.size(), events.rows * g.out_size());
  std::fill(y.begin(), y.end(), 0.0F);
  const auto cols = static_cast<std::uint32_t>(events.cols);
  const std::size_t plane = sz(g.out_h * g.out_w);
  const std::size_t mg = sz(g.out_per_group());
  const std::size_t cg = sz(g.in_per_group());
  const std::size_t khw = sz(g.kernel_h * g.kernel_w);
  for (std::int32_t t = 0; t < events.steps; ++t) {
    const auto w_t = static_cast<float>(coding::step_weight(events.scheme, events.steps, t));
    for (auto e = events.step_offset[sz(t)]; e < events.step_offset[sz(t) + 1]; ++e) {
      const std::size_t r = events.neuron[e] / cols;
      const std::size_t j = events.neuron[e] % cols;  // (c, iy, ix)
      const std::size_t c = j / sz(g.in_h * g.in_w);
      const std::size_t iy = (j / sz(g.in_w)) % sz(g.in_h);
      const std::size_t ix = j % sz(g.in_w);
      const std::size_t group = c / cg;
      const std::size_t cl = c - group * cg;
      const float a = w_t * static_cast<float>(events.sign[e]);
      float* yr = y.data() + r * sz(g.out_size());
      // Every synapse of the event: output channel m of the group, kernel tap (ky, kx) landing inside.
      for (auto p = conv.taps_h.start[iy]; p < conv.taps_h.start[iy + 1]; ++p) {
        const std::size_t ky = sz(conv.taps_h.kernel[sz(p)]);
        const std::size_t oy = sz(conv.taps_h.output[sz(p)]);
        for (auto q = conv.taps_w.start[ix]; q < conv.taps_w.start[ix + 1]; ++q) {
          const std::size_t kx = sz(conv.taps_w.kernel[sz(q)]);
          const std::size_t ox = sz(conv.taps_w.output[sz(q)]);
          for (std::size_t ml = 0; ml < mg; ++ml) {
            const std::size_t m = group * mg + ml;
            yr[m * plane + oy * sz(g.out_w) + ox] +=
                a * conv.weight[(m * cg + cl) * khw + ky * sz(g.kernel_w) + kx];
          }
        }
      }
    }
  }
  finish_outputs(conv, events.scale, events.zero_point, y);
}

void conv_event_forward(const ConvWeights& conv, const coding::CodedTensor& coded, std::span<float> y) {
  const ConvGeometry& g = conv.geometry;
  if (coded.cols != g.in_size()) {
    throw std::invalid_argument(cat(conv.name, ": coded input has ", coded.cols,
                                    " presynaptic neurons, the layer has ", g.in_size()));
  }
  check_size(conv.name + " event output", y.size(), coded.rows * g.out_size());
  const std::size_t rows = sz(coded.rows);
  const std::size_t in_size = sz(g.in_size());
  const std::size_t hw = sz(g.in_h * g.in_w);
  const std::size_t mg = sz(g.out_per_group());
  const std::size_t cg = sz(g.in_per_group());
  const std::size_t m_all = sz(g.out_channels);
  const std::size_t kw = sz(g.kernel_w);
  const std::size_t khw = sz(g.kernel_h) * kw;
  const std::size_t positions = sz(g.out_h * g.out_w);

  // Work items: (sample, output channel block). Each owns its outputs and walks that sample's events in
  // the same order whatever the thread count, so results are bit-identical across thread counts.
  constexpr std::size_t block = 64;
  const std::size_t blocks_per_group = (mg + block - 1) / block;
  const std::size_t blocks = sz(g.groups) * blocks_per_group;
  const auto items = static_cast<std::int64_t>(rows * blocks);
#pragma omp parallel for schedule(static) if (items > 1 && coded.size() * g.out_per_group() > 100000)
  for (std::int64_t item = 0; item < items; ++item) {
    const std::size_t r = sz(item) / blocks;
    const std::size_t b = sz(item) % blocks;
    const std::size_t group = b / blocks_per_group;
    const std::size_t m0 = (b % blocks_per_group) * block;  // within the group
    const std::size_t m1 = std::min(mg, m0 + block);
    const std::size_t width = m1 - m0;
    // acc [positions][width]: output channels innermost, like the fan-out rows.
    std::vector<float> acc(positions * width, 0.0F);
    const std::int32_t* values = coded.value.data() + r * in_size;
    for (std::size_t cl = 0; cl < cg; ++cl) {
      const std::size_t c = group * cg + cl;
      for (std::size_t i = 0; i < hw; ++i) {
        const std::int32_t v = values[c * hw + i];
        if (v == 0) continue;
        const auto a = static_cast<float>(v);
        const std::size_t iy = i / sz(g.in_w);
        const std::size_t ix = i % sz(g.in_w);
        for (auto p = conv.taps_h.start[iy]; p < conv.taps_h.start[iy + 1]; ++p) {
          const std::size_t ky = sz(conv.taps_h.kernel[sz(p)]);
          const std::size_t oy = sz(conv.taps_h.output[sz(p)]);
          for (auto q = conv.taps_w.start[ix]; q < conv.taps_w.start[ix + 1]; ++q) {
            const std::size_t kx = sz(conv.taps_w.kernel[sz(q)]);
            const std::size_t ox = sz(conv.taps_w.output[sz(q)]);
            const float* w = conv.fanout.data() + (c * khw + ky * kw + kx) * mg + m0;
            float* out = acc.data() + (oy * sz(g.out_w) + ox) * width;
            for (std::size_t m = 0; m < width; ++m)
              out[m] += a * w[m];
          }
        }
      }
    }
    float* yr = y.data() + r * m_all * positions;
    for (std::size_t m = 0; m < width; ++m) {
      const std::size_t channel = group * mg + m0 + m;
      for (std::size_t p = 0; p < positions; ++p)
        yr[channel * positions + p] = acc[p * width + m];
    }
  }
  finish_outputs(conv, coded.scale, coded.zero_point, y);
}

}  // namespace spikesim::sim
