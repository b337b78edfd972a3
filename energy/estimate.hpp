#pragma once
// Energy as a pure function of activity counters, a hardware profile, the layer's shape and (for chips with a
// core layout) the mapping of the layer onto cores. Every term is a sum of count x constant, so the
// low/nominal/high range of each term uses the constants' low/nominal/high.
//
// spiking run (profile.spiking):
//   compute       sops·e_synop + graded_sops·e_synop_graded_extra + neuron updates (active/inactive)
//                 + (rescale + zero-point + uncoded MACs)·e_mac + (bias adds + element-wise ops)·e_add
//                 [all-in: sops·e_synop_all_in, nothing else]
//   weight_memory weight words read·e_weight_read, or, with the SRAM model, per word read
//                 E_sram(layer weights x weight_bits) (also one read per uncoded MAC and per bias add)
//   state_memory  (sops + postsynaptic updates)·(e_state_read + e_state_write), or with the SRAM model
//                 2 accesses x E_sram(out x state_bits)   (membrane read-modify-write per event and per step)
//   routing       spike packets·e_spike + hops·e_hop (E-W / N-S hops apart with e_hop_ew/e_hop_ns)
//                 + chip-boundary crossings·e_chip_hop; packets and hops come from the core mapping
//   static        p_static x chips x latency, latency = token_steps·t_step + per-core work time
//                 (sops·t_synop + neuron updates·t_neuron_update) / cores holding the layer
// dense run (profile.dense):
//   compute       dense MACs·e_mac + (bias adds + element-wise ops)·e_add
//   weight_memory weight bytes·e_weight_byte (per call, or per token for batch-1 decode), or with the SRAM
//                 model one word read per MAC + one bias read per output at E_sram(memory size)
//   state_memory  with the SRAM model: input reads (tokens x in) and output writes (tokens x out) at
//                 E_sram(activation memory)  (Lemaire et al. 2022, fully connected layer)
// dense run, measured profile (profile.dense_measured):
//   compute       dense MACs·e_mac(tokens per call): the measured all-in energy per MAC (compute, weight
//                 streaming, idle unless excluded; biases were part of the measured GEMMs), interpolated
//                 between the measured points in log(tokens per call) (geometric, i.e. a power law between
//                 neighbours), clamped at the end points; + element-wise ops·e_add when the profile has
//                 e_add_pj. Tokens per call: DenseContext (what the run does), else the layer's tokens /
//                 calls.
// E_sram(bits) = min(e_sram_base + e_sram_per_bit x bits, e_dram_access): Lemaire et al.'s least-squares fit
// to Horowitz's SRAM energies, capped by a DRAM access when the memory is too large for SRAM.
// Counters a profile has no constant for are listed in `uncharged`, never silently dropped.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/counters.hpp"
#include "energy/profile.hpp"

namespace spikesim::energy {

enum class Term { compute, weight_memory, state_memory, routing, static_power };
inline constexpr std::array<Term, 5> all_terms = {Term::compute, Term::weight_memory, Term::state_memory,
                                                  Term::routing, Term::static_power};
std::string_view name(Term term);

// How a run calls the dense projections, for profiles measured per tokens per call (dense.measured).
struct DenseContext {
  double tokens_per_call = 0;  // tokens (GEMM rows) per call of each layer; 0: not known (see dense_point())
};

// The measured operating point a dense estimate was priced at (reported beside the energy).
struct DensePoint {
  double tokens_per_call = 0;  // what the run does
  std::string basis;           // "run": from DenseContext; "counters": the layer's tokens / calls
  double measured_below = 0;   // tokens per call of the measured points interpolated between
  double measured_above = 0;   // (equal when it is a measured point or clamped to an end)
  bool clamped = false;        // outside the measured range: the end point's values
  Range e_mac_pj;              // interpolated energy per MAC
  Range e_weight_byte_pj;      // interpolated energy per weight byte
  bool operator==(const DensePoint&) const = default;
};

// The point at `tokens_per_call` (> 0): log-log interpolation between the neighbouring measured points, each
// of low / nominal / high on its own, clamped to the first / last point outside their range. basis is left
// empty.
DensePoint dense_point(const DenseMeasurement& measured, double tokens_per_call);

// What a run path passes as DenseContext::tokens_per_call (the rule):
//   run       teacher-forced: each layer runs once per forward pass over all tokens -> tokens / calls
//             (a run over N tokens in one pass: N)
//   generate  decode: one token per call -> 1 (the prompt's prefill is priced as decode too)
//   eval      a classifier over batches -> batch (images per call)
//   account   7B accounting, the dense run reads the weights once per chunk -> batch = the chunk (tokens
//   coded
//             at once), at most tokens
// Throws std::invalid_argument for eval / account without a batch, or a run without tokens.
enum class RunKind { run, generate, eval, account };
double tokens_per_call(RunKind kind, std::uint64_t tokens, std::uint64_t calls, std::uint64_t batch);

struct Breakdown {
  std::array<Range, 5> term_pj{};  // indexed by Term
  Range total_pj;
  Range latency_ns;                    // spiking run: simulated wall time on the hardware (0 if not modelled)
  std::vector<std::string> uncharged;  // counters with no constant in the profile
  std::vector<DensePoint> dense_points;  // measured dense side: the point(s) priced at (distinct, in order)
  [[nodiscard]] const Range& operator[](Term t) const { return term_pj.at(static_cast<std::size_t>(t)); }
};

struct Estimate {
  std::optional<Breakdown> spiking;
  std::optional<Breakdown> dense;
};

// Shape of the synaptic site the counters belong to; sizes the memories of the SRAM model. Zero: unknown.
struct LayerShape {
  std::int64_t in = 0;       // presynaptic neurons per token
  std::int64_t out = 0;      // postsynaptic neurons per token
  std::int64_t weights = 0;  // synapses stored
};

// Counts that come from mapping a layer onto the cores of a chip (energy/mapping.hpp) rather than from the
// simulator. Spike packets and hops may be fractional when they are averages over presynaptic neurons.
struct MappingCounts {
  bool mapped = false;        // false: no core mapping; hop and per-core timing terms are listed uncharged
  double spike_packets = 0;   // packets sent: one per spike and destination core (unicast) or per spike
  double hops_ew = 0;         // router hops travelled east-west, summed over packets
  double hops_ns = 0;         // router hops travelled north-south
  double chip_crossings = 0;  // hops that cross a chip boundary (already counted in hops_ew/hops_ns)
  std::int64_t source_cores = 0;  // cores holding the layer's presynaptic (coding) neurons
  std::int64_t target_cores = 0;  // cores holding its postsynaptic neurons and synapses
  std::int64_t chips = 0;         // chips powered while the layer runs (all chips of the network)
  [[nodiscard]] double hops() const { return hops_ew + hops_ns; }
};

Estimate estimate(const SiteCounters& counters, const HardwareProfile& profile,
                  const MappingCounts& mapping = {}, const LayerShape& shape = {},
                  const DenseContext& dense = {});

// Access energy of one word in a memory of `bits` capacity under a side's SRAM model; nullopt without one.
std::optional<Range> sram_access_pj(const Constants& side, double bits);

Breakdown& operator+=(Breakdown& a, const Breakdown& b);

}  // namespace spikesim::energy
