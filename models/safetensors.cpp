#include "models/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/checked.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "models/error.hpp"
#include "models/mapped_file.hpp"

namespace spikesim::models {

namespace {

// Element size of every dtype the safetensors format defines (0 for unknown names).
std::size_t dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes{
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

}  // namespace

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  auto map = map_file(path);
  SafetensorsFile out;
  out.file = map->path();
  const std::string& file = out.file;
  const std::span<const std::byte> bytes = map->bytes();
  if (bytes.size() < 8) {
    throw ModelError(cat(file, ": truncated safetensors file: ", bytes.size(),
                         " bytes, expected at least 8 for the header length"));
  }
  std::uint64_t header_len = 0;
  for (std::size_t i = 0; i < 8; ++i)
    header_len |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(bytes[i])) << (8 * i);
  if (header_len > bytes.size() - 8) {
    throw ModelError(cat(file, ": safetensors header length ", header_len, " exceeds the file (",
                         bytes.size(), " bytes): truncated or not a safetensors file"));
  }
  const std::uint64_t data_start = 8 + header_len;
  const std::uint64_t data_size = bytes.size() - data_start;
  const auto header = parse_json<ModelError>(
      std::string_view(reinterpret_cast<const char*>(bytes.data() + 8), header_len),  // NOLINT
      cat(file, ": safetensors header"));
  if (!header.is_object()) throw ModelError(cat(file, ": safetensors header is not a JSON object"));

