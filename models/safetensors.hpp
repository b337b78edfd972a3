#pragma once
// The safetensors format (huggingface/safetensors), memory-mapped:
//
//   uint64 little-endian N | N bytes of JSON header | data section
//   header: {"<tensor>": {"dtype": "F32"|"F16"|"BF16"|..., "shape": [..], "data_offsets": [begin, end]}, ...,
//            "__metadata__": {"key": "value", ...} (optional)}
//   offsets are relative to the data section; end - begin = numel x dtype size.
//
// Every offset is checked against the file size and against the other tensors (no overlap), every byte
// count against shape x dtype. F32/F16/BF16 tensors become views into the map (an F32 tensor whose bytes are
// not 4-byte aligned is copied once); other valid safetensors dtypes are listed in `unsupported` and only
// fail when a model needs them.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/network.hpp"

namespace spikesim::models {

struct SafetensorsFile {
  std::string file;
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> unsupported;    // tensor name -> dtype spikesim does not read (e.g. I64)
  std::map<std::string, std::string> metadata;       // __metadata__
  std::vector<std::shared_ptr<const void>> storage;  // the map, and copies of unaligned tensors
};

SafetensorsFile read_safetensors(const std::filesystem::path& file);

// One tensor to write: raw little-endian bytes of `dtype` ("F32", "F16", "BF16").
struct TensorBytes {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

// The file's bytes: header padded with spaces to a multiple of 8 bytes, tensors in the given order.
std::string safetensors_bytes(const std::vector<TensorBytes>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Rounds float to IEEE half / bfloat16, to nearest even (NaN stays NaN).
std::uint16_t float_to_half(float value);
std::uint16_t float_to_bf16(float value);

}  // namespace spikesim::models
