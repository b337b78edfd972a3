#include "sim/site/synapse.hpp"

#include <vector>

#include "coding/event_stream.hpp"
#include "sim/site/raster.hpp"

namespace spikesim::sim {

std::int64_t Synapses::in() const {
  return linear != nullptr ? linear->in : conv->geometry.in_size();
}

std::int64_t Synapses::out() const {
  return linear != nullptr ? linear->out : conv->geometry.out_size();
}

const std::string& Synapses::name() const {
  return linear != nullptr ? linear->name : conv->name;
}

void run_site(const Synapses& s, std::span<const float> x, std::int64_t rows, const SiteConfig& config,
              std::span<float> y, SiteCounters& counters, const SiteRun& run) {
  const std::int64_t in = s.in();
  const std::int64_t out = s.out();
  CodedSite site;
  if (s.linear != nullptr) {
    const std::vector<std::int64_t> fanout(static_cast<std::size_t>(in), out);
    code_site(config, x, rows, in, fanout, s.linear->fanout_nonzero, out, run.what, site);
  } else {
    code_site(config, x, rows, in, s.conv->fanout_count, s.conv->fanout_nonzero, out, run.what, site);
  }
  add_spikes_per_input(site.coded, run.spikes_per_input);
  if (config.raster) config.raster->offer(run.site, site.coded, run.first_row);

  const bool reference = config.engine == Engine::reference;
  if (s.linear != nullptr) {
    if (reference) {
      event_forward_reference(*s.linear, coding::encode(site.coded), y);
    } else {
      event_forward(*s.linear, site.coded, y);
    }
  } else if (reference) {
    conv_event_forward_reference(*s.conv, coding::encode(site.coded), y);
  } else {
    conv_event_forward(*s.conv, site.coded, y);
  }

  SiteCounters& c = site.counters;
  const bool has_bias = s.linear != nullptr ? !s.linear->bias.empty() : !s.conv->bias.empty();
  c.bias_adds = has_bias ? c.tokens * static_cast<std::uint64_t>(out) : 0;
  if (s.linear != nullptr) {
    c.dense_macs = static_cast<std::uint64_t>(rows * in * out);
    c.dense_weight_words = static_cast<std::uint64_t>(s.linear->weight_count());
  } else {
    c.dense_macs = static_cast<std::uint64_t>(rows * s.conv->geometry.macs_per_sample());
    c.dense_weight_words = static_cast<std::uint64_t>(s.conv->weight_count());
  }
  if (config.measure_output_error) {
    std::vector<float> y_dense(y.size());
    if (s.linear != nullptr) {
      dense_forward(*s.linear, x, rows, y_dense);
    } else {
      conv_dense_forward(*s.conv, x, rows, y_dense);
    }
    add_output_error(y, y_dense, c);
  }
  counters += c;
}

}  // namespace spikesim::sim