  std::vector<Entry> entries;
  for (const auto& [name, info] : JsonAt<ModelError>(header, file).items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : info.items())
        out.metadata[k] = v.is_string() ? v.string() : v.json().dump();
      continue;
    }
    Entry e;
    e.name = name;
    e.dtype = info.at("dtype").string();
    for (const auto& d : info.at("shape").elements())
      e.shape.push_back(d.integer(0));
    const auto offsets = info.at("data_offsets");
    if (offsets.size() != 2) offsets.fail("must hold [begin, end]");
    e.begin = static_cast<std::uint64_t>(offsets.at(0).integer(0));
    e.end = static_cast<std::uint64_t>(offsets.at(1).integer(0));
    entries.push_back(std::move(e));
  }
  for (const Entry& e : entries) {
    const std::string what = cat(file, ": tensor '", e.name, "'");
    const std::size_t elem = dtype_bytes(e.dtype);
    if (elem == 0) throw ModelError(cat(what, ": unknown dtype '", e.dtype, "'"));
    const std::uint64_t need = checked_mul<ModelError>(
        checked_numel<ModelError>(e.shape, cat(what, " shape ", shape_str(e.shape))), std::uint64_t{elem},
        cat(what, " shape ", shape_str(e.shape), " of ", e.dtype));
    if (e.end < e.begin) {
      throw ModelError(cat(what, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin"));
    }
    if (e.end > data_size) {
      throw ModelError(cat(what, ": data_offsets [", e.begin, ", ", e.end, "] reach past the data section (",
                           data_size, " bytes; file ", bytes.size(), " bytes): truncated or corrupt"));
    }
    if (e.end - e.begin != need) {
      throw ModelError(cat(what, ": data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
                           " bytes but shape ", shape_str(e.shape), " of ", e.dtype, " needs ", need));
    }
  }
  // No two tensors may share bytes. Sorted by offset, each non-empty tensor must start at or after the
  // furthest end seen so far (empty tensors hold no bytes and must not hide an overlap of their neighbours).
  std::vector<const Entry*> by_offset;
  by_offset.reserve(entries.size());
  for (const Entry& e : entries) {
    if (e.end > e.begin) by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  const Entry* furthest = nullptr;
  for (const Entry* b : by_offset) {
    if (furthest != nullptr && b->begin < furthest->end) {
      throw ModelError(cat(file, ": tensor '", b->name, "' data_offsets [", b->begin, ", ", b->end,
                           "] overlap tensor '", furthest->name, "' [", furthest->begin, ", ", furthest->end,
                           "]"));
    }
    if (furthest == nullptr || b->end > furthest->end) furthest = b;
  }

  out.storage.push_back(map);
  for (const Entry& e : entries) {
    Tensor t;
    t.name = e.name;
    t.shape = e.shape;
    if (e.dtype == "F32") {
      t.dtype = DType::f32;
    } else if (e.dtype == "F16") {
      t.dtype = DType::f16;
    } else if (e.dtype == "BF16") {
      t.dtype = DType::bf16;
    } else {
      out.unsupported[e.name] = e.dtype;
      continue;
    }
    const std::byte* data = bytes.data() + data_start + e.begin;
    const std::size_t n = e.end - e.begin;
    const std::size_t align = t.dtype == DType::f32 ? alignof(float) : alignof(std::uint16_t);
    if (reinterpret_cast<std::uintptr_t>(data) % align != 0) {  // NOLINT
      // The format does not promise alignment: copy this tensor once so it can be read as floats.
      auto copy = std::make_shared<std::vector<float>>((n + sizeof(float) - 1) / sizeof(float));
      std::memcpy(copy->data(), data, n);
      data = reinterpret_cast<const std::byte*>(copy->data());  // NOLINT
      out.storage.push_back(copy);
    }
    t.bytes = {data, n};
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

std::string safetensors_bytes(const std::vector<TensorBytes>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const TensorBytes& t : tensors) {
    std::uint64_t numel = 1;
    for (const auto d : t.shape)
      numel *= static_cast<std::uint64_t>(d);
    if (dtype_bytes(t.dtype) * numel != t.bytes.size()) {
      throw ModelError(cat("safetensors writer: tensor '", t.name, "' has ", t.bytes.size(),
                           " bytes but shape ", shape_str(t.shape), " of ", t.dtype, " needs ",
                           dtype_bytes(t.dtype) * numel));
    }
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  const std::uint64_t n = json.size();
  for (std::size_t i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((n >> (8 * i)) & 0xFFU));
  out += json;
  for (const TensorBytes& t : tensors)
    out += t.bytes;
  return out;
}

std::uint16_t float_to_bf16(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFU) > 0x7F800000U) return static_cast<std::uint16_t>((bits >> 16U) | 0x40U);  // NaN
  const std::uint32_t rounding = 0x7FFFU + ((bits >> 16U) & 1U);
  return static_cast<std::uint16_t>((bits + rounding) >> 16U);
}

std::uint16_t float_to_half(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16U) & 0x8000U);
  const std::uint32_t abs = bits & 0x7FFFFFFFU;
  if (abs > 0x7F800000U) return static_cast<std::uint16_t>(sign | 0x7E00U);  // NaN
  if (abs >= 0x47800000U) {                                                  // >= 65536 (after rounding: inf)
    return static_cast<std::uint16_t>(sign | 0x7C00U);
  }
  if (abs < 0x38800000U) {               // below the smallest normal half (2^-14): subnormal or zero
    if (abs < 0x33000000U) return sign;  // < 2^-25 rounds to zero
    const std::uint32_t exp = abs >> 23U;
    const std::uint32_t mant = (abs & 0x7FFFFFU) | 0x800000U;
    const std::uint32_t shift = 126U - exp;  // half subnormal m = value x 2^24 = mant x 2^(exp - 126)
    const std::uint32_t half_mant = mant >> shift;
    const std::uint32_t rem = mant & ((1U << shift) - 1U);
    const std::uint32_t halfway = 1U << (shift - 1U);
    std::uint32_t r = half_mant;
    if (rem > halfway || (rem == halfway && (half_mant & 1U))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  // normal: rebias exponent 127 -> 15, round mantissa 23 -> 10 bits to nearest even
  std::uint32_t h = ((abs >> 13U) - (112U << 10U));
  const std::uint32_t rem = abs & 0x1FFFU;
  if (rem > 0x1000U || (rem == 0x1000U && (h & 1U))) ++h;  // may carry into the exponent (correct, up to inf)
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace spikesim::models
