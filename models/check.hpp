#pragma once
// Validation shared by loaders: finite values, expected shapes. Errors name the file and the tensor.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace spikesim::models {

// Throws ModelError "<file>: <tensor> contains NaN at [i, j]" for the first non-finite value.
void check_finite(std::span<const float> values, const std::vector<std::int64_t>& shape,
                  const std::string& file, const std::string& tensor);

// Throws ModelError "<file>: <tensor> has shape [..] but expected [..]"; -1 in `expected` matches any size.
void check_shape(const std::vector<std::int64_t>& found, const std::vector<std::int64_t>& expected,
                 const std::string& file, const std::string& tensor, const std::string& why = "");

}  // namespace spikesim::models
