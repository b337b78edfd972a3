#pragma once
// Which synaptic sites are spike-coded: one vocabulary for every model kind (the CLI's --sites, the Python
// probe's `sites`).
//
// A selection is a comma-separated list of items, applied in order to the set of coded sites:
//   PATTERN    code the sites whose name, or the name of one of their projections, matches the glob PATTERN
//              (`*`, `?`, `[...]`, as in shell file names): e.g. `*.attn_in`, `layers.1?.*`, `*.q_proj`,
//              `/features/*/Conv`
//   !PATTERN   leave those sites dense
//   default    the model kind's default (below)
//   all, none  every synaptic site / no site
//   qkv, o, gateup, down   decoder LLM shorthands: `*.attn_in` (input of q|k|v), `*.attn_out` (input of o),
//                          `*.mlp_in` (input of gate|up), `*.mlp_out` (input of down)
//   spikingbrain           SpikingBrain-7B's released set: qkv, o, gateup (down_proj stays dense), and on
//                          GLAswa checkpoints the SWA query after RoPE (`*.attn_query`, per token and head),
//                          on SpikingBrain-76B configs also the linear branch's o input (`*.la_out`)
// A list that starts with an exclusion starts from the default. A pattern that matches no site is an error
// naming it and listing the sites.
// Defaults: decoder LLMs: spikingbrain; ONNX / Keras networks: every site except the input layer (the sites
// fed by the raw input through non-synaptic ops only, which SNN conversions keep analog; add them with
// `code_input_layer`); traces: every layer.

#include <string>
#include <vector>

#include "sim/plan/plan.hpp"

namespace spikesim::sim {

struct SiteSelection {
  std::string spec = "default";
  bool code_input_layer = false;         // network plans: also code the input layer (shorthand)
  std::vector<std::string> dense_sites;  // shorthand for "!NAME" items (exact names)
};

// Sets step.coded on every synaptic step of the plan. ModelError naming the plan's source and the item.
void select_sites(Plan& plan, const SiteSelection& selection);

// shell-style glob match of `name` against `pattern` (`*`, `?`, `[...]`).
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace spikesim::sim
