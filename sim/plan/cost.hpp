#pragma once
// The cost table of ops a spiking run leaves dense: what one call of a step costs when it runs densely (the
// same in the dense and the spiking run), as counters: dense and uncoded MACs, element-wise ops, weights
// read, bias adds. The synaptic sites' spiking costs are counted by the site driver instead
// (sim/site/synapse.hpp). README "Counting rules" states the table.

#include <cstdint>

#include "base/counters.hpp"
#include "sim/plan/plan.hpp"

namespace spikesim::sim {

// One call of `step` over `rows` rows (network plans: samples; token plans: tokens). context_sum: token
// plans, the positions the rows attend to, summed (sum over rows of position + 1; attention's work).
SiteCounters dense_cost(const Plan& plan, const Step& step, std::int64_t rows, std::uint64_t context_sum);

// Sum over rows at positions pos0 .. pos0 + rows - 1 of (position + 1).
std::uint64_t context_sum(std::int64_t pos0, std::int64_t rows);

}  // namespace spikesim::sim
