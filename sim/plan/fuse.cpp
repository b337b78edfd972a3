#include "sim/plan/fuse.hpp"

#include <algorithm>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <map>

namespace spikesim::sim {

namespace {

// Returns free heap pages to the system (glibc keeps freed chunks below its dynamic mmap threshold, up to
// 32 MiB, resident in the heap, so the peak RSS of lowering a model would keep every freed copy).
void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

LinearWeights concat_projections(const std::string& name, const std::vector<const LinearWeights*>& parts) {
  LinearWeights w;
  w.name = name;
  w.in = parts.front()->in;
  for (const LinearWeights* p : parts)
    w.out += p->out;
  const auto in = static_cast<std::size_t>(w.in);
  const auto out = static_cast<std::size_t>(w.out);
  // The fused layer keeps the parts' dtype when they share one, else widens to F32; shape-only parts fuse
  // into a shape-only layer.
  const bool values = !parts.front()->shape_only();
  const bool same_type =
      std::all_of(parts.begin(), parts.end(), [&](const auto* p) { return p->type == parts.front()->type; });
  w.type = same_type ? parts.front()->type : WeightType::f32;
  const bool narrow = values && w.type != WeightType::f32;
  if (values) {
    if (narrow) {
      w.fanout16.assign(in * out, 0);
    } else {
      w.fanout.assign(in * out, 0.0F);
    }
    w.row_sum.assign(out, 0.0F);
  }
  w.fanout_nonzero.assign(in, 0);
  const bool any_bias =
      std::any_of(parts.begin(), parts.end(), [](const auto* p) { return !p->bias.empty(); });
  if (any_bias) w.bias.assign(out, 0.0F);
  std::size_t o0 = 0;
  for (const LinearWeights* p : parts) {
    const auto n = static_cast<std::size_t>(p->out);
    for (std::size_t j = 0; j < in; ++j) {
      if (narrow) {
        std::copy_n(p->fanout16.data() + j * n, n, w.fanout16.data() + j * out + o0);
      } else if (values) {
        for (std::size_t o = 0; o < n; ++o)
          w.fanout[j * out + o0 + o] = p->weight(j, o);
      }
      w.fanout_nonzero[j] += p->fanout_nonzero[j];
    }
    if (values)
      std::copy(p->row_sum.begin(), p->row_sum.end(), w.row_sum.begin() + static_cast<std::ptrdiff_t>(o0));
    if (!p->bias.empty())
      std::copy(p->bias.begin(), p->bias.end(), w.bias.begin() + static_cast<std::ptrdiff_t>(o0));
    o0 += n;
  }
  return w;
}

void fuse_shared_inputs(Plan& plan) {
  // Linear steps by the value they read, in execution order.
  std::map<int, std::vector<std::size_t>> readers;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    if (s.kind() == StepKind::linear) readers[s.in[0]].push_back(i);
  }
  std::vector<bool> removed(plan.steps.size(), false);
  for (const auto& [value, group] : readers) {
    Step& first = plan.steps[group.front()];
    if (group.size() > 1) {
      std::vector<const LinearWeights*> parts;
      Step fused = first;
      fused.members.clear();
      fused.out.clear();
      auto& lin = fused.as<LinearStep>();
      lin.out_widths.clear();
      bool same_site = !first.site.empty();
      for (const std::size_t i : group) {
        const Step& m = plan.steps[i];
        parts.push_back(m.as<LinearStep>().weights.get());
        fused.members.insert(fused.members.end(), m.members.begin(), m.members.end());
        fused.out.insert(fused.out.end(), m.out.begin(), m.out.end());
        lin.out_widths.push_back(m.as<LinearStep>().weights->out);
        same_site = same_site && m.site == first.site;
        if (i != group.front()) {
          fused.macs_per_row += m.macs_per_row;
          fused.out_per_row += m.out_per_row;
          fused.weights += m.weights;
          removed[i] = true;
        }
      }
      std::string name = first.site;
      if (!same_site) {
        name.clear();
        for (const auto& m : fused.members)
          name += (name.empty() ? "" : "|") + m;
      }
      fused.name = name;
      lin.weights = std::make_shared<LinearWeights>(concat_projections(name, parts));
      first = std::move(fused);
      // The projections' own copies go now, not with their steps at the end: a 7B model's unfused k, v and
      // up projections would otherwise all be held beside the fused ones (BENCHMARKS.md §6: 1.29x the weight
      // file at peak). Their heap pages are handed back to the system at once.
      for (const std::size_t i : group) {
        if (i != group.front()) plan.steps[i].as<LinearStep>().weights.reset();
      }
      release_free_heap();
    } else if (!first.site.empty()) {
      first.name = first.site;
      first.as<LinearStep>().weights->name = first.site;
    }
  }
  std::vector<Step> kept;
  kept.reserve(plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(plan.steps[i]));
  }
  plan.steps = std::move(kept);
}

}  // namespace spikesim::sim
