#pragma once
// Errors for bad model / trace / checkpoint files. Messages name the file, the tensor and expected vs found.

#include <stdexcept>

namespace spikesim::models {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace spikesim::models
