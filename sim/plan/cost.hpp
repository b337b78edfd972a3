#pragma once
// The cost table of ops a spiking run leaves dense: what one call of a step costs when it runs densely (the
// same in the dense and the spiking run), as counters: dense and uncoded MACs, element-wise ops, weights
// read, bias adds. The synaptic sites' spiking costs are counted by the site driver instead
// (sim/site/synapse.hpp). README "Counting rules" states the table.

#include <cstdint>
#include <vector>

#include "base/counters.hpp"
#include "sim/plan/plan.hpp"

namespace spikesim::sim {

// Token plans: the positions of a call's rows: first, first + 1, ..., starting again at 0 after `sequence`
// positions (0: never; the accounting's back-to-back sequences).
struct Positions {
  std::int64_t first = 0;
  std::int64_t sequence = 0;
};

// One call of `step` over `rows` rows (network plans: samples; token plans: tokens at `positions`:
// attention's work is the keys each row attends, ops::attended_keys, within its sliding window if any).
SiteCounters dense_cost(const Plan& plan, const Step& step, std::int64_t rows, Positions positions = {});

// Sum over the rows at `positions` of the keys each attends (window 0: position + 1), and each row's.
std::uint64_t attended_sum(Positions positions, std::int64_t rows, std::int64_t window);
std::vector<std::int64_t> attended_per_row(Positions positions, std::int64_t rows, std::int64_t window);

// The dense side of a coded attention query (SpikingBrain's SWA query site; the events are counted by
// sim/site count_query_events): the dense run's q.k and p.v MACs (dense_macs), of which p.v stays dense in
// the spiking run (uncoded_macs), the softmax (3 per head and key) and the INT8 fake quantisation of the new
// keys and values (absmax, divide-round-clamp, multiply: 3 per value) as element-wise ops.
SiteCounters coded_attention_cost(const AttentionStep& attention, std::int64_t rows, Positions positions);

}  // namespace spikesim::sim
