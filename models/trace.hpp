#pragma once
// HDF5 activation traces: recorded inputs of linear layers with their weights.
//
//   /layers/<name>            group, integer attribute `index` (execution order)
//   /layers/<name>/input      float [tokens, in_features]
//   /layers/<name>/weight     float [out_features, in_features]
//   /layers/<name>/bias       float [out_features]   (optional)
//
// Written by scripts/make_trace.py (numpy + h5py) or scripts/export_torch_trace.py (PyTorch forward hooks).

#include <filesystem>

#include "models/network.hpp"

namespace spikesim::models {

// Every layer becomes an `input` op feeding a coded `linear` op. Validates everything before returning:
// missing datasets, shapes, NaN/Inf, duplicate indices. ModelError names file, layer and tensor.
Network load_trace(const std::filesystem::path& file);

}  // namespace spikesim::models
