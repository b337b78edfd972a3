#pragma once
// Dense kernels of the ops a network plan runs besides its synaptic sites (sim/net_plan.hpp): plain loops
// over contiguous float buffers, NCHW. The same kernels run in the dense and in the spiking run (these ops
// are never spike-coded) and fold constant subgraphs at lowering time.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace spikesim::sim::ops {

using Shape = std::vector<std::int64_t>;

std::int64_t numel(const Shape& shape);

// numpy / ONNX multidirectional broadcasting; std::invalid_argument naming `what` when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what);
// Strides of `in` (right-aligned) over the dimensions of `out`, 0 where `in` is broadcast.
Shape broadcast_strides(const Shape& in, const Shape& out);

enum class Binary { add, sub, mul, div };
// out [numel(out_shape)] = a op b, with a / b read through their broadcast strides.
void binary(Binary op, std::span<const float> a, const Shape& a_strides, std::span<const float> b,
            const Shape& b_strides, const Shape& out_shape, std::span<float> out);

enum class Unary { relu, leaky_relu, sigmoid, tanh, clip };
struct UnaryParams {
  float alpha = 0.01F;  // leaky_relu slope
  float lo = 0.0F;      // clip bounds (-inf / +inf when absent)
  float hi = 0.0F;
};
void unary(Unary op, const UnaryParams& p, std::span<const float> in, std::span<float> out);

// One spatial axis of a sliding window (convolution or pooling).
struct Window {
  std::int64_t in = 1, out = 1, kernel = 1, stride = 1, pad_begin = 0, pad_end = 0, dilation = 1;
};
// Pads from ONNX auto_pad ("NOTSET": the explicit pads; "VALID": none; "SAME_UPPER" / "SAME_LOWER": output
// ceil(in / stride), the odd padding at the end / beginning), then the output size: floor((in + pads −
// span) / stride) + 1, or ceil(...) + 1 with ceil_mode, dropping a last window that would start in the end
// padding (PyTorch's rule). std::invalid_argument naming `what` on a bad window.
Window make_window(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t dilation,
                   std::int64_t pad_begin, std::int64_t pad_end, const std::string& auto_pad, bool ceil_mode,
                   const std::string& what);

struct Pool2d {
  Window h, w;
  bool count_include_pad = false;  // average: divide by the window inside the padded input (PyTorch), or
                                   // by the taps inside the real input
};
// in [planes][h.in][w.in] -> out [planes][h.out][w.out]; padding never wins a max.
void max_pool(const Pool2d& p, std::int64_t planes, std::span<const float> in, std::span<float> out);
void average_pool(const Pool2d& p, std::int64_t planes, std::span<const float> in, std::span<float> out);
// Taps of each output position that fall inside the real input, summed (operation counts).
std::int64_t pool_taps(const Pool2d& p);

// in [planes][size] -> out [planes]
void global_average_pool(std::int64_t planes, std::int64_t size, std::span<const float> in,
                         std::span<float> out);

// out[n][c][i] = in[n][c][i] * a[c·inner_params + i?] + b[...]: per channel (params [C]) or per activation
// (params [C][inner]). x [outer][channels][inner].
void batch_norm(std::int64_t outer, std::int64_t channels, std::int64_t inner, std::span<const float> a,
                std::span<const float> b, std::span<const float> in, std::span<float> out);

void transpose(const Shape& in_shape, const Shape& perm, std::span<const float> in, std::span<float> out);

// Concatenates inputs along `axis`: each input viewed as [outer][size_i][inner].
void concat(std::int64_t outer, std::int64_t inner, const std::vector<std::int64_t>& sizes,
            const std::vector<std::span<const float>>& ins, std::span<float> out);

// Softmax (or log-softmax) over the middle axis of x [outer][len][inner].
void softmax(std::int64_t outer, std::int64_t len, std::int64_t inner, bool log, std::span<const float> in,
             std::span<float> out);

// numpy matmul on [batch...][m][k] x [batch...][k][n] with broadcast batch dimensions (ranks >= 2 here;
// the plan promotes 1-D operands). a_batch_strides / b_batch_strides are in matrices, 0 where broadcast.
void matmul(const Shape& out_batch, const Shape& a_batch_strides, const Shape& b_batch_strides,
            std::int64_t m, std::int64_t k, std::int64_t n, std::span<const float> a,
            std::span<const float> b, std::span<float> out);

}  // namespace spikesim::sim::ops
