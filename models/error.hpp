#pragma once
// Errors for bad model / trace / checkpoint / dataset files. Messages name the file, the tensor and expected
// vs found.

#include "base/error.hpp"

namespace spikesim::models {

class ModelError : public UserError {
 public:
  using UserError::UserError;
};

}  // namespace spikesim::models
