#include "sim/kernels/ops.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "base/text.hpp"

namespace spikesim::sim::ops {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

// Calls f(out_offset_of_row, offsets...) for every row (all dimensions but the last) of `shape`, where
// each offset advances by its strides. Rows are visited in row-major order.
template <class F>
void for_each_row(const Shape& shape, const std::vector<const Shape*>& strides, F&& f) {
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> index(rank, 0);
  std::vector<std::int64_t> offsets(strides.size(), 0);
  const std::int64_t last = rank == 0 ? 1 : shape[rank - 1];
  const std::int64_t rows = last == 0 ? 0 : numel(shape) / last;
  for (std::int64_t r = 0; r < rows; ++r) {
    f(r * last, offsets);
    // advance the index over dims [0, rank - 1)
    for (std::size_t d = rank >= 1 ? rank - 1 : 0; d-- > 0;) {
      ++index[d];
      for (std::size_t s = 0; s < strides.size(); ++s)
        offsets[s] += (*strides[s])[d];
      if (index[d] < shape[d]) break;
      for (std::size_t s = 0; s < strides.size(); ++s)
        offsets[s] -= (*strides[s])[d] * shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace

std::int64_t numel(const Shape& shape) {
  std::int64_t n = 1;
  for (const auto d : shape)
    n *= d;
  return n;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw std::invalid_argument(cat(what, ": shapes ", shape_str(a), " and ", shape_str(b),
                                      " do not broadcast (dimension ", i, ")"));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Shape& in, const Shape& out) {
  Shape strides(out.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t k = 0; k < in.size(); ++k) {
    const std::size_t d_in = in.size() - 1 - k;
    const std::size_t d_out = out.size() - 1 - k;
    strides[d_out] = in[d_in] == 1 ? 0 : stride;
    stride *= in[d_in];
  }
  return strides;
}

void binary(Binary op, std::span<const float> a, const Shape& a_strides, std::span<const float> b,
            const Shape& b_strides, const Shape& out_shape, std::span<float> out) {
  if (numel(out_shape) == 0) return;
  // A scalar output is a rank-1 output of one element.
  const Shape one{1};
  const Shape zero{0};
  const Shape& shape = out_shape.empty() ? one : out_shape;
  const Shape& a_str = out_shape.empty() ? zero : a_strides;
  const Shape& b_str = out_shape.empty() ? zero : b_strides;
  const std::int64_t last = shape.back();
  const std::int64_t sa = a_str.back();
  const std::int64_t sb = b_str.back();
  for_each_row(shape, {&a_str, &b_str}, [&](std::int64_t o, const std::vector<std::int64_t>& off) {
    const float* pa = a.data() + off[0];
    const float* pb = b.data() + off[1];
    float* po = out.data() + o;
    switch (op) {
      case Binary::add:
        for (std::int64_t i = 0; i < last; ++i)
          po[i] = pa[i * sa] + pb[i * sb];
        break;
      case Binary::sub:
        for (std::int64_t i = 0; i < last; ++i)
          po[i] = pa[i * sa] - pb[i * sb];
        break;
      case Binary::mul:
        for (std::int64_t i = 0; i < last; ++i)
          po[i] = pa[i * sa] * pb[i * sb];
        break;
      case Binary::div:
        for (std::int64_t i = 0; i < last; ++i)
          po[i] = pa[i * sa] / pb[i * sb];
        break;
    }
  });
}

void unary(Unary op, const UnaryParams& p, std::span<const float> in, std::span<float> out) {
  const std::size_t n = in.size();
  switch (op) {
    case Unary::relu:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = in[i] > 0.0F ? in[i] : 0.0F;
      break;
    case Unary::leaky_relu:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = in[i] >= 0.0F ? in[i] : p.alpha * in[i];
      break;
    case Unary::sigmoid:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = 1.0F / (1.0F + std::exp(-in[i]));
      break;
    case Unary::tanh:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = std::tanh(in[i]);
      break;
    case Unary::clip:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = std::min(std::max(in[i], p.lo), p.hi);
      break;
  }
}

Window make_window(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t dilation,
                   std::int64_t pad_begin, std::int64_t pad_end, const std::string& auto_pad, bool ceil_mode,
                   const std::string& what) {
  if (kernel < 1 || stride < 1 || dilation < 1) {
    throw std::invalid_argument(
        cat(what, ": kernel ", kernel, ", stride ", stride, ", dilation ", dilation, " must all be >= 1"));
  }
  if (pad_begin < 0 || pad_end < 0) throw std::invalid_argument(cat(what, ": pads must be >= 0"));
  Window w{.in = in,
           .out = 0,
           .kernel = kernel,
           .stride = stride,
           .pad_begin = pad_begin,
           .pad_end = pad_end,
           .dilation = dilation};
  const std::int64_t span = dilation * (kernel - 1) + 1;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    w.out = (in + stride - 1) / stride;
    const std::int64_t total = std::max<std::int64_t>(0, (w.out - 1) * stride + span - in);
    w.pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    w.pad_end = total - w.pad_begin;
    return w;
  }
  if (auto_pad == "VALID") {
    w.pad_begin = 0;
    w.pad_end = 0;
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    throw std::invalid_argument(
        cat(what, ": auto_pad '", auto_pad, "' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)"));
  }
  const std::int64_t room = in + w.pad_begin + w.pad_end - span;
  if (room < 0) {
    throw std::invalid_argument(cat(what, ": window of ", span, " does not fit the input of ", in,
                                    " plus padding ", w.pad_begin, " + ", w.pad_end));
  }
  w.out = ceil_mode ? (room + stride - 1) / stride + 1 : room / stride + 1;
  if (ceil_mode && (w.out - 1) * stride >= in + w.pad_begin)
    --w.out;  // last window would start in the padding
  return w;
}

void max_pool(const Pool2d& p, std::int64_t planes, std::span<const float> in, std::span<float> out) {
  const Window& h = p.h;
  const Window& w = p.w;
  for (std::int64_t c = 0; c < planes; ++c) {
    const float* x = in.data() + sz(c * h.in * w.in);
    float* y = out.data() + sz(c * h.out * w.out);
    for (std::int64_t oy = 0; oy < h.out; ++oy) {
      for (std::int64_t ox = 0; ox < w.out; ++ox) {
        float best = -std::numeric_limits<float>::infinity();
        for (std::int64_t ky = 0; ky < h.kernel; ++ky) {
          const std::int64_t iy = oy * h.stride - h.pad_begin + ky * h.dilation;
          if (iy < 0 || iy >= h.in) continue;
          for (std::int64_t kx = 0; kx < w.kernel; ++kx) {
            const std::int64_t ix = ox * w.stride - w.pad_begin + kx * w.dilation;
            if (ix < 0 || ix >= w.in) continue;
            best = std::max(best, x[iy * w.in + ix]);
          }
        }
        y[oy * w.out + ox] = best;
      }
    }
  }
}

void average_pool(const Pool2d& p, std::int64_t planes, std::span<const float> in, std::span<float> out) {
  const Window& h = p.h;
  const Window& w = p.w;
  for (std::int64_t c = 0; c < planes; ++c) {
    const float* x = in.data() + sz(c * h.in * w.in);
    float* y = out.data() + sz(c * h.out * w.out);
    for (std::int64_t oy = 0; oy < h.out; ++oy) {
      const std::int64_t y0 = oy * h.stride - h.pad_begin;
      const std::int64_t y1 = std::min(y0 + h.kernel, h.in + h.pad_end);  // end inside the padded input
      for (std::int64_t ox = 0; ox < w.out; ++ox) {
        const std::int64_t x0 = ox * w.stride - w.pad_begin;
        const std::int64_t x1 = std::min(x0 + w.kernel, w.in + w.pad_end);
        double sum = 0.0;
        std::int64_t inside = 0;
        for (std::int64_t iy = std::max<std::int64_t>(y0, 0); iy < std::min(y1, h.in); ++iy) {
          for (std::int64_t ix = std::max<std::int64_t>(x0, 0); ix < std::min(x1, w.in); ++ix) {
            sum += static_cast<double>(x[iy * w.in + ix]);
            ++inside;
          }
        }
        const std::int64_t divisor = p.count_include_pad ? (y1 - y0) * (x1 - x0) : inside;
        y[oy * w.out + ox] = divisor > 0 ? static_cast<float>(sum / static_cast<double>(divisor)) : 0.0F;
      }
    }
  }
}

std::int64_t pool_taps(const Pool2d& p) {
  auto axis = [](const Window& a) {
    std::int64_t taps = 0;
    for (std::int64_t o = 0; o < a.out; ++o) {
      for (std::int64_t k = 0; k < a.kernel; ++k) {
        const std::int64_t i = o * a.stride - a.pad_begin + k * a.dilation;
        taps += (i >= 0 && i < a.in) ? 1 : 0;
      }
    }
    return taps;
  };
  return axis(p.h) * axis(p.w);
}

void global_average_pool(std::int64_t planes, std::int64_t size, std::span<const float> in,
                         std::span<float> out) {
  for (std::int64_t c = 0; c < planes; ++c) {
    double sum = 0.0;
    const float* x = in.data() + sz(c * size);
    for (std::int64_t i = 0; i < size; ++i)
      sum += static_cast<double>(x[i]);
    out[sz(c)] = static_cast<float>(sum / static_cast<double>(size));
  }
}

void batch_norm(std::int64_t outer, std::int64_t channels, std::int64_t inner, std::span<const float> a,
                std::span<const float> b, std::span<const float> in, std::span<float> out) {
  const bool per_activation = static_cast<std::int64_t>(a.size()) == channels * inner && inner > 1;
  for (std::int64_t n = 0; n < outer; ++n) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const std::size_t base = sz((n * channels + c) * inner);
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::size_t k = per_activation ? sz(c * inner + i) : sz(c);
        out[base + sz(i)] = in[base + sz(i)] * a[k] + b[k];
      }
    }
  }
}

