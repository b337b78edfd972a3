#include "models/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>

#include "base/checked.hpp"
#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

namespace {

// A file read through zlib, which passes uncompressed files through unchanged.
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& file) : f_(file.string()), gz_(nullptr, gzclose) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw ModelError(cat(f_, ": file not found"));
    if (!std::filesystem::is_regular_file(file, ec)) throw ModelError(cat(f_, ": not a regular file"));
    file_bytes_ = std::filesystem::file_size(file, ec);
    gz_.reset(gzopen(f_.c_str(), "rb"));
    if (!gz_) throw ModelError(cat(f_, ": cannot open"));
  }
  [[nodiscard]] bool compressed() { return gzdirect(gz_.get()) == 0; }
  [[nodiscard]] std::uint64_t file_bytes() const { return file_bytes_; }

  // Reads up to `n` bytes into `dst`; returns how many (fewer only at the end of the data).
  std::size_t read(unsigned char* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const auto want = static_cast<unsigned>(std::min<std::size_t>(n - done, std::size_t{1} << 30));
      const int got = gzread(gz_.get(), dst + done, want);
      if (got < 0) fail("corrupt gzip stream");
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    // zlib reports a stream cut short only through gzerror after the last read.
    int code = 0;
    gzerror(gz_.get(), &code);
    if (code != Z_OK && code != Z_STREAM_END) fail("truncated or corrupt gzip stream");
    return done;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    int code = 0;
    const char* msg = gzerror(gz_.get(), &code);
    throw ModelError(cat(f_, ": ", what, " (", msg, ")"));
  }

  std::string f_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz_;
  std::uint64_t file_bytes_ = 0;
};

// Deflate expands at most ~1032:1: a payload declared larger than that for the file's size is a lie, found
// before anything is allocated or inflated.
constexpr std::uint64_t max_deflate_ratio = 1032;

std::size_t element_bytes(std::uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

std::uint64_t big_endian(const unsigned char* p, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i)
    v = (v << 8U) | p[i];
  return v;
}

double decode(std::uint8_t type, const unsigned char* p) {
  switch (type) {
    case 0x08:
      return p[0];
    case 0x09:
      return static_cast<std::int8_t>(p[0]);
    case 0x0B:
      return static_cast<std::int16_t>(big_endian(p, 2));
    case 0x0C:
      return static_cast<std::int32_t>(big_endian(p, 4));
    case 0x0D:
      return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(big_endian(p, 4))));
    default:
      return std::bit_cast<double>(big_endian(p, 8));
  }
}

}  // namespace

IdxArray read_idx(const std::filesystem::path& file) {
  IdxArray out;
  out.file = file.string();
  const std::string& f = out.file;
  GzReader in(file);
  // Header first; the payload's size follows from it and is checked before it is read.
  std::array<unsigned char, 4 + 4 * 255> header{};
  const std::size_t got = in.read(header.data(), 4);
  if (got < 4) throw ModelError(cat(f, ": not an IDX file (", got, " bytes, header needs 4)"));
  if (header[0] != 0 || header[1] != 0) {
    throw ModelError(cat(f, ": not an IDX file (magic starts with 0x", std::hex, static_cast<int>(header[0]),
                         " 0x", static_cast<int>(header[1]), ", expected 0x0 0x0)"));
  }
  out.type = header[2];
  const std::size_t elem = element_bytes(out.type);
  if (elem == 0) {
    throw ModelError(cat(f, ": unknown IDX element type 0x", std::hex, static_cast<int>(out.type),
                         " (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)"));
  }
  const std::size_t rank = header[3];
  if (rank == 0) throw ModelError(cat(f, ": IDX header declares 0 dimensions"));
  const std::size_t header_bytes = 4 + 4 * rank;
  if (const std::size_t dims_got = in.read(header.data() + 4, 4 * rank); dims_got < 4 * rank) {
    throw ModelError(cat(f, ": truncated IDX header (", 4 + dims_got, " bytes, ", rank, " dimensions need ",
                         header_bytes, ")"));
  }
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const auto dim = static_cast<std::int64_t>(big_endian(header.data() + 4 + 4 * d, 4));
    if (dim <= 0 || dim > (1LL << 31)) throw ModelError(cat(f, ": IDX dimension ", d, " is ", dim));
    out.shape.push_back(dim);
    count = checked_mul<ModelError>(count, static_cast<std::uint64_t>(dim), cat(f, ": IDX dimensions"));
    if (count > (1ULL << 40))
      throw ModelError(cat(f, ": IDX dimensions ", shape_str(out.shape), " are implausibly large"));
  }
  const std::uint64_t payload = count * elem;
  const std::uint64_t expected = header_bytes + payload;
  const bool gz = in.compressed();
  const std::uint64_t most = gz ? in.file_bytes() * max_deflate_ratio : in.file_bytes();
  if (expected > most) {
    throw ModelError(cat(f, ": IDX payload for ", shape_str(out.shape), " needs ", expected,
                         " bytes, file has ",
                         gz ? cat(in.file_bytes(), " compressed bytes, which inflate to at most ", most)
                            : cat(in.file_bytes()),
                         gz ? " (truncated, or a corrupt header)" : " (truncated)"));
  }
  std::vector<unsigned char> bytes(static_cast<std::size_t>(payload));
  const std::size_t read = in.read(bytes.data(), bytes.size());
  unsigned char extra = 0;
  if (read < payload || in.read(&extra, 1) != 0) {
    throw ModelError(cat(f, ": IDX payload for ", shape_str(out.shape), " needs ", expected,
                         " bytes, file has ", read < payload ? cat(header_bytes + read) : cat("more"),
                         read < payload ? " (truncated)" : " (trailing data)"));
  }
  out.values.resize(count);
  const unsigned char* p = bytes.data();
  for (std::size_t i = 0; i < count; ++i)
    out.values[i] = decode(out.type, p + i * elem);
  return out;
}

