#pragma once
// The fusion pass: linear steps that read the same value become one synaptic site. A spike of one presynaptic
// neuron reaches every synapse of every projection reading it, so the site codes its input once (spikes and
// coding-neuron updates counted once) and delivers over the whole fan-out (SOPs over every projection's
// synapses); its outputs are the projections' outputs, in order. Applies to every model kind: q|k|v and
// gate|up of a decoder, or any ONNX MatMul / Gemm pair with constant weights sharing an input.
//
// The fused site is named by the loader's site name when all its projections carry the same one (e.g.
// layers.0.attn_in), else by the projections' names joined with '|'.

#include "sim/plan/plan.hpp"

namespace spikesim::sim {

void fuse_shared_inputs(Plan& plan);

// One LinearWeights for several projections [out_i][in] reading one input: fan-out rows [in][sum out_i],
// biases concatenated (zeros for parts without one).
LinearWeights concat_projections(const std::string& name, const std::vector<const LinearWeights*>& parts);

}  // namespace spikesim::sim