void transpose(const Shape& in_shape, const Shape& perm, std::span<const float> in, std::span<float> out) {
  const std::size_t rank = in_shape.size();
  Shape in_strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;)
    in_strides[d - 1] = in_strides[d] * in_shape[d];
  Shape out_shape(rank);
  Shape strides(rank);  // input stride of each output dimension
  for (std::size_t d = 0; d < rank; ++d) {
    out_shape[d] = in_shape[sz(perm[d])];
    strides[d] = in_strides[sz(perm[d])];
  }
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  const std::int64_t last = out_shape.back();
  const std::int64_t s_last = strides.back();
  for_each_row(out_shape, {&strides}, [&](std::int64_t o, const std::vector<std::int64_t>& off) {
    const float* src = in.data() + off[0];
    float* dst = out.data() + o;
    for (std::int64_t i = 0; i < last; ++i)
      dst[i] = src[i * s_last];
  });
}

void concat(std::int64_t outer, std::int64_t inner, const std::vector<std::int64_t>& sizes,
            const std::vector<std::span<const float>>& ins, std::span<float> out) {
  std::int64_t total = 0;
  for (const auto s : sizes)
    total += s;
  for (std::int64_t o = 0; o < outer; ++o) {
    std::int64_t at = 0;
    for (std::size_t k = 0; k < ins.size(); ++k) {
      const std::int64_t chunk = sizes[k] * inner;
      std::copy_n(ins[k].data() + o * chunk, chunk, out.data() + (o * total + at) * inner);
      at += sizes[k];
    }
  }
}