Layout parse_layout(std::string_view text) {
  if (text == "nchw" || text == "NCHW") return Layout::nchw;
  if (text == "nhwc" || text == "NHWC") return Layout::nhwc;
  throw ModelError(cat("unknown layout '", text, "' (expected nchw or nhwc)"));
}

std::string_view name(Layout layout) {
  return layout == Layout::nchw ? "nchw" : "nhwc";
}

double parse_scale(const std::string& text, const std::string& what) {
  auto number = [&](const std::string& part) {
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || !std::isfinite(v))
      throw ModelError(cat(what, ": '", text, "' is not a number or a ratio like 1/255"));
    return v;
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) return number(text);
  const double den = number(text.substr(slash + 1));
  if (den == 0.0) throw ModelError(cat(what, ": '", text, "' divides by zero"));
  return number(text.substr(0, slash)) / den;
}

Dataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         std::int64_t limit) {
  IdxArray img = read_idx(images);
  Dataset d;
  d.images_file = img.file;
  if (img.shape.size() != 3 && img.shape.size() != 4) {
    throw ModelError(cat(img.file, ": images have shape ", shape_str(img.shape),
                         " but expected [N, H, W] or [N, H, W, C]"));
  }
  d.samples = img.shape[0];
  d.height = img.shape[1];
  d.width = img.shape[2];
  d.channels = img.shape.size() == 4 ? img.shape[3] : 1;
  for (std::size_t i = 0; i < img.values.size(); ++i) {
    if (!std::isfinite(img.values[i])) throw ModelError(cat(img.file, ": non-finite value at element ", i));
  }
  const std::int64_t keep = limit > 0 ? std::min(limit, d.samples) : d.samples;
  d.pixels.assign(img.values.begin(), img.values.begin() + keep * d.sample_size());
  if (!labels.empty()) {
    const IdxArray lab = read_idx(labels);
    d.labels_file = lab.file;
    if (lab.shape.size() != 1) {
      throw ModelError(cat(lab.file, ": labels have shape ", shape_str(lab.shape), " but expected [N]"));
    }
    if (lab.shape[0] != d.samples) {
      throw ModelError(
          cat(lab.file, ": ", lab.shape[0], " labels but ", img.file, " has ", d.samples, " images"));
    }
    d.labels.resize(static_cast<std::size_t>(keep));
    for (std::size_t i = 0; i < d.labels.size(); ++i) {
      const double v = lab.values[i];
      if (!std::isfinite(v) || v < 0 || v > 2147483647.0 || std::trunc(v) != v) {
        throw ModelError(cat(lab.file, ": label ", i, " is ", v,
                             ", expected a class index (a whole number in [0, 2^31))"));
      }
      d.labels[i] = static_cast<std::int64_t>(v);
    }
  }
  d.samples = keep;
  return d;
}

void validate(const Preprocess& p, std::int64_t channels) {
  if (!std::isfinite(p.scale)) throw ModelError(cat("--scale must be finite, got ", p.scale));
  for (const auto* list : {&p.mean, &p.std}) {
    const char* what = list == &p.mean ? "--mean" : "--std";
    if (!list->empty() && list->size() != 1 && static_cast<std::int64_t>(list->size()) != channels) {
      throw ModelError(cat(what, " has ", list->size(), " values but the images have ", channels,
                           " channels (give one value, or one per channel)"));
    }
    for (const double v : *list) {
      if (!std::isfinite(v)) throw ModelError(cat(what, " must be finite, got ", v));
    }
  }
  for (const double v : p.std) {
    if (v == 0.0) throw ModelError("--std must not be 0");
  }
}

void preprocess(const Dataset& data, std::int64_t first, std::int64_t count, const Preprocess& p,
                std::span<float> out) {
  validate(p, data.channels);
  const auto h = static_cast<std::size_t>(data.height);
  const auto w = static_cast<std::size_t>(data.width);
  const auto c = static_cast<std::size_t>(data.channels);
  const std::size_t per_sample = h * w * c;
  if (first < 0 || count < 0 || first + count > data.samples ||
      out.size() != static_cast<std::size_t>(count) * per_sample) {
    throw ModelError(cat("preprocess: samples [", first, ", ", first + count, ") of ", data.samples, " into ",
                         out.size(), " values"));
  }
  auto channel_value = [](const std::vector<double>& list, std::size_t ch, double fallback) {
    if (list.empty()) return fallback;
    return list.size() == 1 ? list[0] : list[ch];
  };
  for (std::size_t n = 0; n < static_cast<std::size_t>(count); ++n) {
    const float* src = data.pixels.data() + (static_cast<std::size_t>(first) + n) * per_sample;  // [H][W][C]
    float* dst = out.data() + n * per_sample;
    for (std::size_t ch = 0; ch < c; ++ch) {
      const double mean = channel_value(p.mean, ch, 0.0);
      const double sd = channel_value(p.std, ch, 1.0);
      for (std::size_t i = 0; i < h * w; ++i) {
        const double v = (static_cast<double>(src[i * c + ch]) * p.scale - mean) / sd;
        const std::size_t at = p.layout == Layout::nchw ? ch * h * w + i : i * c + ch;
        dst[at] = static_cast<float>(v);
      }
    }
  }
}

}  // namespace spikesim::models
