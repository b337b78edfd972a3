#pragma once
// Energy as a pure function of activity counters and a hardware profile. Every term is a sum of
// count x constant, so the low/nominal/high range of each term uses the constants' low/nominal/high.
//
// spiking run (profile.spiking):
//   compute       sops·e_synop + graded_sops·e_synop_graded_extra + neuron updates (active/inactive)
//                 + (rescale + zero-point + uncoded MACs)·e_mac + (bias adds + element-wise ops)·e_add
//                 [all-in: sops·e_synop_all_in]
//   weight_memory weight words read·e_weight_read
//   state_memory  (sops + neuron updates)·(e_state_read + e_state_write)   (membrane read-modify-write)
//   routing       spikes·e_spike (+ hops·e_hop once layers are mapped onto cores)
//   static        p_static·steps·t_step
// dense run (profile.dense):
//   compute       dense MACs·e_mac + bias adds·e_add + element-wise ops·e_add
//   weight_memory weight bytes·e_weight_byte (per call, or per token for batch-1 decode)
// Counters a profile has no constant for are listed in `uncharged`, never silently dropped.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "energy/profile.hpp"
#include "sim/counters.hpp"

namespace spikesim::energy {

enum class Term { compute, weight_memory, state_memory, routing, static_power };
inline constexpr std::array<Term, 5> all_terms = {Term::compute, Term::weight_memory, Term::state_memory,
                                                  Term::routing, Term::static_power};
std::string_view name(Term term);

struct Breakdown {
  std::array<Range, 5> term_pj{};  // indexed by Term
  Range total_pj;
  std::vector<std::string> uncharged;  // counters with no constant in the profile
  [[nodiscard]] const Range& operator[](Term t) const { return term_pj.at(static_cast<std::size_t>(t)); }
};

struct Estimate {
  std::optional<Breakdown> spiking;
  std::optional<Breakdown> dense;
};

// Extra counts that come from mapping a network onto hardware rather than from the simulator.
struct MappingCounts {
  std::uint64_t spike_hops = 0;  // sum over spikes of router hops travelled
  bool mapped = false;           // false: no core mapping, hop energy is reported as uncharged
};

Estimate estimate(const sim::SiteCounters& counters, const HardwareProfile& profile,
                  const MappingCounts& mapping = {});

Breakdown& operator+=(Breakdown& a, const Breakdown& b);

}  // namespace spikesim::energy
