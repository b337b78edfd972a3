#pragma once
// IDX files (the MNIST / Fashion-MNIST format, LeCun et al.), plain or gzip-compressed, and the dataset
// preprocessing that turns raw pixels into a network's input.
//
//   bytes 0-1  0x00 0x00
//   byte  2    element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
//   byte  3    number of dimensions n
//   n x int32  dimension sizes, big-endian
//   data       prod(dims) elements, big-endian, row-major
//
// The reader checks the magic, the type, the dimensions and that the payload has exactly prod(dims)
// elements; a truncated or corrupt file is a ModelError naming the file and what was expected vs found.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spikesim::models {

struct IdxArray {
  std::string file;
  std::uint8_t type = 0;            // IDX element type code
  std::vector<std::int64_t> shape;  // dims as stored
  std::vector<double> values;       // [prod(shape)] exact for every IDX type
};

IdxArray read_idx(const std::filesystem::path& file);

enum class Layout { nchw, nhwc };
Layout parse_layout(std::string_view text);  // "nchw" | "nhwc"; ModelError otherwise
std::string_view name(Layout layout);

struct Preprocess {
  double scale = 1.0;        // x = raw * scale
  std::vector<double> mean;  // then (x - mean[c]) / std[c]; one value for every channel, or one per channel
  std::vector<double> std;   //
  Layout layout = Layout::nchw;  // layout of the network input the samples are arranged into
};

// Parses "1/255", "0.00392", "2e-3": a number or a ratio of two numbers. ModelError names `what`.
double parse_scale(const std::string& text, const std::string& what = "--scale");

// Images [N][H][W] (one channel) or [N][H][W][C] (IDX stores channels last) with labels [N].
struct Dataset {
  std::string images_file;
  std::string labels_file;
  std::int64_t samples = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 0;
  std::vector<float> pixels;         // [N][H][W][C] raw values as stored
  std::vector<std::int64_t> labels;  // [N] (empty without a labels file)

  [[nodiscard]] std::int64_t sample_size() const { return height * width * channels; }
};

// Reads images (and labels when `labels` is not empty); checks that they agree. `limit` > 0 keeps the
// first `limit` samples.
Dataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         std::int64_t limit = 0);

// Writes samples [first, first + count) into `out` [count][sample_size] preprocessed and arranged in
// `p.layout` (NCHW: [C][H][W] per sample; NHWC: [H][W][C]). Throws ModelError for a mean/std list whose
// length is neither 1 nor the channel count, or a zero std.
void preprocess(const Dataset& data, std::int64_t first, std::int64_t count, const Preprocess& p,
                std::span<float> out);
void validate(const Preprocess& p, std::int64_t channels);

}  // namespace spikesim::models
