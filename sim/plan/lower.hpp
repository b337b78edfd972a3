#pragma once
// The one lowering: a network description (models/network.hpp), whatever loader built it (ONNX, Keras,
// llama2.c, safetensors, HDF5 trace), becomes one Plan (sim/plan/plan.hpp):
//   1. every op is lowered to a step over flat buffers (shapes checked; constant subgraphs folded; an Add of
//      a per-channel constant right after a site's output folded into the site's bias; shape ops such as
//      Reshape, Flatten, Squeeze, Identity and Dropout are views and cost nothing);
//   2. the fusion pass (sim/plan/fuse.hpp) makes projections that read the same tensor one synaptic site;
//   3. the site selection (sim/plan/select.hpp) marks the coded sites.
// Network plans run `batch` samples at a time (the model's static batch, or any chosen batch when the
// input's first dimension is dynamic); every runtime value must keep samples contiguous (dimension 0 is the
// batch, possibly merged with following dimensions by a reshape); spike coding is per sample.

#include <cstdint>

#include "models/network.hpp"
#include "sim/plan/plan.hpp"
#include "sim/plan/select.hpp"

namespace spikesim::sim {

struct LowerOptions {
  std::int64_t batch = 1;   // network plans: samples per run when the input batch is dynamic
  SiteSelection sites;      // which synaptic sites are spike-coded
  bool shape_only = false;  // token plans: weights are shapes only (no values read; every synapse taken as
                            // non-zero): a plan that can be counted (sim/run/account.hpp) but not run
};

// ModelError naming the source file, the op and expected vs found for anything the plan cannot run (shape
// mismatches, non-constant shapes or weights, unknown site names in the selection).
Plan lower_network(const models::Network& network, const LowerOptions& options = {});

}  // namespace spikesim::sim
