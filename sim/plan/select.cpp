#include "sim/plan/select.hpp"

#include <fnmatch.h>

#include <algorithm>

#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::sim {

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

namespace {

std::vector<std::string> split_items(const std::string& spec) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= spec.size()) {
    const std::size_t end = std::min(spec.find(',', start), spec.size());
    std::string item = spec.substr(start, end - start);
    while (!item.empty() && item.front() == ' ')
      item.erase(item.begin());
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty()) items.push_back(item);
    start = end + 1;
  }
  return items;
}

// The patterns a shorthand stands for (empty: not a shorthand).
std::vector<std::string> shorthand(const std::string& item) {
  if (item == "qkv") return {"*.attn_in"};
  if (item == "o") return {"*.attn_out"};
  if (item == "gateup") return {"*.mlp_in"};
  if (item == "down") return {"*.mlp_out"};
  if (item == "spikingbrain") return {"*.attn_in", "*.attn_out", "*.mlp_in", "*.attn_query", "*.la_out"};
  return {};
}

bool matches(const std::string& pattern, const Step& s) {
  if (glob_match(pattern, s.name)) return true;
  return std::any_of(s.members.begin(), s.members.end(),
                     [&](const std::string& m) { return glob_match(pattern, m); });
}

}  // namespace

void select_sites(Plan& plan, const SiteSelection& sel) {
  std::vector<Step*> sites;
  for (Step& s : plan.steps) {
    if (s.site_candidate()) sites.push_back(&s);
  }
  auto site_list = [&] {
    std::string known;
    for (const Step* s : sites)
      known += (known.empty() ? "" : ", ") + s->name;
    return known;
  };
  std::vector<bool> coded(sites.size(), false);
  auto apply_default = [&] {
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const Step& s = *sites[i];
      switch (plan.kind) {
        case PlanKind::network:
          coded[i] = !s.input_layer || sel.code_input_layer;
          break;
        case PlanKind::trace:
          coded[i] = true;
          break;
        case PlanKind::tokens: {
          const std::vector<std::string> patterns = shorthand("spikingbrain");
          coded[i] = std::any_of(patterns.begin(), patterns.end(),
                                 [&](const std::string& p) { return matches(p, s); });
          break;
        }
      }
    }
  };
  std::vector<std::string> items = split_items(sel.spec);
  if (items.empty() || items.front().front() == '!') items.insert(items.begin(), "default");
  for (const auto& name : sel.dense_sites) {
    const bool known =
        std::any_of(sites.begin(), sites.end(), [&](const Step* s) { return s->name == name; });
    if (!known) {
      throw models::ModelError(cat(plan.source, ": --dense-site '", name,
                                   "' is not a synaptic site of the model (sites: ", site_list(), ")"));
    }
  }
  for (const std::string& raw : items) {
    if (raw == "default") {
      apply_default();
      continue;
    }
    if (raw == "all" || raw == "none") {
      std::fill(coded.begin(), coded.end(), raw == "all");
      continue;
    }
    const bool exclude = raw.front() == '!';
    const std::string item = exclude ? raw.substr(1) : raw;
    std::vector<std::string> patterns = shorthand(item);
    if (patterns.empty()) patterns = {item};
    bool any = false;
    for (const auto& p : patterns) {
      for (std::size_t i = 0; i < sites.size(); ++i) {
        if (!matches(p, *sites[i])) continue;
        coded[i] = !exclude;
        any = true;
      }
    }
    if (!any) {
      throw models::ModelError(cat(plan.source, ": site selection '", raw,
                                   "' matches no synaptic site (sites: ", site_list(), ")"));
    }
  }
  for (const auto& name : sel.dense_sites) {
    for (std::size_t i = 0; i < sites.size(); ++i) {
      if (sites[i]->name == name) coded[i] = false;
    }
  }
  if (plan.kind == PlanKind::network && sel.code_input_layer) {
    // The shorthand adds the input layer to whatever the list selected (unless named dense).
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const bool dense =
          std::find(sel.dense_sites.begin(), sel.dense_sites.end(), sites[i]->name) != sel.dense_sites.end();
      if (sites[i]->input_layer && !dense) coded[i] = true;
    }
  }
  for (std::size_t i = 0; i < sites.size(); ++i)
    sites[i]->coded = coded[i];
}

}  // namespace spikesim::sim