void softmax(std::int64_t outer, std::int64_t len, std::int64_t inner, bool log, std::span<const float> in,
             std::span<float> out) {
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      const std::size_t base = sz(o * len * inner + i);
      float top = -std::numeric_limits<float>::infinity();
      for (std::int64_t k = 0; k < len; ++k)
        top = std::max(top, in[base + sz(k * inner)]);
      double sum = 0.0;
      for (std::int64_t k = 0; k < len; ++k)
        sum += std::exp(static_cast<double>(in[base + sz(k * inner)] - top));
      const double log_sum = std::log(sum);
      for (std::int64_t k = 0; k < len; ++k) {
        const double shifted = static_cast<double>(in[base + sz(k * inner)] - top);
        out[base + sz(k * inner)] = static_cast<float>(log ? shifted - log_sum : std::exp(shifted) / sum);
      }
    }
  }
}

void matmul(const Shape& out_batch, const Shape& a_batch_strides, const Shape& b_batch_strides,
            std::int64_t m, std::int64_t k, std::int64_t n, std::span<const float> a,
            std::span<const float> b, std::span<float> out) {
  auto one = [&](std::int64_t o, std::int64_t ia, std::int64_t ib) {
    const Eigen::Map<const RowMatrix> am(a.data() + ia * m * k, m, k);
    const Eigen::Map<const RowMatrix> bm(b.data() + ib * k * n, k, n);
    Eigen::Map<RowMatrix> om(out.data() + o * m * n, m, n);
    om.noalias() = am * bm;
  };
  if (out_batch.empty()) {
    one(0, 0, 0);
    return;
  }
  // Walk the batch index; out_batch's last dimension is the inner loop.
  const std::int64_t last = out_batch.back();
  const std::int64_t sa = a_batch_strides.back();
  const std::int64_t sb = b_batch_strides.back();
  for_each_row(out_batch, {&a_batch_strides, &b_batch_strides},
               [&](std::int64_t o, const std::vector<std::int64_t>& off) {
                 for (std::int64_t i = 0; i < last; ++i)
                   one(o + i, off[0] + i * sa, off[1] + i * sb);
               });
}

}  // namespace spikesim::sim::ops
